"""The trainer's sweep (beat runs trainer.tasks.sweep_stuck_work on the "maintenance" queue): a training
whose worker went silent and a dataset check that no worker is on any more end failed, with the reason.
The admin pages only read: a GET writes nothing, however stale what it shows."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catdog_site.celery import app as celery_app
from trainer.actions import MEASURE_TIME_LIMIT_SECONDS
from trainer.datasets import INGEST_TIME_LIMIT_SECONDS
from trainer.models import Dataset, Measurement, ModelVersion
from trainer.tasks import sweep_stuck_work

from .dataset_helpers import class_folders, media_files, zip_bytes
from .training_helpers import request_tiny_training, saved_version

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db

# Past the check's hard time limit and past the broker's redelivery of its message (the test settings'
# visibility timeout is shorter than the time limit).
LONG_AGO = timedelta(seconds=INGEST_TIME_LIMIT_SECONDS + 120)


@pytest.fixture
def dataset(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))


def _running(dataset, heartbeat_age: timedelta) -> ModelVersion:
    version = request_tiny_training(dataset)  # never sent: the test's transaction never commits
    beat = timezone.now() - heartbeat_age
    ModelVersion.objects.filter(pk=version.pk).update(status="running", started_at=beat, heartbeat_at=beat)
    return version


def _being_checked(dataset, since: timedelta) -> Dataset:
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.PROCESSING, started_at=timezone.now() - since)
    dataset.refresh_from_db()
    return dataset


def test_the_sweep_fails_a_training_whose_worker_went_silent_and_leaves_a_beating_one(make_dataset, dataset):
    silent = _running(dataset, timedelta(minutes=5))
    beating = _running(
        make_dataset("more", archive=zip_bytes(class_folders({"cat": 1, "dog": 1}, start=9))), timedelta()
    )

    assert sweep_stuck_work.delay().get() == {"trainings": 1, "datasets": 0, "measurements": 0}

    silent.refresh_from_db()
    beating.refresh_from_db()
    assert silent.status == ModelVersion.Status.FAILED
    assert silent.error.startswith("The worker running this training stopped answering for over 120 s")
    assert beating.status == ModelVersion.Status.RUNNING


def test_the_sweep_fails_a_dataset_check_no_worker_is_on_and_leaves_a_recent_one(
    make_dataset, dataset, settings, django_capture_on_commit_callbacks
):
    recent = make_dataset("recent", archive=zip_bytes(class_folders({"cat": 1, "dog": 1}, start=9)))
    stuck = _being_checked(dataset, LONG_AGO)
    _being_checked(recent, timedelta(minutes=20))

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stuck_work.delay().get() == {"trainings": 0, "datasets": 1, "measurements": 0}

    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert stuck.status == Dataset.Status.FAILED
    assert stuck.error == (
        "The check stopped without a result: no worker has been on it for over 51 minutes (its worker was stopped "
        "at the time limit, or the task was lost). Use “Check again” to send it once more."
    )
    assert not stuck.images.exists() and stuck.class_names == []  # a failed dataset holds no images
    assert all(
        not name.startswith(f"datasets/{stuck.pk}/") or name == stuck.archive.name for name in media_files(settings)
    )
    assert recent.status == Dataset.Status.PROCESSING and recent.images.exists()


def test_beat_runs_the_sweep_on_the_maintenance_queue():
    [entry] = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == sweep_stuck_work.name]
    assert entry["schedule"] == django_settings.CATDOG_SWEEP_SECONDS
    assert celery_app.amqp.router.route({}, sweep_stuck_work.name)["queue"].name == "maintenance"
    assert celery_app.amqp.router.route({}, "trainer.tasks.train_model_version")["queue"].name == "training"


def test_the_admin_pages_write_nothing_on_get(admin_client, dataset):
    """Stale work on every page, as the sweep would find it: the pages show it and leave it to the sweep."""
    version = _running(dataset, timedelta(minutes=5))
    _being_checked(dataset, LONG_AGO)
    urls = [
        reverse("admin:trainer_dataset_changelist"),
        reverse("admin:trainer_dataset_change", args=[dataset.pk]),
        reverse("admin:trainer_modelversion_changelist"),
        reverse("admin:trainer_modelversion_change", args=[version.pk]),
    ]
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        writes = [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
        assert writes == [], url
    version.refresh_from_db()
    dataset.refresh_from_db()
    assert (version.status, dataset.status) == (ModelVersion.Status.RUNNING, Dataset.Status.PROCESSING)


def test_the_sweep_fails_a_measurement_whose_worker_died_and_leaves_a_running_one():
    """A measurement's task has a hard time limit: one still running past it has lost its worker."""
    version = saved_version()
    limit = timedelta(seconds=MEASURE_TIME_LIMIT_SECONDS)
    dead = Measurement.objects.create(version=version, status="running", started_at=timezone.now() - limit * 2)
    alive = Measurement.objects.create(version=version, status="running", started_at=timezone.now() - limit / 2)

    assert sweep_stuck_work.delay().get() == {"trainings": 0, "datasets": 0, "measurements": 1}

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, alive.status) == (Measurement.Status.FAILED, Measurement.Status.RUNNING)
    assert dead.error.startswith("The measurement stopped without a result: no worker has been on it for over")
