from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .datasets import INGEST_TIME_LIMIT_SECONDS, Collection, delete_files
from .files import file_sha256
from .models import Dataset, DatasetImage, ModelVersion


@transaction.atomic
def do_register_model_version(
    *,
    name: str,
    model_path: Path,
    architecture: str,
    class_names: list[str],
    image_size: int,
    params: dict,
    metrics: dict,
    summary: str,
    dataset: Dataset | None = None,
    activate: bool = False,
) -> ModelVersion:
    """Store a trained `.keras` file through the storage API and record it as a ready version."""
    version = ModelVersion(
        name=name,
        status=ModelVersion.Status.READY,
        architecture=architecture,
        class_names=list(class_names),
        image_size=image_size,
        params=params,
        metrics=metrics,
        test_accuracy=metrics.get("accuracy"),
        summary=summary,
        dataset=dataset,
        file_sha256=file_sha256(model_path),
        trained_at=timezone.now(),
    )
    with open(model_path, "rb") as f:
        version.file.save(f"{name}-{version.file_sha256[:12]}.keras", File(f), save=False)
    version.save()
    if activate:
        do_activate_model_version(version)
    return version


@transaction.atomic
def do_activate_model_version(version: ModelVersion) -> None:
    """Make `version` the one every worker answers with; the database keeps it the only active one."""
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.save(update_fields=["is_active"])


# --- Datasets -------------------------------------------------------------------------------------------


def _enqueue_ingestion(dataset_id: int) -> None:
    from .tasks import enqueue_ingest_dataset  # tasks imports this module

    enqueue_ingest_dataset(dataset_id)


def do_create_dataset(dataset: Dataset, *, archive: UploadedFile | None = None) -> Dataset:
    """Save a new dataset, its archive (for a zip) in storage, and ask a worker to check it once the row
    is committed. `dataset` names its source: `archive` for a zip, `path` for a folder, `urls` for URLs."""
    given = {
        Dataset.Source.ZIP: archive is not None,
        Dataset.Source.FOLDER: bool(dataset.path),
        Dataset.Source.URLS: bool(dataset.urls),
    }
    if [source for source, present in given.items() if present] != [dataset.source]:
        raise ValueError(f"A {dataset.get_source_display().lower()} dataset needs that source, and no other.")
    try:
        with transaction.atomic():
            dataset.save()
            if archive is not None:
                dataset.archive.save("archive.zip", archive)
            transaction.on_commit(lambda: _enqueue_ingestion(dataset.pk))
    except BaseException:
        if dataset.archive.name:
            dataset.archive.storage.delete(dataset.archive.name)  # the row was rolled back: no orphan
        raise
    return dataset


def do_recheck_dataset(dataset: Dataset) -> bool:
    """Send a dataset back to a worker (its source may have changed, or the last check failed); False if a
    worker is checking it right now. Its images stay until the new check replaces them."""
    stuck = timezone.now() - timedelta(seconds=INGEST_TIME_LIMIT_SECONDS)
    recheckable = ~Q(status=Dataset.Status.PROCESSING) | Q(started_at__lt=stuck)
    with transaction.atomic():
        updated = Dataset.objects.filter(recheckable, pk=dataset.pk).update(
            status=Dataset.Status.PENDING, error="", attempts=0, started_at=None, finished_at=None
        )
        if updated:
            transaction.on_commit(lambda: _enqueue_ingestion(dataset.pk))
    return bool(updated)


def do_finish_ingestion(dataset_id: int, claimed_at, collection: Collection) -> bool:
    """Make what `collection` gathered the dataset's content, if this run still holds the dataset
    (claimed at `claimed_at`); files of the previous content that are no longer used are deleted."""
    with transaction.atomic():
        finished = Dataset.objects.filter(
            pk=dataset_id, status=Dataset.Status.PROCESSING, started_at=claimed_at
        ).update(
            status=Dataset.Status.READY,
            error="",
            class_names=collection.class_names,
            content_sha256=collection.content_sha256,
            report=collection.report(),
            finished_at=timezone.now(),
        )
        if not finished:
            return False
        previous = _replace_images(dataset_id, list(collection.images.values()))
        transaction.on_commit(lambda: delete_files(previous - collection.stored))
    return True


def do_fail_ingestion(dataset_id: int, claimed_at, error: str, collection: Collection) -> bool:
    """Record why the dataset cannot be used, if this run still holds it; a failed dataset holds no images."""
    with transaction.atomic():
        failed = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PROCESSING, started_at=claimed_at).update(
            status=Dataset.Status.FAILED,
            error=error,
            class_names=[],
            content_sha256="",
            report=collection.report(),
            finished_at=timezone.now(),
        )
        if not failed:
            return False
        previous = _replace_images(dataset_id, [])
        transaction.on_commit(lambda: delete_files(previous | collection.stored))
    return True


def _replace_images(dataset_id: int, images: list[DatasetImage]) -> set[str]:
    """Swap the dataset's image rows for `images`; returns the storage names the old rows used."""
    old = DatasetImage.objects.filter(dataset_id=dataset_id)
    names = {name for pair in old.values_list("file", "thumbnail") for name in pair if name}
    old.delete()
    DatasetImage.objects.bulk_create(images, batch_size=500)
    return names


def do_delete_dataset(dataset: Dataset) -> None:
    """Delete the dataset and its images, then their files once the deletion is committed."""
    with transaction.atomic():
        names = {dataset.archive.name}
        names.update(name for pair in dataset.images.values_list("file", "thumbnail") for name in pair)
        dataset.delete()
        transaction.on_commit(lambda: delete_files(names))
