from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .apikeys import KEY_START


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


class ApiKey(models.Model):
    """A key its owner made on the site to call the REST API (accounts/apikeys.py). The key itself is shown once,
    when it is made; only its prefix (to find it) and a SHA-256 digest of the whole key (to check it) are kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once a minute (accounts/authentication.py): a call is not a write.
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def masked(self) -> str:
        """How the key is shown once made: its start, never its secret."""
        return f"{KEY_START}{self.prefix}_…"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
