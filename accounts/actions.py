from django.db import transaction
from django.utils import timezone

from .models import Profile


@transaction.atomic
def do_set_corrections_consent(user, allowed: bool) -> bool:
    """Record whether `user`'s corrected photos may be used to improve the model, and when that last changed;
    True if it changed (saving the same choice again keeps the time it was made)."""
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    if profile.corrections_may_be_used == allowed:
        return False
    profile.corrections_may_be_used = allowed
    profile.corrections_changed_at = timezone.now()
    profile.save(update_fields=["corrections_may_be_used", "corrections_changed_at"])
    return True
