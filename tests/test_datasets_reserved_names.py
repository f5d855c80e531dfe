""" "unsure" and "other" are the answers a calibrated model gives beside its classes: no class may be named so.
A dataset with such a class is refused when it is checked, with what to do; an ordinary class name is kept."""

import pytest

from trainer.models import Dataset

from .dataset_helpers import class_folders, media_files, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reserved", ["other", "unsure", "Other", "UNSURE"])
def test_a_zip_with_a_class_named_like_a_verdict_is_refused(make_dataset, settings, reserved):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 2, "dog": 2, reserved: 2})))
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == (
        f"A class cannot be named “{reserved}”: “unsure” and “other” are the answers a model gives when it cannot "
        "tell which of its classes a photo shows, or when the photo shows none of them. Rename that class's "
        "folder (or the files' prefix, for files named <class>.<n>.jpg) after what its photos show, and check the "
        "dataset again."
    )
    assert dataset.images.count() == 0
    assert media_files(settings) == {f"datasets/{dataset.pk}/archive.zip"}, "no image of it is kept"


def test_flat_files_named_other_are_refused_too(make_dataset, settings, tmp_path):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    folder = write_tree(tmp_path / "flat", {"cat.0.png": photo(0), "other.0.png": photo(1), "other.1.png": photo(2)})
    dataset = make_dataset(folder=folder)
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error.startswith("A class cannot be named “other”:")


def test_a_class_that_only_contains_the_word_is_kept(make_dataset):
    dataset = make_dataset(archive=zip_bytes(class_folders({"other animals": 2, "unsure-looking dogs": 2})))
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.class_names == ["other animals", "unsure-looking dogs"]
