"""Model versions: one trained model each, the files made from it, the photos it was trained on and how it
answered its test photos."""

from django.conf import settings
from django.db import models

from .. import ml
from . import _model_upload_to
from .datasets import Dataset


class ModelVersion(models.Model):
    """One trained model: its file, what it knows, how it was made and how well it scored."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Architecture(models.TextChoices):
        MOBILENET_V2 = ml.MOBILENET_V2, "MobileNetV2 (transfer learning)"
        SIMPLE_CNN = ml.SIMPLE_CNN, "Simple CNN (from scratch)"

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
    dataset_sha256 = models.CharField(
        "dataset content hash", max_length=64, blank=True, help_text="The dataset's content hash when it trained."
    )
    test_dataset = models.ForeignKey(
        Dataset,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Measured on this dataset; without one, on a held-out share of the training dataset.",
    )
    test_sha256 = models.CharField(
        "test photos hash",
        max_length=64,
        blank=True,
        db_index=True,
        help_text="SHA-256 over the (class, image SHA-256) pairs it was measured on: equal hashes, same test.",
    )
    is_active = models.BooleanField(default=False)
    # "none of these" and "not sure" (trainer/ml/verdicts.py): fitted on the training photos when the version
    # is trained, measured on its test photos (and on `outlier_dataset`, photos of none of its classes).
    # A version without a calibration answers every photo with a class.
    calibration = models.FileField(upload_to=_model_upload_to, blank=True, max_length=300)
    calibration_sha256 = models.CharField(max_length=64, blank=True)
    calibration_report = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per operating point: its thresholds and the shares measured on held-out photos.",
    )
    operating_point = models.CharField(
        max_length=20,
        choices=[(name, name.capitalize()) for name in ml.OPERATING_POINTS],
        default=ml.DEFAULT_OPERATING_POINT,
    )
    operating_point_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operating_point_set_at = models.DateTimeField(null=True, blank=True)
    outlier_dataset = models.ForeignKey(
        Dataset,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text='Photos of none of the version\'s classes, to measure how many it answers "none of these".',
    )
    # Training photos dropped as near-duplicates of test photos (train/test leakage); None before this was checked.
    leakage_dropped = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)

    # A training in the background (trainer/tasks.py): who runs it, how far it is, whether to stop.
    # One form submission makes at most one version: a second post of the same form finds this key.
    request_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    # The training worker writes it every few seconds; one that stops writing has died (see
    # actions.do_fail_stale_trainings), so no version stays "running" for ever.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="The worker process that trained it.")
    progress = models.JSONField(default=dict, blank=True, help_text="Phase, epoch, loss and accuracy so far.")
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="trainer_single_active_version"
            ),
            models.CheckConstraint(
                condition=~models.Q(is_active=True) | models.Q(status="ready"),
                name="trainer_active_version_is_ready",
            ),
        ]
        permissions = [
            ("train_modelversion", "Can train a new model version"),
            ("activate_modelversion", "Can activate a model version"),
        ]

    def __str__(self):
        return f"{self.name} (#{self.pk})" if self.pk else self.name

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ModelExport(models.Model):
    """A file made from a version's `.keras` at training time (trainer/ml/export.py), checked against Keras.

    The serving kinds are what prediction workers load, through one engine each (trainer/engines/): pixels
    (n, size, size, 3) uint8 in, "probabilities", "features" and "feature_maps" out, and the head's weights
    for the heatmap. The download kinds are for users: an RGB uint8 image of any size in, probabilities out.
    `max_difference` is the largest difference from Keras's probabilities over `photos_checked` of the
    version's test photos; an export whose top answer differs on any of them, or whose probabilities differ
    by more than trainer.ml.export.TOLERANCE, is FAILED and says why in `error`.
    """

    class Kind(models.TextChoices):
        SERVING_TFLITE = "serving_tflite", "LiteRT model (serving)"
        SERVING_ONNX = "serving_onnx", "ONNX model (serving)"
        SERVING_HEAD = "serving_head", "Head weights (serving heatmaps)"
        KERAS = "keras", "Keras download (.keras in a .zip)"
        SAVEDMODEL = "savedmodel", "TensorFlow SavedModel download (.zip)"
        TFLITE = "tflite", "TFLite download (.tflite in a .zip)"
        ONNX = "onnx", "ONNX download (.onnx in a .zip)"

    # The files users download, made when an administrator asks (trainer/tasks.py make_downloads).
    DOWNLOADS = (Kind.KERAS, Kind.SAVEDMODEL, Kind.TFLITE, Kind.ONNX)

    class Status(models.TextChoices):
        PENDING = "pending", "Being made"  # a download asked for, not made yet
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    file = models.FileField(upload_to=_model_upload_to, blank=True, max_length=300)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    photos_checked = models.PositiveIntegerField(null=True, blank=True)
    max_difference = models.FloatField(null=True, blank=True)
    top1_disagreements = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version", "kind"]
        constraints = [models.UniqueConstraint(fields=["version", "kind"], name="trainer_model_export_unique")]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.version}"


class TrainedPhoto(models.Model):
    """One photo a version was trained on, by content: whether a test set is new to a version is a query."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="trained_photos")
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "sha256"], name="trainer_trained_photo_unique")]
        indexes = [models.Index(fields=["sha256"], name="trainer_trainedphoto_sha256")]

    def __str__(self):
        return f"{self.sha256[:12]} trained {self.version}"


class TestPhotoResult(models.Model):
    """How a version answered one of its test photos: the rows behind each cell of its confusion matrix, and
    the paired answers two versions are compared on. `test_sha256` names the photo set: the version's own test
    photos (its test_sha256) or a Measurement's."""

    __test__ = False  # a model, not a test class, whatever pytest makes of its name

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="test_results")
    test_sha256 = models.CharField(max_length=64, blank=True)
    # The photo, found by content among the datasets catdog keeps; the shipped model's photos are not kept.
    sha256 = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=300, help_text="The photo's file name when it was measured.")
    true_label = models.CharField(max_length=64)
    predicted_label = models.CharField(max_length=64)
    verdict = models.CharField(max_length=64, blank=True)
    confidence = models.FloatField()
    probabilities = models.JSONField(default=dict)
    # The class activation map of the predicted class, a few cells a side, 0..255 row by row (trainer/ml/heatmaps.py).
    heatmap = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-confidence", "id"]
        indexes = [
            models.Index(fields=["version", "true_label", "predicted_label"], name="trainer_testresult_cell"),
            models.Index(fields=["version", "test_sha256", "sha256"], name="trainer_testresult_set"),
        ]

    def __str__(self):
        return f"{self.name}: {self.true_label} answered {self.predicted_label}"
