"""A zip of class folders or of Kaggle-style flat files becomes a dataset; unusable archives are refused."""

import hashlib

import pytest
from django.core.files.storage import default_storage

from trainer.datasets.collection import SAMPLES_PER_CLASS
from trainer.models import Dataset, DatasetImage

from .dataset_helpers import class_folders, media_files, photo, skipped, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_a_zip_of_class_folders_becomes_a_ready_dataset(make_dataset, settings):
    entries = class_folders({"cat": SAMPLES_PER_CLASS + 2, "dog": 3})
    dataset = make_dataset(archive=zip_bytes(entries))

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.source == Dataset.Source.ZIP
    assert dataset.class_names == ["cat", "dog"]
    assert dataset.report["counts"] == {"cat": SAMPLES_PER_CLASS + 2, "dog": 3}
    assert dataset.report["total"] == SAMPLES_PER_CLASS + 5
    assert dataset.report["skipped"] == [] and dataset.report["duplicates"] == []
    assert dataset.archive.name == f"datasets/{dataset.pk}/archive.zip"
    assert len(dataset.content_sha256) == 64

    for image in dataset.images.all():
        data = entries[image.origin]
        digest = hashlib.sha256(data).hexdigest()
        assert image.sha256 == digest
        assert image.label == image.origin.split("/")[0]
        assert image.file.name == f"datasets/{dataset.pk}/{image.label}/{digest}.png"
        with default_storage.open(image.file.name, "rb") as f:
            assert f.read() == data
        assert (image.width, image.height) == (32, 24)
    # Thumbnails only for the samples the admin page shows.
    with_thumbnail = dataset.images.exclude(thumbnail="")
    assert with_thumbnail.filter(label="cat").count() == SAMPLES_PER_CLASS
    assert with_thumbnail.filter(label="dog").count() == 3
    expected = {f"datasets/{dataset.pk}/archive.zip"}
    expected |= {name for pair in dataset.images.values_list("file", "thumbnail") for name in pair if name}
    assert media_files(settings) == expected


def test_one_folder_wrapping_the_class_folders_is_looked_through(make_dataset):
    entries = {f"pets/{name}": data for name, data in class_folders({"cat": 2, "dog": 2}).items()}
    dataset = make_dataset(archive=zip_bytes(entries))
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}


def test_images_in_sub_folders_of_a_class_belong_to_it(make_dataset):
    dataset = make_dataset(archive=zip_bytes({"cat/a/1.png": photo(1), "cat/2.png": photo(2), "dog/3.png": photo(3)}))
    assert dataset.report["counts"] == {"cat": 2, "dog": 1}


@pytest.mark.parametrize("folder", ["", "train/"])
def test_kaggle_style_flat_files_are_labelled_by_their_name(make_dataset, folder):
    entries = {
        f"{folder}cat.0.jpg": photo(0, "JPEG"),
        f"{folder}cat.1.jpg": photo(1, "JPEG"),
        f"{folder}dog.0.jpg": photo(2, "JPEG"),
        f"{folder}notes.txt": b"these are my pets",
    }
    dataset = make_dataset(archive=zip_bytes(entries))
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 2, "dog": 1}
    assert "not in a class folder, nor named <class>.<n>.<ext>" in skipped(dataset)[f"{folder}notes.txt"]
    assert dataset.images.filter(label="cat").first().file.name.endswith(".jpg")


def test_a_file_that_is_not_a_zip_fails_with_a_clear_error(make_dataset, settings):
    dataset = make_dataset(archive=b"PK\x03\x04 but not really a zip archive")
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "The uploaded file is not a zip archive, or it is damaged."
    assert dataset.images.count() == 0
    assert media_files(settings) == {f"datasets/{dataset.pk}/archive.zip"}


def test_entries_leading_out_of_the_archive_are_refused_and_nothing_is_written_outside(
    make_dataset, settings, tmp_path
):
    evil = {
        "../evil.png": photo(90),
        "cat/../../evil2.png": photo(91),
        "/tmp/evil3.png": photo(92),
        "C:/evil4.png": photo(93),
        "..\\evil5.png": photo(94),
    }
    dataset = make_dataset(archive=zip_bytes({**class_folders({"cat": 2, "dog": 2}), **evil}))

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    reasons = skipped(dataset)
    assert set(reasons) == set(evil)
    assert all(reason.startswith("refused: an absolute path or one leading out") for reason in reasons.values())
    assert not list(tmp_path.parent.rglob("evil*"))
    assert all(name.startswith(f"datasets/{dataset.pk}/") for name in media_files(settings))


def test_symbolic_links_in_the_archive_are_refused(make_dataset):
    archive = zip_bytes(class_folders({"cat": 2, "dog": 2}), symlinks={"cat/passwd.png": "/etc/passwd"})
    dataset = make_dataset(archive=archive)
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert skipped(dataset) == {"cat/passwd.png": "refused: a symbolic link"}


def test_macosx_folders_and_dotfiles_are_ignored(make_dataset):
    entries = {
        **class_folders({"cat": 2, "dog": 2}),
        "__MACOSX/cat/._0.png": b"\x00\x05\x16\x07",
        "cat/.DS_Store": b"\x00\x00\x00\x01Bud1",
        ".hidden/dog/9.png": photo(9),
    }
    dataset = make_dataset(archive=zip_bytes(entries))
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert dataset.report["skipped"] == []
    assert dataset.report["ignored"] == 3


def test_a_zip_bomb_entry_is_refused_before_it_is_unpacked(make_dataset, settings):
    bomb = zip_bytes({**class_folders({"cat": 1, "dog": 1}), "cat/big.bmp": bytes(50 * 1024 * 1024)})
    assert len(bomb) < 200_000
    dataset = make_dataset(archive=bomb)
    assert dataset.status == Dataset.Status.FAILED
    assert "cat/big.bmp unpacks" in dataset.error and "zip bomb" in dataset.error
    assert DatasetImage.objects.count() == 0
    assert media_files(settings) == {f"datasets/{dataset.pk}/archive.zip"}


def test_an_archive_that_would_unpack_beyond_the_limit_is_refused(make_dataset, settings):
    settings.CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES = 1000
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 10, "dog": 10})))
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error.startswith("The archive holds ") and "the limit is 1000" in dataset.error


def test_an_archive_with_too_many_files_is_refused(make_dataset, settings):
    settings.CATDOG_DATASET_MAX_FILES = 3
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "The archive holds more than 3 files."


def test_an_archive_larger_than_the_limit_is_refused_by_the_worker(make_dataset, settings):
    archive = zip_bytes(class_folders({"cat": 2, "dog": 2}))
    settings.CATDOG_DATASET_MAX_ZIP_BYTES = len(archive) - 1
    dataset = make_dataset(archive=archive)
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error.startswith("The archive is larger than")
