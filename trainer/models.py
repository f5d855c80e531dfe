from django.conf import settings
from django.db import models


class Dataset(models.Model):
    """A labelled image collection: one sub-folder per class."""

    name = models.CharField(max_length=200, unique=True)
    path = models.CharField(
        max_length=500, blank=True, help_text="A folder on the server with one sub-folder per class."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


def _model_upload_to(version: "ModelVersion", filename: str) -> str:
    return f"models/{filename}"


class ModelVersion(models.Model):
    """One trained model: its file, what it knows, how it was made and how well it scored."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Architecture(models.TextChoices):
        MOBILENET_V2 = "mobilenet_v2", "MobileNetV2 (transfer learning)"
        SIMPLE_CNN = "simple_cnn", "Simple CNN (from scratch)"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    architecture = models.CharField(max_length=20, choices=Architecture.choices)
    file = models.FileField(upload_to=_model_upload_to, blank=True, max_length=300)
    file_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    class_names = models.JSONField(default=list)
    image_size = models.PositiveIntegerField(default=224)
    params = models.JSONField(default=dict, blank=True, help_text="Every training setting, seed included.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Test metrics: per class, confusion matrix, curves.")
    test_accuracy = models.FloatField(null=True, blank=True)
    summary = models.TextField(blank=True, help_text="model.summary() of the trained network.")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="versions")
    is_active = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="trainer_single_active_version"
            ),
        ]

    def __str__(self):
        return f"{self.name} (#{self.pk})" if self.pk else self.name
