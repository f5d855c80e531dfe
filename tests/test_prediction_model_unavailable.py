"""A model that cannot be loaded is the service's fault: never blamed on the photo, retried when it may pass,
logged for the administrators. The shipped model's serving files, really missing or really damaged; no double."""

import io
import logging

import pytest
from django.conf import settings
from django.core.management import call_command

from catdog_site.celery import app as celery_app
from classifier import inference, tasks
from classifier.models import Prediction
from trainer.engines import engine_class
from trainer.models import ModelVersion

from .test_inference import RemoteStorage, remote_storage  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


@pytest.fixture(autouse=True)
def _retries_run_as_a_worker_runs_them(monkeypatch):
    """A retry the task asks for runs again at once (eagerly), instead of raising out of the test."""
    monkeypatch.setattr(celery_app.conf, "task_eager_propagates", False)


@pytest.fixture
def version():
    inference._loaded.clear()  # a worker process that has not loaded any model yet
    call_command("ensure_shipped_model", stdout=io.StringIO())
    yield ModelVersion.objects.get(is_active=True)
    inference._loaded.clear()


def _predict(make_prediction) -> Prediction:
    prediction = make_prediction()
    tasks.predict_image.delay(prediction.pk)
    prediction.refresh_from_db()
    return prediction


def _assert_blames_the_model(prediction, caplog, version, cause):
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.error == tasks.MODEL_UNAVAILABLE
    assert "photo" not in prediction.error.split(":")[0]  # the reason given first is the model's
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(version) in record.getMessage()
    assert cause in record.getMessage()


def _serving_file(version):
    """The file the configured engine reads."""
    return version.exports.get(kind=engine_class(settings.CATDOG_ENGINE).kind).file


def test_a_missing_serving_file_fails_the_prediction_as_the_services_fault(make_prediction, version, caplog):
    served = _serving_file(version)
    served.storage.delete(served.name)
    prediction = _predict(make_prediction)
    _assert_blames_the_model(prediction, caplog, version, "is missing")


def test_a_damaged_serving_file_fails_the_prediction_as_the_services_fault(make_prediction, version, caplog):
    with open(_serving_file(version).path, "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 4096)  # the file's contents overwritten, as a bad disk block would
    prediction = _predict(make_prediction)
    _assert_blames_the_model(prediction, caplog, version, "cannot be loaded")


def test_a_version_without_serving_files_fails_the_prediction_saying_how_to_make_them(make_prediction, version, caplog):
    version.exports.all().delete()  # a version trained before serving files were made
    prediction = _predict(make_prediction)
    _assert_blames_the_model(prediction, caplog, version, f"run manage.py export_version {version.pk}")


class FlakyStorage(RemoteStorage):
    """Remote storage that is unreachable for the first `failures` reads."""

    failures = 0

    def _open(self, name, mode="rb"):
        if FlakyStorage.failures > 0:
            FlakyStorage.failures -= 1
            raise ConnectionError("storage unreachable")
        return super()._open(name, mode)


@pytest.fixture
def flaky_storage(settings, remote_storage):  # noqa: F811
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.FlakyStorage"}}
    inference._loaded.clear()
    call_command("ensure_shipped_model", stdout=io.StringIO())
    yield ModelVersion.objects.get(is_active=True)
    FlakyStorage.failures = 0
    inference._loaded.clear()


def test_a_model_briefly_unreachable_in_storage_is_fetched_on_a_retry(make_prediction, flaky_storage):
    FlakyStorage.failures = 2  # the model's first two fetches
    prediction = _predict(make_prediction)
    assert prediction.status == Prediction.Status.DONE, prediction.error
    assert prediction.label in flaky_storage.class_names
    assert prediction.attempts == 1  # retries the task chose are not deliveries lost to a dying worker


def test_a_model_unreachable_for_every_retry_fails_as_the_services_fault(make_prediction, flaky_storage, caplog):
    FlakyStorage.failures = 1_000
    prediction = _predict(make_prediction)
    _assert_blames_the_model(prediction, caplog, flaky_storage, "storage unreachable")
    assert FlakyStorage.failures == 1_000 - 1 - tasks.predict_image.max_retries  # bounded: then it gives up
