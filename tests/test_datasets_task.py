"""The ingestion task: its queue, redeliveries, stale runs, checking again and deleting."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from catdog_site.celery import app as celery_app
from trainer.actions import do_finish_ingestion, do_recheck_dataset
from trainer.datasets import Collection, collect
from trainer.models import Dataset, DatasetImage
from trainer.tasks import MAX_INGEST_ATTEMPTS, ingest_dataset

from .dataset_helpers import class_folders, media_files, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_ingestion_is_sent_to_the_datasets_queue_not_the_training_one(make_dataset, monkeypatch):
    # Settings route trainer.tasks.* to "training", and ingest_* before it to "datasets".
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    with mock.patch.object(celery_app.amqp, "send_task_message") as send:
        dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 1, "dog": 1})))
    [call] = send.call_args_list
    assert call.args[1] == "trainer.tasks.ingest_dataset"
    assert call.kwargs["queue"].name == "datasets"
    assert dataset.status == Dataset.Status.PENDING


def test_a_second_delivery_of_a_finished_check_changes_nothing(make_dataset, settings):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    images = list(dataset.images.values_list("pk", "file"))
    files = media_files(settings)

    ingest_dataset(dataset.pk)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY and dataset.attempts == 1
    assert list(dataset.images.values_list("pk", "file")) == images
    assert media_files(settings) == files


def test_a_deleted_dataset_is_ignored():
    ingest_dataset(12345)  # no error, nothing to do
    assert not Dataset.objects.exists()


def test_a_check_interrupted_by_a_dead_worker_is_taken_over_by_the_redelivery(make_dataset, settings, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    with mock.patch.object(celery_app.amqp, "send_task_message"):
        dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.PROCESSING, attempts=1)

    ingest_dataset(dataset.pk)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.attempts == 2
    assert dataset.images.count() == 4


def test_a_redelivery_reuses_the_files_an_earlier_run_stored(make_dataset, settings):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    files = media_files(settings)
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.PROCESSING)  # as if it died before the end

    ingest_dataset(dataset.pk)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert media_files(settings) == files  # the same names: no second copies, nothing deleted


def test_a_dataset_that_kept_killing_its_worker_is_failed(make_dataset, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    with mock.patch.object(celery_app.amqp, "send_task_message"):
        dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.PROCESSING, attempts=MAX_INGEST_ATTEMPTS)

    ingest_dataset(dataset.pk)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "The worker stopped 3 times while checking this dataset; see the worker's log."


def test_a_run_whose_claim_was_taken_over_writes_nothing(make_dataset):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.PROCESSING)
    collection = Collection(dataset)
    collection.add("cat/x.png", "cat", photo(70))
    collection.add("dog/y.png", "dog", photo(71))

    assert not do_finish_ingestion(dataset.pk, timezone.now(), collection)  # not this run's claim

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.PROCESSING
    assert sorted(dataset.images.values_list("origin", flat=True)) == [
        "cat/0.png",
        "cat/1.png",
        "dog/2.png",
        "dog/3.png",
    ]


def test_checking_a_folder_again_replaces_its_images_and_deletes_the_old_files(
    make_dataset, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    folder = write_tree(tmp_path / "pets", class_folders({"cat": 2, "dog": 2}))
    dataset = make_dataset(folder=folder)
    old_hash = dataset.content_sha256
    (folder / "cat" / "0.png").unlink()
    write_tree(folder, {"dog/new.png": photo(80)})

    with django_capture_on_commit_callbacks(execute=True):
        assert do_recheck_dataset(dataset)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 1, "dog": 3}
    assert dataset.content_sha256 != old_hash
    kept = {name for pair in dataset.images.values_list("file", "thumbnail") for name in pair if name}
    assert media_files(settings) == kept


def test_a_dataset_being_checked_is_not_sent_again(make_dataset, monkeypatch):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 1, "dog": 1})))
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.PROCESSING, started_at=timezone.now())
    assert not do_recheck_dataset(dataset)
    stuck = timezone.now() - timedelta(hours=2)
    Dataset.objects.filter(pk=dataset.pk).update(started_at=stuck)
    assert do_recheck_dataset(dataset)  # a worker cannot still be on it: its time limit is over


def test_a_failed_check_again_leaves_no_images(make_dataset, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    folder = write_tree(tmp_path / "pets", class_folders({"cat": 2, "dog": 2}))
    dataset = make_dataset(folder=folder)
    for path in (folder / "dog").iterdir():
        path.unlink()

    with django_capture_on_commit_callbacks(execute=True):
        do_recheck_dataset(dataset)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.content_sha256 == "" and dataset.class_names == []
    assert dataset.images.count() == 0
    assert media_files(settings) == set()


def test_deleting_a_dataset_deletes_its_files(make_dataset, settings, django_capture_on_commit_callbacks):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    assert media_files(settings)
    with django_capture_on_commit_callbacks(execute=True):
        dataset.delete()
    assert not Dataset.objects.exists() and not DatasetImage.objects.exists()
    assert media_files(settings) == set()


def test_a_dataset_deleted_during_its_check_leaves_no_files_behind(
    make_dataset, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    with mock.patch.object(celery_app.amqp, "send_task_message"):
        dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    stored = []

    def collect_then_delete(checked, collection):
        collect(checked, collection)
        stored.extend(collection.stored)
        with django_capture_on_commit_callbacks(execute=True):
            Dataset.objects.filter(pk=checked.pk).delete()  # deleted from the admin meanwhile

    monkeypatch.setattr("trainer.tasks.collect", collect_then_delete)
    ingest_dataset(dataset.pk)

    assert stored  # the check had stored the photos (and thumbnails)
    assert not Dataset.objects.exists()
    assert media_files(settings) == set()
