from django.conf import settings
from django.db import models
from django.db.models import Q


class Profile(models.Model):
    """A person's settings on the site. Created the first time they save one (accounts.actions): a page that
    only shows the settings writes nothing, and a person without a profile has every setting at its default."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # Off unless its owner turns it on: only then may an administrator, after review, add the photos they
    # corrected to a training dataset.
    corrections_may_be_used = models.BooleanField("My corrected photos may be used to improve the model", default=False)
    # When corrections_may_be_used last changed; None while it has never been changed (off, the default).
    corrections_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Settings of {self.user}"


def may_use_corrections(user) -> bool:
    """Whether `user` has allowed the photos they corrected to become training data (off by default)."""
    return Profile.objects.filter(user=user, corrections_may_be_used=True).exists()


def allows_corrections(user_field: str) -> Q:
    """A filter on rows whose `user_field` (say "owner") has allowed their corrected photos to be used."""
    return Q(**{f"{user_field}__profile__corrections_may_be_used": True})
