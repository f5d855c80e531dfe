import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from .datasets import INGEST_TIME_LIMIT_SECONDS, Collection
from .files import delete_files, file_sha256
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
    test_sha256: str = "",
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
        dataset_sha256=dataset.content_sha256 if dataset else "",
        test_sha256=test_sha256,
        trained_at=timezone.now(),
    )
    version.file_sha256 = _store_model_file(version, model_path)
    version.save()
    if activate:
        do_activate_model_version(version)
    return version


def _store_model_file(version: ModelVersion, model_path: Path) -> str:
    """Save a `.keras` file as the version's file (models/<name>-<SHA-256 prefix>.keras, through the
    storage API, so S3 too) without saving the row; returns the file's SHA-256."""
    sha256 = file_sha256(model_path)
    with open(model_path, "rb") as f:
        version.file.save(f"{slugify(version.name) or 'model'}-{sha256[:12]}.keras", File(f), save=False)
    return sha256


@transaction.atomic
def do_activate_model_version(version: ModelVersion) -> None:
    """Make `version` the one every worker answers with; the database keeps it the only active one.

    Workers read the active version for every prediction (classifier/tasks.py), so the next photo is
    answered by it, with no restart. Rolling back is activating the earlier version.
    """
    if version.status != ModelVersion.Status.READY:
        raise ValueError(f"{version} is {version.get_status_display().lower()}, not ready: it cannot answer.")
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.save(update_fields=["is_active"])


@dataclass
class ActivationCheck:
    active: ModelVersion | None
    # Set when `active` scored better on the very same test photos: activating needs a confirmation.
    lower_score: bool


def check_activation(version: ModelVersion) -> ActivationCheck:
    """Whether activating `version` would replace a version that did better on the same test photos."""
    active = ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).first()
    lower = (
        active is not None
        and bool(version.test_sha256)
        and version.test_sha256 == active.test_sha256
        and version.test_accuracy is not None
        and active.test_accuracy is not None
        and version.test_accuracy < active.test_accuracy
    )
    return ActivationCheck(active=active, lower_score=lower)


# --- Training -------------------------------------------------------------------------------------------


class TrainingRefused(ValueError):
    """The training cannot be started; the message says why."""


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.CATDOG_TRAINING_STALE_SECONDS)


def do_request_training(
    dataset: Dataset,
    *,
    name: str,
    params: dict,
    user=None,
    test_dataset: Dataset | None = None,
    request_key: uuid.UUID | None = None,
) -> tuple[ModelVersion, bool]:
    """Queue a training of `dataset` with `params` (every setting resolved: see trainer/forms.py).

    Returns the version and whether it is new. The same `request_key` (one per form shown), or the same
    dataset and settings while such a training is queued or running, give the existing version back:
    a double submission never starts two trainings.
    """
    for candidate, role in ((dataset, "training"), (test_dataset, "test")):
        if candidate is not None and candidate.status != Dataset.Status.READY:
            raise TrainingRefused(
                f"The {role} dataset {candidate} is {candidate.get_status_display().lower()}, not ready."
            )
    if test_dataset is not None and test_dataset.class_names != dataset.class_names:
        raise TrainingRefused(
            f"The test dataset's classes {test_dataset.class_names} are not the training dataset's "
            f"{dataset.class_names}."
        )
    if request_key is not None:
        existing = ModelVersion.objects.filter(request_key=request_key).first()
        if existing is not None:
            return existing, False
    for running in ModelVersion.objects.filter(
        dataset=dataset, test_dataset=test_dataset, status__in=[ModelVersion.Status.QUEUED, ModelVersion.Status.RUNNING]
    ):
        if running.params == params:
            return running, False

    version = ModelVersion(
        name=name,
        status=ModelVersion.Status.QUEUED,
        architecture=params["architecture"],
        class_names=list(dataset.class_names),
        image_size=params["image_size"],
        params=params,
        dataset=dataset,
        dataset_sha256=dataset.content_sha256,
        test_dataset=test_dataset,
        request_key=request_key,
        created_by=user,
    )
    try:
        with transaction.atomic():
            version.save()
            transaction.on_commit(lambda: _enqueue_training(version.pk))
    except IntegrityError:
        # The same form posted twice at once: the other request saved first.
        existing = ModelVersion.objects.filter(request_key=request_key).first()
        if request_key is None or existing is None:
            raise
        return existing, False
    return version, True


def _enqueue_training(version_id: int) -> None:
    from .tasks import enqueue_train_model_version  # tasks imports this module

    enqueue_train_model_version(version_id)


def do_cancel_training(version: ModelVersion) -> bool:
    """Stop a training: a queued one at once, a running one at its next batch (its worker checks a flag
    every few seconds). False if it had already ended."""
    cancelled = ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.QUEUED).update(
        status=ModelVersion.Status.CANCELLED, cancel_requested=True, error="Cancelled before it started."
    )
    if not cancelled:
        cancelled = ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.RUNNING).update(
            cancel_requested=True
        )
    return bool(cancelled)


def do_claim_training(version_id: int, worker: str) -> ModelVersion | None:
    """Mark a queued training as running in this worker; None if it is not queued any more."""
    now = timezone.now()
    claimed = ModelVersion.objects.filter(
        pk=version_id, status=ModelVersion.Status.QUEUED, cancel_requested=False
    ).update(status=ModelVersion.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker, progress={})
    return ModelVersion.objects.filter(pk=version_id).first() if claimed else None


def do_beat_training(version_id: int, started_at, progress: dict) -> bool | None:
    """The running worker's heartbeat, with its progress so far. Returns whether a cancel was asked
    for, or None if the training is no longer this run's to finish (failed by the watchdog, say)."""
    alive = ModelVersion.objects.filter(
        pk=version_id, status=ModelVersion.Status.RUNNING, started_at=started_at
    ).update(heartbeat_at=timezone.now(), progress=progress)
    if not alive:
        return None
    return ModelVersion.objects.filter(pk=version_id).values_list("cancel_requested", flat=True).first()


def do_finish_training(version_id: int, started_at, *, model_path: Path, result, test_sha256: str) -> bool:
    """Store the trained model through the storage API and make the version ready, if this run still
    holds it and nobody asked to cancel; otherwise the stored file is removed again."""
    version = ModelVersion.objects.get(pk=version_id)
    sha256 = _store_model_file(version, model_path)
    name = version.file.name
    with transaction.atomic():
        finished = ModelVersion.objects.filter(
            pk=version_id, status=ModelVersion.Status.RUNNING, started_at=started_at, cancel_requested=False
        ).update(
            status=ModelVersion.Status.READY,
            file=name,
            file_sha256=sha256,
            class_names=list(result.class_names),
            image_size=result.image_size,
            params=result.params,
            metrics=result.metrics,
            test_accuracy=result.metrics.get("accuracy"),
            summary=result.summary,
            test_sha256=test_sha256,
            trained_at=timezone.now(),
            heartbeat_at=timezone.now(),
            error="",
        )
        if not finished:
            transaction.on_commit(lambda: delete_files([name]))  # stored for a row that did not take it
    return bool(finished)


def do_end_training(version_id: int, status: str, error: str, *, started_at=None) -> bool:
    """End a queued or running training as cancelled or failed, with the reason; with `started_at`,
    only if that run still holds it."""
    ending = ModelVersion.objects.filter(
        pk=version_id, status__in=[ModelVersion.Status.QUEUED, ModelVersion.Status.RUNNING]
    )
    if started_at is not None:
        ending = ending.filter(started_at=started_at)
    return bool(ending.update(status=status, error=error, heartbeat_at=timezone.now()))


def do_fail_stale_trainings() -> int:
    """Fail every running training whose worker stopped writing its heartbeat: it was killed, crashed
    or lost its host. Called by the sweep (trainer/tasks.py) and before a training starts."""
    return ModelVersion.objects.filter(status=ModelVersion.Status.RUNNING, heartbeat_at__lt=_stale_before()).update(
        status=ModelVersion.Status.FAILED,
        error=(
            f"The worker running this training stopped answering for over {settings.CATDOG_TRAINING_STALE_SECONDS} s "
            "(killed, crashed, or its host went away); see that worker's log."
        ),
    )


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


def _replace_images(dataset_id: int, images: list[DatasetImage]) -> None:
    """Swap the dataset's image rows for `images`. The new rows take over the files of the old rows of
    the same content; the other old files go after commit (trainer/models.py)."""
    DatasetImage.objects.filter(dataset_id=dataset_id).delete()
    DatasetImage.objects.bulk_create(images, batch_size=500)
