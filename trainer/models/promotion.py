"""The evidence a version is made the active one on: measurements on a test set, and each activation."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .datasets import Dataset
from .versions import ModelVersion


class Measurement(models.Model):
    """A version measured on the photos of a dataset after its training, to compare it with another version on
    the same photos (trainer/actions/promotion.py); its answers are TestPhotoResult rows of its `test_sha256`."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="measurements")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    test_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    accuracy = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.version} on {self.dataset or self.test_sha256[:12]}"


class Activation(models.Model):
    """Who made a version the active one, when, and on what evidence: by hand, confirmed, or automatically."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="activations")
    previous = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    automatic = models.BooleanField(default=False)
    confirmed = models.BooleanField(default=False, help_text="Activated over a warning the admin confirmed.")
    reason = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True, help_text="The comparison it was activated on.")
    activated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-activated_at", "-id"]

    def __str__(self):
        return f"{self.version} activated {self.activated_at:%Y-%m-%d %H:%M}"
