"""Trainings: requested by the admin, claimed, beaten, finished or ended by the training worker, and failed
by the sweep when their worker went away."""

import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..files import delete_files
from ..models import Dataset, ModelExport, ModelVersion
from .enqueue import enqueue
from .exports import store_export_files
from .promotion import do_consider_promotion
from .versions import record_test_answers, record_trained_photos, store_calibration_file, store_model_file


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
    outlier_dataset: Dataset | None = None,
    request_key: uuid.UUID | None = None,
) -> tuple[ModelVersion, bool]:
    """Queue a training of `dataset` with `params` (every setting resolved: see trainer/forms.py).

    A dataset version trains on its "train" photos and is measured on its lineage's frozen test split: a
    separate test dataset is refused for it.

    Returns the version and whether it is new. The same `request_key` (one per form shown), or the same
    dataset and settings while such a training is queued or running, give the existing version back:
    a double submission never starts two trainings.
    """
    for candidate, role in ((dataset, "training"), (test_dataset, "test"), (outlier_dataset, "outlier")):
        if candidate is not None and candidate.status != Dataset.Status.READY:
            raise TrainingRefused(
                f"The {role} dataset {candidate} is {candidate.get_status_display().lower()}, not ready."
            )
    if dataset.has_frozen_split:
        if test_dataset is not None:
            raise TrainingRefused(frozen_split_refusal(dataset))
        params = {**params, "test_split": None}  # not used: the test photos are the frozen split
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
        outlier_dataset=outlier_dataset,
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


def frozen_split_refusal(dataset: Dataset) -> str:
    """Why a dataset version cannot be measured on another test dataset, in words an admin can act on."""
    return (
        f"{dataset} is a dataset version: it is measured on the frozen test split of {dataset.root} "
        f"({dataset.images.filter(split='test').count()} photos), the photos every version trained in this "
        "lineage is measured on, so that their scores compare. Leave the test dataset empty."
    )


def _enqueue_training(version_id: int) -> None:
    enqueue("train_model_version", version_id)


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


def do_finish_training(version_id: int, started_at, *, model_path: Path, result, test_sha256: str, exports=()) -> bool:
    """Store the trained model and its exports (trainer/ml/agreement.py ExportedFile) through the storage API
    and make the version ready, if this run still holds it and nobody asked to cancel; otherwise the stored
    files are removed again. A finished version keeps its test answers, the photos it was trained on and its
    exports, failed or not (a version whose serving file failed is ready but cannot be activated), and is
    activated if its lineage promotes automatically and it is significantly better than the active version
    (promotion.py)."""
    version = ModelVersion.objects.get(pk=version_id)
    sha256 = store_model_file(version, model_path)
    calibration_sha256 = store_calibration_file(version, result.calibration_path)
    export_rows = store_export_files(version, list(exports))
    names = [name for name in (version.file.name, version.calibration.name) if name]
    names += [row.file.name for row in export_rows if row.file.name]
    with transaction.atomic():
        finished = ModelVersion.objects.filter(
            pk=version_id, status=ModelVersion.Status.RUNNING, started_at=started_at, cancel_requested=False
        ).update(
            status=ModelVersion.Status.READY,
            file=version.file.name,
            file_sha256=sha256,
            calibration=version.calibration.name,
            calibration_sha256=calibration_sha256,
            calibration_report=result.calibration_report,
            class_names=list(result.class_names),
            image_size=result.image_size,
            params=result.params,
            metrics=result.metrics,
            test_accuracy=result.metrics.get("accuracy"),
            summary=result.summary,
            test_sha256=test_sha256,
            leakage_dropped=result.metrics.get("leakage_dropped"),
            trained_at=timezone.now(),
            heartbeat_at=timezone.now(),
            error="",
        )
        if finished:
            version.refresh_from_db()  # its test_sha256, which names its answers' photo set
            record_test_answers(version, result.test_answers)
            record_trained_photos(version, result.train_sha256s)
            ModelExport.objects.bulk_create(export_rows)
            do_consider_promotion(version)
        else:
            transaction.on_commit(lambda: delete_files(names))  # stored for a row that did not take them
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


def do_fail_trainings_of_worker(hostname: str) -> int:
    """Fail the trainings still marked as running under a worker that has just started: it cannot be
    running them, so they were interrupted when it stopped (a crash, or a kill of the whole worker)."""
    return ModelVersion.objects.filter(status=ModelVersion.Status.RUNNING, worker=hostname).update(
        status=ModelVersion.Status.FAILED,
        error="The worker running this training stopped before it finished; see the worker's log.",
    )


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
