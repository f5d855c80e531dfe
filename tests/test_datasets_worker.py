"""A zip dataset checked end to end by a real worker that consumes only the "datasets" queue on real Redis."""

import time

import pytest

from catdog_site.celery import app as celery_app
from trainer.actions import do_create_dataset
from trainer.models import Dataset

from .conftest import upload
from .dataset_helpers import class_folders, zip_bytes
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_on_the_datasets_queue_checks_an_uploaded_zip(settings, tmp_path, monkeypatch, user):
    settings.MEDIA_ROOT = tmp_path / "media"  # the worker's CATDOG_MEDIA_ROOT: the same storage
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    with running_worker(
        queues="datasets", media_root=settings.MEDIA_ROOT, name="e2e-datasets", log_path=tmp_path / "worker.log"
    ):
        dataset = Dataset(name="pets", source=Dataset.Source.ZIP, created_by=user)
        do_create_dataset(dataset, archive=upload("pets.zip", zip_bytes(class_folders({"cat": 3, "dog": 2}))))

        deadline = time.monotonic() + 60
        while dataset.status in (Dataset.Status.PENDING, Dataset.Status.PROCESSING) and time.monotonic() < deadline:
            time.sleep(0.2)
            dataset.refresh_from_db()

    assert dataset.status == Dataset.Status.READY, dataset.error or (tmp_path / "worker.log").read_text()[-3000:]
    assert dataset.report["counts"] == {"cat": 3, "dog": 2}
    assert dataset.images.count() == 5
    for image in dataset.images.all():
        assert (settings.MEDIA_ROOT / image.file.name).is_file()
    assert "trainer.tasks.ingest_dataset" in (tmp_path / "worker.log").read_text()
