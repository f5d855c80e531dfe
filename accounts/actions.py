from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import apikeys
from .models import ApiKey, Profile


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


def do_create_api_key(user, name: str, expires_at=None) -> tuple[ApiKey, str]:
    """A new API key for `user`: the stored row, and the key itself, which is shown once and never kept."""
    key, prefix, digest = apikeys.new_key()
    api_key = ApiKey.objects.create(user=user, name=name, prefix=prefix, digest=digest, expires_at=expires_at)
    return api_key, key


def do_revoke_api_key(api_key: ApiKey) -> bool:
    """Revoke the key from now on; False if it was already revoked. The row stays, so that a call with it is told
    why it is refused and the list shows when it was revoked."""
    return bool(ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()))


class AccountDeletionRefused(ValueError):
    """An account that cannot be deleted now; the message says why, to its owner."""


@transaction.atomic
def do_delete_account(user) -> None:
    """Delete `user` and everything that is theirs: photos, predictions, feedback, settings, API tokens and keys,
    webhooks (every row that points at them with CASCADE); the stored files go once the deletion commits
    (django-cleanup), as on every other deletion path. What an administrator made for everyone (datasets,
    trainings, review decisions) stays, no longer naming them. The last active superuser is refused: the site
    would have no one left to run it."""
    if user.is_superuser:
        superusers = get_user_model().objects.select_for_update().filter(is_superuser=True, is_active=True)
        if not superusers.exclude(pk=user.pk).exists():
            raise AccountDeletionRefused(
                "You are the site's last administrator: make another account a superuser first, then delete this one."
            )
    user.delete()
