"""Files that are not usable images are skipped and listed with the reason; they never stop the check."""

import pytest

from trainer.models import Dataset

from .conftest import image_bytes
from .dataset_helpers import class_folders, media_files, photo, skipped, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_non_images_and_corrupt_images_are_skipped_and_listed(make_dataset):
    entries = {
        **class_folders({"cat": 2, "dog": 2}),
        "cat/notes.txt": b"not a picture at all",
        "cat/fake.jpg": b"<html>this is a web page</html>",
        "dog/truncated.png": photo(50)[:60],
        "dog/empty.png": b"",
        "dog/icon.tiff": image_bytes("TIFF"),
        "README": b"read me",
    }
    dataset = make_dataset(archive=zip_bytes(entries))

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert dataset.report["skipped_count"] == 6
    reasons = skipped(dataset)
    assert reasons["cat/notes.txt"].startswith("notes.txt is not an image we can read")
    assert reasons["cat/fake.jpg"].startswith("fake.jpg is not an image we can read")
    assert reasons["dog/truncated.png"] == "truncated.png is damaged or incomplete and cannot be decoded."
    assert reasons["dog/empty.png"] == "empty.png is empty."
    assert reasons["dog/icon.tiff"].startswith("icon.tiff is a TIFF image")
    assert "not in a class folder" in reasons["README"]


def test_an_image_over_the_size_limit_is_skipped_without_being_read(make_dataset, settings):
    big = photo(60, size=(400, 400), fmt="BMP")
    settings.CATDOG_MAX_UPLOAD_BYTES = len(big) - 1
    dataset = make_dataset(archive=zip_bytes({**class_folders({"cat": 1, "dog": 1}), "cat/big.bmp": big}))
    assert dataset.report["counts"] == {"cat": 1, "dog": 1}
    assert skipped(dataset)["cat/big.bmp"].startswith("skipped: 468.8\xa0KB; the limit is")


def test_an_image_with_too_many_pixels_is_skipped(make_dataset, settings):
    settings.CATDOG_MAX_IMAGE_PIXELS = 1000
    dataset = make_dataset(
        archive=zip_bytes({**class_folders({"cat": 1, "dog": 1}), "dog/wide.png": photo(7, size=(100, 20))})
    )
    assert skipped(dataset)["dog/wide.png"].startswith("wide.png is 100×20 pixels")


def test_an_unusable_class_name_is_skipped(make_dataset):
    dataset = make_dataset(archive=zip_bytes({**class_folders({"cat": 1, "dog": 1}), "-weird-/1.png": photo(8)}))
    assert skipped(dataset)["-weird-/1.png"].startswith("the class name '-weird-' is not usable")


def test_a_dataset_with_a_single_class_fails_and_keeps_nothing(make_dataset, settings):
    dataset = make_dataset(archive=zip_bytes({**class_folders({"cat": 2}), "dog/bad.png": b"nope"}))
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error.startswith("Training needs at least two classes, and this dataset has one: cat (2 images).")
    assert dataset.report["skipped_count"] == 1  # the report still says why the dog went missing
    assert dataset.images.count() == 0
    assert media_files(settings) == {f"datasets/{dataset.pk}/archive.zip"}


def test_a_dataset_without_any_usable_image_fails(make_dataset):
    dataset = make_dataset(archive=zip_bytes({"cat/a.txt": b"a", "dog/b.txt": b"b"}))
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "No usable image was found; the report lists what was skipped and why."
    assert dataset.report["skipped_count"] == 2
