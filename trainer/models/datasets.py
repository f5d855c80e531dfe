"""Datasets: labelled photos an administrator brought in, and each photo of them."""

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_cleanup import cleanup

from . import _dataset_archive_upload_to


class Dataset(models.Model):
    """A labelled image collection, checked by a worker (trainer/tasks.py) and kept in storage.

    The images it holds are its DatasetImage rows; `materialize()` in trainer/datasets/ writes them
    out as one sub-folder per class for training.
    """

    class Source(models.TextChoices):
        ZIP = "zip", "Zip archive"
        FOLDER = "folder", "Folder on the server"
        URLS = "urls", "Image URLs"
        VERSION = "version", "New version of another dataset"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    path = models.CharField(
        "server folder",
        max_length=500,
        blank=True,
        help_text="A folder on the server with one sub-folder per class, or files named like cat.0.jpg.",
    )
    archive = models.FileField(upload_to=_dataset_archive_upload_to, blank=True, max_length=300)
    urls = models.JSONField(default=list, blank=True, help_text="[url, label] pairs to download.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    class_names = models.JSONField(default=list, blank=True)
    content_sha256 = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="SHA-256 over the sorted (class, image SHA-256) pairs."
    )
    report = models.JSONField(default=dict, blank=True)
    # A dataset version (source "version") is frozen: its parent's images, with the lineage's test split
    # inherited unchanged, plus the photos accepted from the review queue (`added`: per-class counts, the
    # predictions they came from). Its images never change; a parent with versions cannot be deleted.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    added = models.JSONField(default=dict, blank=True, help_text="What this version added to its parent.")
    # Read on the lineage's root: a training of the lineage that ends significantly better than the active
    # version, on the same photos, is activated (trainer/actions/promotion.py).
    auto_promote = models.BooleanField(
        "promote automatically",
        default=False,
        help_text="Activate a version trained on this lineage when it is significantly better than the active one.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a worker claims the dataset; the worker's final write names it, so that a stale delivery
    # of the task cannot overwrite the result of a newer one.
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Workers that started checking it.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="ready") | ~models.Q(content_sha256=""),
                name="trainer_dataset_ready_has_hash",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def lineage(self) -> list["Dataset"]:
        """The chain of datasets from its lineage's first one to itself (itself alone, for a dataset that is no
        version of another): one query per generation above its parent."""
        chain = [self]
        while chain[-1].parent_id is not None:
            chain.append(chain[-1].parent)
        return chain[::-1]

    @property
    def root(self) -> "Dataset":
        """The first dataset of its lineage (itself, for a dataset that is no version of another)."""
        return self.lineage[0]

    @property
    def has_frozen_split(self) -> bool:
        """Whether its images carry the lineage's frozen test split (every dataset version does)."""
        return self.images.exclude(split="").exists()


@cleanup.ignore  # its files may outlive the row: see _delete_unused_image_files
class DatasetImage(models.Model):
    """One accepted image of a dataset, stored under datasets/<dataset id>/<label>/<sha256>.<ext>."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    label = models.CharField(max_length=64)
    # Both are named by trainer/datasets/collection.py (datasets/<id>/<label>/<sha256>.<ext>), never by upload_to.
    file = models.FileField(max_length=300)
    # Only the first few images of each class have one: the samples the admin page shows.
    thumbnail = models.FileField(blank=True, max_length=300)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    origin = models.TextField(blank=True, help_text="The archive entry, file or URL it came from.")
    # The lineage's frozen split: "test" photos measure every version trained in the lineage, "train" ones
    # train; "" for a dataset that is no version (training holds out a seeded share of it, trainer/ml/data.py).
    split = models.CharField(max_length=5, blank=True, choices=[("train", "Train"), ("test", "Test")])
    # Perceptual hashes (64-bit DCT hash, hex) of the image and of its mirror image, for near-duplicates.
    phash = models.CharField(max_length=16, blank=True)
    phash_mirror = models.CharField(max_length=16, blank=True)
    # Its difference hashes (horizontal, then vertical: 2 × 64 bits, hex) and those of its mirror image: with
    # the DCT hash, the fingerprint that finds cropped copies too (trainer/near_duplicates.py).
    dhash = models.CharField(max_length=32, blank=True)
    dhash_mirror = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["label", "id"]
        constraints = [
            # Exact duplicates are kept once per dataset, whatever class they were filed under.
            models.UniqueConstraint(fields=["dataset", "sha256"], name="trainer_dataset_image_unique_content"),
        ]
        indexes = [
            models.Index(fields=["dataset", "label"], name="trainer_dsimage_dataset_label"),
            # A dataset version's rows name its parent's files: a file is in use while any row of its content is.
            models.Index(fields=["sha256"], name="trainer_dsimage_sha256"),
        ]

    def __str__(self):
        return f"{self.label}/{self.sha256[:12]}"


@receiver(post_delete, sender=DatasetImage)
def _delete_unused_image_files(sender, instance: DatasetImage, using, **kwargs):
    """A deleted image's files go once the deletion commits, as django-cleanup does for every other file,
    unless a row still uses them.

    Image files are named by their content, not by their row: checking a dataset again replaces its rows
    by new ones that take over the files of the same content (trainer/actions/datasets.py `_replace_images`).
    Only a row with the same content can name the same file (a dataset version's rows name its parent's
    files), and the index on sha256 makes that question one index lookup.
    """
    names = {name for name in (instance.file.name, instance.thumbnail.name) if name}

    def delete_unused() -> None:
        same_content = DatasetImage.objects.using(using).filter(sha256=instance.sha256)
        still_used = {name for pair in same_content.values_list("file", "thumbnail") for name in pair}
        for name in names - still_used:
            instance.file.storage.delete(name)

    transaction.on_commit(delete_unused, using=using)
