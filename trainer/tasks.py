"""The trainer app's background work: checking datasets, training model versions, and the sweep.

Each task is thin: it claims its row through an action (trainer/actions/), runs the work, and ends
through an action; it writes nothing to the database itself. The actions send these tasks by name after
commit, and CELERY_TASK_ROUTES (catdog_site/settings/base.py) alone chooses their queues: dataset checks
(`ingest_*`) go to "datasets", the sweep (`sweep_*`) to "maintenance", where no backlog of work can hold
it up, and every other task here, the trainings, to "training". The training worker serves "training"
and "datasets", the prediction worker neither, so that a long training never holds up a prediction.
"""

import dataclasses
import logging
import tempfile
import time
from pathlib import Path, PurePosixPath

from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_failure, worker_ready
from django.conf import settings

from .actions import (
    MEASURE_TIME_LIMIT_SECONDS,
    do_claim_ingestion,
    do_claim_measurement,
    do_claim_training,
    do_drop_ingestion,
    do_end_training,
    do_fail_downloads,
    do_fail_ingestion,
    do_fail_measurement,
    do_fail_stale_trainings,
    do_fail_stuck_datasets,
    do_fail_stuck_measurements,
    do_fail_trainings_of_worker,
    do_finish_downloads,
    do_finish_ingestion,
    do_finish_measurement,
    do_finish_training,
    frozen_split_refusal,
)
from .datasets import (
    INGEST_TIME_LIMIT_SECONDS,
    Collection,
    DatasetRefused,
    collect,
    folder_images_sha256,
    materialize,
    materialize_test_photos,
)
from .files import copy_verified
from .heartbeat import Heartbeat
from .ml import SERVING_FILES, TUNABLE_SETTINGS
from .ml.agreement import ExportedFile
from .ml.data import DatasetError, check_images, list_class_folder
from .ml.weights import WeightsUnavailable, check_weights
from .models import ModelExport, ModelVersion

logger = logging.getLogger(__name__)

# A dataset whose check killed the worker this many times (out of memory, say) is failed, not retried forever.
MAX_INGEST_ATTEMPTS = 3


# acks_late: a worker that dies mid-check leaves the message to be delivered again, and the new delivery
# takes the dataset over. That is safe because files are named by their content and the final write is
# conditional on this run's claim (see do_finish_ingestion). The hard time limit stays under the broker's
# visibility timeout, so that a message is not handed out twice while its first run is alive.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=INGEST_TIME_LIMIT_SECONDS - 60,
    time_limit=INGEST_TIME_LIMIT_SECONDS,
)
def ingest_dataset(dataset_id: int) -> None:
    claim = do_claim_ingestion(dataset_id)
    if claim is None:
        return  # deleted, or finished by an earlier delivery
    dataset, claimed_at = claim
    collection = Collection(dataset)
    if dataset.attempts > MAX_INGEST_ATTEMPTS:
        error = f"The worker stopped {MAX_INGEST_ATTEMPTS} times while checking this dataset; see the worker's log."
    else:
        try:
            collect(dataset, collection)
        except DatasetRefused as refusal:
            error = str(refusal)
        except SoftTimeLimitExceeded:
            error = f"Checking took longer than {INGEST_TIME_LIMIT_SECONDS // 60} minutes and was stopped."
        except Exception:
            logger.exception("Dataset %s: the check failed", dataset_id)
            error = "The check failed unexpectedly; the worker's log has the details."
        else:
            error = ""

    done = (
        do_fail_ingestion(dataset_id, claimed_at, error, collection)
        if error
        else do_finish_ingestion(dataset_id, claimed_at, collection)
    )
    if not done:
        logger.info("Dataset %s was deleted or taken over meanwhile; this check's result is dropped", dataset_id)
        do_drop_ingestion(dataset_id, collection)


# --- Training -------------------------------------------------------------------------------------------


# acks_late without reject_on_worker_lost: a pool process that is killed mid-training (out of memory, say)
# does not get the training again, which could kill it again; _fail_lost_training records why it ended.
# If the whole host goes, the broker hands the message out again after its visibility timeout, and that
# delivery finds the version running with a stale heartbeat and fails it.
@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.CATDOG_TRAINING_TIME_LIMIT,
    time_limit=settings.CATDOG_TRAINING_TIME_LIMIT + 120,
)
def train_model_version(self, version_id: int) -> None:
    do_fail_stale_trainings()
    version = do_claim_training(version_id, worker=self.request.hostname or "")
    if version is None:
        logger.info("Training of version %s: not queued any more (cancelled, deleted or taken); skipped", version_id)
        return
    started_at = version.started_at
    heartbeat = Heartbeat(version_id, started_at)
    status, error = ModelVersion.Status.FAILED, ""
    try:
        with tempfile.TemporaryDirectory(prefix="catdog-train-") as tmp:
            with heartbeat.running():  # its last beat, on the way out, records the last epoch
                result, test_sha256 = _train(version, Path(tmp), heartbeat)
                heartbeat.set(phase="exporting")
                exports = export_or_record_failure(result, Path(tmp) / "exports")
                heartbeat.set(phase="saving")
            if do_finish_training(
                version_id,
                started_at,
                model_path=result.model_path,
                result=result,
                test_sha256=test_sha256,
                exports=exports,
            ):
                logger.info("Version %s trained: test accuracy %.4f", version, result.metrics["accuracy"])
                return
            status, error = ModelVersion.Status.CANCELLED, "Cancelled by an administrator as it was saved."
    except _Cancelled as cancelled:
        status, error = ModelVersion.Status.CANCELLED, str(cancelled)
    # What the data or the set-up cannot do, said in words an admin can act on: shown as it is.
    except (DatasetError, DatasetRefused, WeightsUnavailable) as refusal:
        error = str(refusal)
    except SoftTimeLimitExceeded:
        error = f"The training took longer than {settings.CATDOG_TRAINING_TIME_LIMIT // 60} minutes and was stopped."
    except Exception as unexpected:  # a bug, or a failure of TensorFlow or the machine: not the data's fault
        logger.exception("Training of version %s failed unexpectedly", version_id)
        error = (
            f"The training failed unexpectedly ({type(unexpected).__name__}); the training worker's log has "
            "the details. Try again, and report it if it happens again."
        )
    do_end_training(version_id, status, error, started_at=started_at)


class _Cancelled(Exception):
    pass


def _train(version: ModelVersion, folder: Path, heartbeat: Heartbeat):
    """Copy the dataset(s) out of storage, train with the version's settings; the result and the hash of
    the photos it was measured on."""
    from .ml.progress import EpochProgress, TrainingCancelled
    from .ml.train import TrainingConfig, run_training  # TensorFlow: worker only

    if version.dataset is None:
        raise DatasetError("The training dataset was deleted.")
    weights = settings.CATDOG_MOBILENET_WEIGHTS
    if version.architecture == ModelVersion.Architecture.MOBILENET_V2:
        check_weights(weights)  # before copying the dataset
    heartbeat.set(phase="copying")
    test_dir = None
    if version.dataset.has_frozen_split:
        # A dataset version: measured on its lineage's frozen test split, as every version of the lineage is.
        if version.test_dataset_id is not None:  # refused by do_request_training
            raise DatasetError(frozen_split_refusal(version.dataset))
        test_dir = folder / "test"
        materialize(version.dataset, folder / "train", split="train")
        materialize(version.dataset, test_dir, split="test")
    else:
        materialize(version.dataset, folder / "train")
        if version.test_dataset_id is not None:
            test_dir = folder / "test"
            materialize(version.test_dataset, test_dir)
    outlier_dir = None
    if version.outlier_dataset_id is not None:  # photos of none of its classes, whatever their folders
        outlier_dir = folder / "outliers"
        materialize(version.outlier_dataset, outlier_dir)
    # The version's settings by TrainingConfig's names; one left unset (None) takes its default there.
    chosen = {name: version.params[name] for name in TUNABLE_SETTINGS if version.params.get(name) is not None}
    config = TrainingConfig(
        train_dir=folder / "train",
        test_dir=test_dir,
        output_path=folder / "model.keras",
        **chosen,
        architecture=version.architecture,
        weights=weights,
        outlier_dir=outlier_dir,
    )

    def on_progress(progress) -> None:
        if isinstance(progress, EpochProgress):
            heartbeat.epoch_ended(progress)
        else:
            heartbeat.set(phase=progress.phase, done=progress.done, total=progress.total)

    try:
        result = run_training(config, progress_callback=on_progress, should_cancel=heartbeat.cancelled.is_set)
    except TrainingCancelled:
        where = heartbeat.progress.get("epoch")
        at = f" after epoch {where} of {heartbeat.progress['epochs']}" if where else ""
        raise _Cancelled(f"Cancelled by an administrator{at}.") from None
    result.test_answers = _named_as_added(result.test_answers, version.test_dataset, version.dataset)
    return result, folder_images_sha256(result.test_paths)


def export_or_record_failure(result, folder: Path) -> list[ExportedFile]:
    """The trained model's serving files, each verified on every test photo; the seconds it took go into the
    version's metrics beside the training's. A failure is recorded on the files, not raised: the trained version
    is kept (ready, but not servable until exported again)."""
    from .ml.export import export_verified  # TensorFlow: worker only

    started = time.perf_counter()
    try:
        return export_verified(result.model_path, result.test_paths, folder)
    except SoftTimeLimitExceeded:
        error = "The export was stopped: the training had reached its time limit."
    except Exception as unexpected:
        logger.exception("The export of a trained model failed")
        error = (
            f"The export failed unexpectedly ({type(unexpected).__name__}: {unexpected}); the training worker's log "
            "has the details. Export it again with manage.py export_version."
        )
    finally:
        result.metrics["export_seconds"] = round(time.perf_counter() - started, 1)
    return [ExportedFile(kind, None, error=error) for kind in SERVING_FILES]


# --- Downloads, made when an administrator asks -----------------------------------------------------------


@shared_task(soft_time_limit=settings.CATDOG_TRAINING_TIME_LIMIT, time_limit=settings.CATDOG_TRAINING_TIME_LIMIT + 120)
def make_downloads(version_id: int) -> None:
    """Make the version's downloads (Keras, SavedModel, TFLite, ONNX, each zipped with a README), verify each on
    the version's test photos that catdog keeps, and store them in place of its pending ones."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or not version.exports.filter(status=ModelExport.Status.PENDING).exists():
        return  # deleted, or made by an earlier delivery
    try:
        with tempfile.TemporaryDirectory(prefix="catdog-downloads-") as tmp:
            if not do_finish_downloads(version, _make_downloads(version, Path(tmp))):
                logger.info("The downloads of version %s were asked again or deleted meanwhile; dropped", version_id)
            return
    except SoftTimeLimitExceeded:
        error = f"Making the downloads took longer than {settings.CATDOG_TRAINING_TIME_LIMIT // 60} minutes."
    except Exception as unexpected:
        logger.exception("The downloads of version %s failed", version_id)
        error = (
            f"Making the downloads failed unexpectedly ({type(unexpected).__name__}: {unexpected}); the training "
            "worker's log has the details."
        )
    do_fail_downloads(version_id, error)


def _make_downloads(version: ModelVersion, folder: Path) -> list[ExportedFile]:
    from .ml.downloads import export_verified  # TensorFlow: worker only

    model = copy_verified(version.file.storage, version.file.name, folder / "model.keras", version.file_sha256)
    photos, recorded = materialize_test_photos(version, folder / "photos")
    logger.info("Version %s: checking its downloads on %d of its %d test photos", version, len(photos), recorded)
    return export_verified(model, photos, folder / "downloads", version=str(version), class_names=version.class_names)


# --- Measuring a version on a test set (promotion on evidence) ---------------------------------------------


@shared_task(soft_time_limit=settings.CATDOG_TRAINING_TIME_LIMIT, time_limit=MEASURE_TIME_LIMIT_SECONDS)
def measure_model_version(measurement_id: int) -> None:
    """Answer every photo of the measurement's dataset with the version's served model, as its test photos
    were answered after its training, and store the answers: to compare it with another version on them."""
    measurement = do_claim_measurement(measurement_id)
    if measurement is None:
        return  # deleted, or taken by an earlier delivery
    try:
        answers = _measure(measurement)
    except (DatasetError, DatasetRefused) as refusal:
        error = str(refusal)
    except SoftTimeLimitExceeded:
        error = f"The measurement took longer than {settings.CATDOG_TRAINING_TIME_LIMIT // 60} minutes and was stopped."
    except Exception as unexpected:
        logger.exception("Measurement %s failed unexpectedly", measurement_id)
        error = (
            f"The measurement failed unexpectedly ({type(unexpected).__name__}); the training worker's log has "
            "the details."
        )
    else:
        if not do_finish_measurement(measurement_id, measurement.started_at, answers):
            logger.info("Measurement %s was deleted or taken over meanwhile; its answers are dropped", measurement_id)
        return
    do_fail_measurement(measurement_id, error, started_at=measurement.started_at)


def _measure(measurement):
    from .ml.calibrate import answer_saved  # TensorFlow: worker only

    version, dataset = measurement.version, measurement.dataset
    if dataset is None:
        raise DatasetError("The dataset to measure on was deleted.")
    with tempfile.TemporaryDirectory(prefix="catdog-measure-") as tmp:
        folder = Path(tmp)
        materialize(dataset, folder / "photos")
        paths, labels, _ = list_class_folder(folder / "photos", list(version.class_names))
        readable, _ = check_images(paths, version.image_size)
        paths = [path for path, ok in zip(paths, readable, strict=True) if ok]
        model_path = copy_verified(version.file.storage, version.file.name, folder / "model.keras", version.file_sha256)
        calibration_path = None
        if version.calibration:
            calibration_path = copy_verified(
                version.calibration.storage,
                version.calibration.name,
                folder / "calibration.npz",
                version.calibration_sha256,
            )
        answers = answer_saved(
            model_path,
            list(version.class_names),
            paths,
            labels[readable],
            calibration_path=calibration_path,
            operating_point=version.operating_point,
        )
    return _named_as_added(answers, dataset)


def _named_as_added(answers: list, *datasets) -> list:
    """The answers with each photo's name as it came into its dataset ("cat.4101.jpg"), not the content-hash
    name a materialized copy has, so that the pages name the photos people know."""
    names = {}
    for dataset in datasets:
        if dataset is not None:
            names.update(dataset.images.values_list("sha256", "origin").order_by())
    named = []
    for answer in answers:
        origin = names.get(answer.sha256)
        named.append(dataclasses.replace(answer, name=PurePosixPath(origin).name) if origin else answer)
    return named


@shared_task
def sweep_stuck_work() -> dict[str, int]:
    """Run by beat every CATDOG_SWEEP_SECONDS: no training, dataset check or measurement stays "running" for
    ever after its worker went away. The pages only read what it leaves."""
    return {
        "trainings": do_fail_stale_trainings(),
        "datasets": do_fail_stuck_datasets(),
        "measurements": do_fail_stuck_measurements(),
    }


@task_failure.connect
def _fail_lost_training(sender=None, exception=None, args=None, **kwargs):
    """The worker's main process hears of a pool process that died mid-training (killed, out of memory)
    or hit the hard time limit: the training cannot record that itself."""
    if getattr(sender, "name", None) != train_model_version.name or not args:
        return
    if isinstance(exception, WorkerLostError):
        error = f"The worker process running this training died ({exception}); see the worker's log."
    elif isinstance(exception, TimeLimitExceeded):
        error = "The training overran its hard time limit and its process was stopped."
    else:
        return  # the task records every other ending itself
    do_end_training(args[0], ModelVersion.Status.FAILED, error)


@worker_ready.connect
def _fail_trainings_of_a_restarted_worker(sender=None, **kwargs):
    """A worker that starts cannot be running a training yet: any still marked as running under its
    name were interrupted when it stopped (a crash, or a kill of the whole worker)."""
    hostname = getattr(sender, "hostname", None)
    if hostname:
        do_fail_trainings_of_worker(hostname)
