"""Datasets: created and sent to a worker, claimed and finished or failed by the check, and failed by the
sweep when no worker is on them any more."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..datasets import INGEST_TIME_LIMIT_SECONDS, Collection
from ..files import delete_files
from ..models import Dataset, DatasetImage
from .enqueue import enqueue


def _enqueue_ingestion(dataset_id: int) -> None:
    enqueue("ingest_dataset", dataset_id)


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
        delete_files([dataset.archive.name])  # the row was rolled back: no orphan
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


def _stuck_check_seconds() -> int:
    """A dataset still being checked after this long has no worker on it and none coming: its run hit the
    hard time limit, and the broker would have handed its message out again by now (a redelivery takes
    the check over, see trainer/tasks.py). Only a lost message or a hard kill leaves it so."""
    redelivered_after = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 0)
    return max(INGEST_TIME_LIMIT_SECONDS, redelivered_after) + 60


def do_fail_stuck_datasets() -> int:
    """Fail every dataset left being checked with no worker on it, saying why and what to do; returns how
    many. Failed rather than sent again: a check that ran into its hard time limit would run into it again."""
    seconds = _stuck_check_seconds()
    error = (
        f"The check stopped without a result: no worker has been on it for over {seconds // 60} minutes (its "
        "worker was stopped at the time limit, or the task was lost). Use “Check again” to send it once more."
    )
    stuck = Dataset.objects.filter(
        status=Dataset.Status.PROCESSING, started_at__lt=timezone.now() - timedelta(seconds=seconds)
    )
    # One at a time, each on its run's claim: a redelivery that took the check over meanwhile is left alone.
    return sum(do_fail_ingestion(dataset.pk, dataset.started_at, error, Collection(dataset)) for dataset in stuck)


def do_claim_ingestion(dataset_id: int) -> tuple[Dataset, datetime] | None:
    """Take a pending dataset, or one a lost run left being checked, for this run: the dataset and the
    time of the claim, which the run's final write is conditional on. None if there is nothing to check
    (deleted, or finished by an earlier delivery). Counts the attempt, so that a check that keeps killing
    its worker can be failed (trainer/tasks.py)."""
    claimed_at = timezone.now()
    claimed = Dataset.objects.filter(
        pk=dataset_id, status__in=[Dataset.Status.PENDING, Dataset.Status.PROCESSING]
    ).update(status=Dataset.Status.PROCESSING, started_at=claimed_at, attempts=F("attempts") + 1)
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if not claimed or dataset is None:
        return None
    return dataset, claimed_at


def do_finish_ingestion(dataset_id: int, claimed_at, collection: Collection) -> bool:
    """Make what `collection` gathered the dataset's content, if this run still holds the dataset
    (claimed at `claimed_at`); files of the previous content that are no longer used go after commit
    (trainer/models.py)."""
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
        _replace_images(dataset_id, list(collection.images.values()))
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
        _replace_images(dataset_id, [])
        # The old rows' files go with them; what this run stored was never given a row.
        transaction.on_commit(lambda: delete_files(collection.stored))
    return True


def do_drop_ingestion(dataset_id: int, collection: Collection) -> None:
    """A check whose result no row took (see do_finish_ingestion): if its dataset was deleted meanwhile,
    the files it stored go too, since nobody else can be using them; a run that took the dataset over
    may be using them, so they stay."""
    if not Dataset.objects.filter(pk=dataset_id).exists():
        delete_files(collection.stored)


def _replace_images(dataset_id: int, images: list[DatasetImage]) -> None:
    """Swap the dataset's image rows for `images`. The new rows take over the files of the old rows of
    the same content; the other old files go after commit (trainer/models.py)."""
    DatasetImage.objects.filter(dataset_id=dataset_id).delete()
    DatasetImage.objects.bulk_create(images, batch_size=500)
