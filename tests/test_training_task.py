"""The training task (trainer/tasks.py) run in this process: what a finished, cancelled or failed
training records. A real training worker is in test_training_worker.py."""

import threading
import time
from datetime import timedelta

import pytest
from billiard.exceptions import WorkerLostError
from celery.signals import task_failure, worker_ready
from django.core.files.storage import default_storage
from django.utils import timezone

from trainer.actions import do_cancel_training
from trainer.files import file_sha256
from trainer.models import ModelVersion
from trainer.tasks import train_model_version

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import request_tiny_training, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
# transaction=True: the training's heartbeat thread writes through a connection of its own.
# Each test runs the training task itself, when it chooses (trainings_not_sent).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]


@pytest.fixture
def dataset(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 6, "dog": 6})))


def _run(version) -> ModelVersion:
    train_model_version.apply(args=(version.pk,))
    version.refresh_from_db()
    return version


def test_a_finished_training_records_the_model_and_how_it_was_made(dataset):
    version = _run(request_tiny_training(dataset))

    assert version.status == ModelVersion.Status.READY, version.error
    assert default_storage.exists(version.file.name) and version.file.name.startswith("models/tiny-")
    assert version.file_sha256 == file_sha256(default_storage.path(version.file.name))
    assert version.class_names == ["cat", "dog"] and version.image_size == 32
    assert version.dataset == dataset and version.dataset_sha256 == dataset.content_sha256
    assert (version.params["seed"], version.params["epochs"], version.params["architecture"]) == (7, 2, "simple_cnn")
    assert "train_dir" not in version.params and "test_dir" not in version.params  # temporary copies
    metrics = version.metrics
    assert version.test_accuracy == metrics["accuracy"]
    assert set(metrics["per_class"]) == {"cat", "dog"}
    assert {"precision", "recall", "f1", "support"} <= set(metrics["per_class"]["cat"])
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["num_test"] == 4  # a quarter of 12, stratified
    assert len(metrics["history"]["loss"]) == len(metrics["history"]["test_accuracy"]) == 2
    assert "Total params" in version.summary
    assert len(version.test_sha256) == 64
    assert version.progress["epoch"] == 2 and version.progress["epochs"] == 2
    assert version.started_at <= version.trained_at and not version.is_active


def test_measured_on_a_test_dataset_the_hash_names_those_photos(dataset, make_dataset):
    test_dataset = make_dataset("pets-test", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}, start=50)))
    version = _run(request_tiny_training(dataset, test_dataset=test_dataset, params={"test_split": None}))

    assert version.status == ModelVersion.Status.READY, version.error
    assert version.metrics["num_test"] == 4 and version.metrics["num_train"] == 12
    # Every test photo was readable, so the photos measured on are exactly the test dataset's content.
    assert version.test_sha256 == test_dataset.content_sha256
    again = _run(request_tiny_training(dataset, test_dataset=test_dataset, params={"test_split": None, "seed": 8}))
    assert again.test_sha256 == version.test_sha256  # same photos, comparable scores


def test_the_held_out_photos_depend_on_the_seed(dataset):
    first = _run(request_tiny_training(dataset, params={"seed": 1}))
    second = _run(request_tiny_training(dataset, params={"seed": 2, "epochs": 1}))
    assert first.test_sha256 != second.test_sha256


def test_a_running_training_stops_soon_after_it_is_cancelled(make_dataset, settings):
    settings.CATDOG_TRAINING_HEARTBEAT_SECONDS = 0.1
    dataset = make_dataset("pets", archive=zip_bytes(class_folders({"cat": 6, "dog": 6})))
    version = request_tiny_training(dataset, params={"epochs": 500})

    def cancel_once_training():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = ModelVersion.objects.get(pk=version.pk)
            if current.progress.get("epoch"):
                do_cancel_training(current)
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_once_training)
    canceller.start()
    version = _run(version)
    canceller.join()

    assert version.status == ModelVersion.Status.CANCELLED
    assert version.error.startswith("Cancelled by an administrator after epoch")
    assert version.progress["epoch"] < 100  # stopped within a few heartbeats, not after 500 epochs
    assert not version.file
    assert not default_storage.exists("models") or default_storage.listdir("models") == ([], [])


def test_a_queued_training_that_is_cancelled_never_runs(dataset):
    version = request_tiny_training(dataset)
    assert do_cancel_training(version)
    version = _run(version)
    assert version.status == ModelVersion.Status.CANCELLED and version.started_at is None and not version.file
    assert not do_cancel_training(version)  # it has ended: nothing to cancel


def test_a_training_whose_dataset_is_damaged_in_storage_fails_with_the_reason(dataset):
    image = dataset.images.first()
    with open(default_storage.path(image.file.name), "ab") as f:
        f.write(b"bit rot")
    version = _run(request_tiny_training(dataset))
    assert version.status == ModelVersion.Status.FAILED
    assert "no longer matches its SHA-256" in version.error and not version.file


def test_a_training_whose_dataset_was_deleted_fails_with_the_reason(dataset):
    version = request_tiny_training(dataset)
    ModelVersion.objects.filter(pk=version.pk).update(dataset=None)
    version = _run(version)
    assert version.status == ModelVersion.Status.FAILED and version.error == "The training dataset was deleted."


def test_a_training_found_running_with_a_silent_worker_is_failed(dataset):
    """The message comes back (the host died); the version's worker stopped beating long ago."""
    version = request_tiny_training(dataset)
    long_ago = timezone.now() - timedelta(minutes=10)
    ModelVersion.objects.filter(pk=version.pk).update(status="running", started_at=long_ago, heartbeat_at=long_ago)
    version = _run(version)
    assert version.status == ModelVersion.Status.FAILED and "stopped answering" in version.error


def test_a_training_running_elsewhere_is_left_alone_by_a_second_delivery(dataset):
    version = request_tiny_training(dataset)
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(status="running", started_at=now, heartbeat_at=now)
    version = _run(version)
    assert version.status == ModelVersion.Status.RUNNING and version.progress == {}


def test_a_pool_process_killed_mid_training_leaves_the_version_failed_with_the_reason(dataset):
    version = request_tiny_training(dataset)
    ModelVersion.objects.filter(pk=version.pk).update(status="running", started_at=timezone.now())
    lost = WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 3.")
    task_failure.send(sender=train_model_version, task_id="x", exception=lost, args=[version.pk], kwargs={})
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.FAILED and "signal 9 (SIGKILL)" in version.error


def test_other_tasks_failures_do_not_touch_versions(dataset):
    version = request_tiny_training(dataset)
    lost = WorkerLostError("Worker exited prematurely")

    class Other:
        name = "classifier.tasks.predict_image"

    task_failure.send(sender=Other(), task_id="x", exception=lost, args=[version.pk], kwargs={})
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.QUEUED


def test_a_restarted_worker_fails_the_trainings_it_was_running(dataset):
    mine, theirs = request_tiny_training(dataset), request_tiny_training(dataset, params={"seed": 99})
    ModelVersion.objects.filter(pk=mine.pk).update(status="running", worker="training@here")
    ModelVersion.objects.filter(pk=theirs.pk).update(status="running", worker="training@there")

    class Consumer:
        hostname = "training@here"

    worker_ready.send(sender=Consumer())
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == ModelVersion.Status.FAILED and "stopped before it finished" in mine.error
    assert theirs.status == ModelVersion.Status.RUNNING


def test_a_mobilenet_training_without_its_weights_file_fails_with_the_setting_named(dataset, settings, tmp_path):
    settings.CATDOG_MOBILENET_WEIGHTS = str(tmp_path / "missing.weights.h5")
    version = _run(request_tiny_training(dataset, params={"architecture": "mobilenet_v2"}))
    assert version.status == ModelVersion.Status.FAILED
    assert "missing.weights.h5 (CATDOG_MOBILENET_WEIGHTS) is not on this machine" in version.error
    assert "Unset CATDOG_MOBILENET_WEIGHTS to start from the backbone of the shipped model" in version.error


def test_weights_that_cannot_be_downloaded_fail_with_what_to_do_and_no_traceback(
    dataset, settings, monkeypatch, caplog
):
    settings.CATDOG_MOBILENET_WEIGHTS = "imagenet"

    def no_internet(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- [Errno -3] name resolution")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_internet)
    version = _run(request_tiny_training(dataset, params={"architecture": "mobilenet_v2"}))
    assert version.status == ModelVersion.Status.FAILED
    assert "could not load its weights from imagenet" in version.error
    assert version.error.endswith("may have no internet: unset CATDOG_MOBILENET_WEIGHTS to start from the backbone of "
                                  "the shipped model.")  # fmt: skip
    assert not [record for record in caplog.records if record.exc_info]  # a set-up problem, not a bug


def test_an_unexpected_error_is_logged_with_its_traceback_and_not_blamed_on_the_data(dataset, monkeypatch, caplog):
    def keras_refuses(*args, **kwargs):
        raise ValueError('Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of input shape')

    monkeypatch.setattr("trainer.ml.train.run_training", keras_refuses)
    version = _run(request_tiny_training(dataset))
    assert version.status == ModelVersion.Status.FAILED
    assert version.error == (
        "The training failed unexpectedly (ValueError); the training worker's log has the details. "
        "Try again, and report it if it happens again."
    )
    [logged] = [record for record in caplog.records if record.exc_info]
    assert "failed unexpectedly" in logged.getMessage() and "is incompatible with the layer" in caplog.text
