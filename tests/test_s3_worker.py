"""A real worker whose files are all in an S3-compatible object store (moto's server on loopback): it reads
photos, models and dataset archives through the storage API, never from a local folder (its MEDIA_ROOT is
empty and stays so), and stores what it makes (dataset images, trained models) in the bucket."""

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from catdog_site.celery import app as celery_app
from classifier.models import Prediction
from trainer.actions import do_activate_model_version, do_create_dataset, do_register_model_version
from trainer.engines import KINDS
from trainer.files import file_sha256
from trainer.management.commands.ensure_shipped_model import Command as EnsureShippedModel
from trainer.models import Dataset, ModelExport, ModelVersion

from .conftest import shared_photo, upload
from .dataset_helpers import CLASS_COLOURS, coloured_photo, zip_bytes
from .training_helpers import request_tiny_training
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.s3"]

QUEUES = ("predictions", "datasets", "training")
SHIPPED = Path(settings.CATDOG_SHIPPED_MODEL_DIR) / "catdog.keras"


@pytest.fixture(scope="module")
def worker_dirs(tmp_path_factory):
    return {
        "media": tmp_path_factory.mktemp("s3-worker-media"),
        "cache": tmp_path_factory.mktemp("s3-worker-model-cache"),
        "log": tmp_path_factory.mktemp("s3-worker-log") / "worker.log",
    }


@pytest.fixture(scope="module")
def s3_worker(django_db_setup, django_db_blocker, s3_server, worker_dirs):
    with django_db_blocker.unblock():
        with running_worker(
            queues=",".join(QUEUES),
            media_root=worker_dirs["media"],
            name="s3-worker",
            log_path=worker_dirs["log"],
            extra_env={**s3_server.env(), "CATDOG_MODEL_CACHE_DIR": str(worker_dirs["cache"])},
        ) as process:
            yield process


@pytest.fixture
def s3(s3_storage, s3_worker, worker_dirs, monkeypatch):
    """An empty bucket for this test and its worker, whose model cache starts empty too."""
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    for cached in worker_dirs["cache"].iterdir():
        cached.unlink()
    yield s3_storage
    assert list(worker_dirs["media"].iterdir()) == []  # the worker never wrote a local file


def _wait(obj, *, unfinished, timeout=120):
    deadline = time.monotonic() + timeout
    obj.refresh_from_db()
    while obj.status in unfinished and time.monotonic() < deadline:
        time.sleep(0.2)
        obj.refresh_from_db()
    return obj


def _predict(client, user, photo: Path, data: bytes | None = None) -> Prediction:
    client.force_login(user)
    r = client.post(reverse("classifier:upload"), {"images": [upload(photo.name, data or photo.read_bytes())]})
    assert r.status_code == 302
    return _wait(Prediction.objects.latest("id"), unfinished={Prediction.Status.PENDING})


def _served_files(version: ModelVersion) -> set[str]:
    """The files a worker fetches to serve `version`, as its cache names them: the configured engine's serving
    file, the head's weights and the calibration, if it has one."""
    kinds = [KINDS[settings.CATDOG_ENGINE], ModelExport.Kind.SERVING_HEAD]
    exports = version.exports.filter(kind__in=kinds, status=ModelExport.Status.VERIFIED)
    assert exports.count() == 2, list(exports)
    calibration = {f"{version.calibration_sha256}.npz"} if version.calibration.name else set()
    return {f"{e.sha256}{Path(e.file.name).suffix}" for e in exports} | calibration


def _worker_log(worker_dirs) -> str:
    return worker_dirs["log"].read_text()[-3000:]


def test_the_worker_reads_the_photo_and_the_model_through_storage(s3, worker_dirs, client, user):
    call_command("ensure_shipped_model", verbosity=0)
    version = ModelVersion.objects.get(is_active=True)
    assert version.file.name in s3.keys()

    prediction = _predict(client, user, shared_photo("cat", 4001))

    assert prediction.status == Prediction.Status.DONE, prediction.error or _worker_log(worker_dirs)
    assert prediction.label == "cat" and prediction.model_version == version
    assert prediction.image.name in s3.keys()
    # Its serving files and its calibration came from the bucket into the worker's cache, checked against their
    # hashes; the .keras never did.
    assert prediction.verdict == "cat" and version.calibration.name in s3.keys()
    assert {p.name for p in worker_dirs["cache"].iterdir()} == _served_files(version)


def test_a_registered_model_is_stored_in_the_bucket_and_answers_once_activated(s3, worker_dirs, client, user):
    version = do_register_model_version(
        name="s3-registered",
        model_path=SHIPPED,
        architecture=ModelVersion.Architecture.MOBILENET_V2,
        class_names=["cat", "dog"],
        image_size=json.loads(SHIPPED.with_suffix(".json").read_text())["image_size"],
        params={},
        metrics={"accuracy": 0.99},
        summary="",
        # The shipped serving files, verified against this very .keras: without them it could not be activated.
        exports=EnsureShippedModel()._exports(SHIPPED.parent, file_sha256(SHIPPED)),
    )
    assert version.file.name.startswith("models/s3-registered-") and version.file.name in s3.keys()
    with open(SHIPPED, "rb") as f:
        assert s3.read(version.file.name) == f.read()

    before = _predict(client, user, shared_photo("dog", 4001))
    assert before.status == Prediction.Status.FAILED and "No model is active" in before.error

    do_activate_model_version(version)
    after = _predict(client, user, shared_photo("dog", 4001))

    assert after.status == Prediction.Status.DONE, after.error or _worker_log(worker_dirs)
    assert after.label == "dog" and after.model_version == version
    assert {p.name for p in worker_dirs["cache"].iterdir()} == _served_files(version)


def _ingested_dataset(user, worker_dirs) -> Dataset:
    dataset = Dataset(name="pets", source=Dataset.Source.ZIP, created_by=user)
    photos = {f"{label}/{n}.png": coloured_photo(label, n) for label in CLASS_COLOURS for n in range(6)}
    do_create_dataset(dataset, archive=upload("pets.zip", zip_bytes(photos)))
    dataset = _wait(dataset, unfinished={Dataset.Status.PENDING, Dataset.Status.PROCESSING})
    assert dataset.status == Dataset.Status.READY, dataset.error or _worker_log(worker_dirs)
    return dataset


def test_a_dataset_checked_by_the_worker_keeps_its_images_in_the_bucket(s3, worker_dirs, user):
    dataset = _ingested_dataset(user, worker_dirs)

    assert dataset.report["counts"] == {"cat": 6, "dog": 6}
    images = list(dataset.images.all())
    stored = {image.file.name for image in images} | {image.thumbnail.name for image in images if image.thumbnail}
    assert len(stored) > len(images)  # the sample thumbnails too
    assert s3.keys() == stored | {dataset.archive.name}
    assert all(name.startswith(f"datasets/{dataset.pk}/") for name in s3.keys())


def test_a_model_trained_by_the_worker_is_stored_in_the_bucket_and_answers(s3, worker_dirs, client, user):
    dataset = _ingested_dataset(user, worker_dirs)
    # Three epochs are enough to tell the classes' colours apart for certain: its answers are known.
    version = request_tiny_training(dataset, name="s3-trained", params={"epochs": 3, "learning_rate": 0.003})

    version = _wait(version, unfinished={ModelVersion.Status.QUEUED, ModelVersion.Status.RUNNING}, timeout=300)

    assert version.status == ModelVersion.Status.READY, version.error or _worker_log(worker_dirs)
    assert version.file.name.startswith("models/s3-trained-") and version.file.name in s3.keys()
    assert version.calibration.name in s3.keys()  # the verdict rule travels with the model
    do_activate_model_version(version)
    for label in CLASS_COLOURS:
        prediction = _predict(client, user, Path(f"{label}.png"), coloured_photo(label, "never seen"))
        assert prediction.status == Prediction.Status.DONE, prediction.error or _worker_log(worker_dirs)
        assert (prediction.label, prediction.model_version) == (label, version), prediction.probabilities
    assert {p.name for p in worker_dirs["cache"].iterdir()} == _served_files(version)
