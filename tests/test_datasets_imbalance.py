"""The report warns when one class has many more images than another."""

import pytest

from trainer.datasets import IMBALANCE_RATIO, imbalance_warning

from .dataset_helpers import class_folders, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_unbalanced_classes_are_warned_about(make_dataset):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 6, "dog": 2, "fox": 4})))
    assert dataset.report["imbalance"] == (
        "The classes are unbalanced: cat has 6 images and dog only 2 (3.0×). Training weighs the classes "
        "equally, but more dog images would help the model most."
    )


def test_balanced_classes_get_no_warning(make_dataset):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 3, "dog": 3})))
    assert dataset.report["imbalance"] == ""


def test_the_warning_starts_at_the_ratio():
    assert IMBALANCE_RATIO == 1.5
    assert imbalance_warning({"cat": 3, "dog": 2}).startswith("The classes are unbalanced: cat has 3")
    assert imbalance_warning({"cat": 29, "dog": 20}) == ""
    assert imbalance_warning({"cat": 30, "dog": 20}).startswith("The classes are unbalanced: cat has 30")
