"""Trainings on a real training worker (Redis, a Celery subprocess), started from the admin; and a
running prediction worker that answers with whichever version was activated last, without a restart."""

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from catdog_site.celery import app as celery_app
from classifier.actions import do_create_predictions
from classifier.models import Prediction
from classifier.validation import check_image_upload
from trainer.models import ModelVersion

from .conftest import shared_photo, upload
from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import TINY
from .worker import running_worker

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("training-media")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("training-logs")


@pytest.fixture(scope="module")
def training_worker(django_db_setup, django_db_blocker, media_root, logs):
    with django_db_blocker.unblock():
        with running_worker(
            queues="training", media_root=media_root, name="e2e-training", log_path=logs / "training.log"
        ) as worker:
            yield worker


@pytest.fixture(scope="module")
def prediction_worker(django_db_setup, django_db_blocker, media_root, logs):
    with django_db_blocker.unblock():
        with running_worker(
            queues="predictions", media_root=media_root, name="e2e-switch", log_path=logs / "predictions.log"
        ) as worker:
            yield worker


@pytest.fixture
def birds(make_dataset, settings, media_root, monkeypatch):
    """A ready dataset in the workers' storage; from then on, tasks go to the workers."""
    settings.MEDIA_ROOT = media_root
    dataset = make_dataset("birds", archive=zip_bytes(class_folders({"owl": 6, "wren": 6})))  # checked eagerly
    assert dataset.status == "ready", dataset.error
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    return dataset


def _start_training(admin_client, dataset, **settings) -> ModelVersion:
    form = {**TINY, "seed": 3, "request_key": str(uuid.uuid4()), **settings}
    del form["dropout"]
    r = admin_client.post(reverse("admin:trainer_dataset_train", args=[dataset.pk]), form)
    assert r.status_code == 302, r.content.decode()[-2000:]
    return ModelVersion.objects.get(dataset=dataset, params__epochs=form["epochs"])


def _wait(version: ModelVersion, done, timeout: float = 120, what: str = "") -> ModelVersion:
    deadline = time.monotonic() + timeout
    while True:
        version.refresh_from_db()
        if done(version):
            return version
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}: {version.status} {version.progress}"
        time.sleep(0.2)


def _predict(path: Path) -> Prediction:
    checked = check_image_upload(upload(path.name, path.read_bytes()))
    [prediction] = do_create_predictions(_predict.owner, [checked])
    deadline = time.monotonic() + 90
    while prediction.status == Prediction.Status.PENDING:
        assert time.monotonic() < deadline, "no answer from the prediction worker"
        time.sleep(0.1)
        prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE, prediction.error
    return prediction


def test_a_training_from_the_admin_runs_on_the_worker_and_a_running_worker_switches_to_it(
    admin_client, admin_user, birds, training_worker, prediction_worker
):
    call_command("ensure_shipped_model", verbosity=0)
    shipped = ModelVersion.objects.get(is_active=True)
    _predict.owner = admin_user
    cat = shared_photo("cat", 4010)
    assert _predict(cat).label == "cat"  # the worker has the shipped model loaded

    version = _start_training(admin_client, birds)
    version = _wait(version, lambda v: not v.in_progress, what="the training")
    assert version.status == ModelVersion.Status.READY, version.error
    assert version.worker.startswith("e2e-training@") and version.progress["epoch"] == 2
    assert version.class_names == ["owl", "wren"] and version.metrics["num_test"] == 4
    assert Path(media_root_of(version)).is_file()

    # Never compared with the shipped model (other classes): activated over the confirmation.
    admin_client.post(reverse("admin:trainer_modelversion_activate", args=[version.pk]), {"confirm": "yes"})
    answer = _predict(cat)
    assert answer.label in {"owl", "wren"} and answer.model_version == version  # no restart needed

    admin_client.post(
        reverse("admin:trainer_modelversion_activate", args=[shipped.pk]), {"confirm": "yes"}
    )  # roll back
    answer = _predict(cat)
    assert answer.label == "cat" and answer.model_version == shipped
    assert Prediction.objects.filter(model_version=version).count() == 1  # the earlier answer keeps its version


def media_root_of(version: ModelVersion) -> str:
    return version.file.storage.path(version.file.name)


def test_a_training_cancelled_in_the_admin_stops_within_an_epoch(admin_client, birds, training_worker):
    version = _start_training(admin_client, birds, epochs=500, image_size=96)
    _wait(version, lambda v: v.progress.get("epoch"), what="the first epoch")
    admin_client.post(reverse("admin:trainer_modelversion_cancel", args=[version.pk]))
    asked = time.monotonic()
    version = _wait(version, lambda v: not v.in_progress, timeout=60, what="the cancellation")
    assert version.status == ModelVersion.Status.CANCELLED, version.error
    assert "Cancelled by an administrator after epoch" in version.error
    assert time.monotonic() - asked < 30 and version.progress["epoch"] < 500 and not version.file


def test_a_training_whose_process_is_killed_ends_failed_with_the_reason(admin_client, birds, training_worker):
    version = _start_training(admin_client, birds, epochs=499, image_size=96)
    _wait(version, lambda v: v.progress.get("epoch"), what="the first epoch")
    pid = training_worker.pid
    [child] = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    os.kill(child, signal.SIGKILL)
    version = _wait(version, lambda v: not v.in_progress, timeout=60, what="the failure to be recorded")
    assert version.status == ModelVersion.Status.FAILED
    assert "The worker process running this training died" in version.error and "SIGKILL" in version.error
