"""Exact duplicates (the same bytes) are kept once and listed, also when filed under another class."""

import pytest

from trainer.models import Dataset

from .dataset_helpers import class_folders, photo, skipped, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_exact_duplicates_are_kept_once_and_listed(make_dataset):
    entries = {
        **class_folders({"cat": 2, "dog": 2}),
        "cat/copy-of-0.png": photo(0),  # the same bytes as cat/0.png
        "dog/also-0.png": photo(0),  # and again, under another class
    }
    dataset = make_dataset(archive=zip_bytes(entries))

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert dataset.images.count() == 4
    assert dataset.report["duplicate_count"] == 2
    assert dataset.report["duplicates"] == [
        {"file": "cat/copy-of-0.png", "label": "cat", "same_as": "cat/0.png", "same_as_label": "cat"},
        {"file": "dog/also-0.png", "label": "dog", "same_as": "cat/0.png", "same_as_label": "cat"},
    ]
    assert skipped(dataset) == {}


def test_the_same_photo_in_another_format_is_not_an_exact_duplicate(make_dataset):
    entries = {**class_folders({"cat": 1, "dog": 1}), "cat/0.bmp": photo(0, "BMP")}
    dataset = make_dataset(archive=zip_bytes(entries))
    assert dataset.report["counts"] == {"cat": 2, "dog": 1}
    assert dataset.report["duplicate_count"] == 0
