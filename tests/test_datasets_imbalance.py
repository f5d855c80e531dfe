"""The report warns when one class has many more images than another."""

import pytest

from trainer.datasets.collection import imbalance_warning

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


@pytest.mark.parametrize(
    "counts, warned",
    [
        ({"cat": 3, "dog": 2}, True),  # 1.5 times: from here on the report warns
        ({"cat": 7, "dog": 5}, False),  # 1.4 times
        ({"cat": 6, "dog": 5, "fox": 4}, True),  # the largest class over the smallest, not over its neighbour
        ({"cat": 4, "dog": 4, "fox": 3}, False),
    ],
)
def test_the_report_warns_from_half_as_many_again(make_dataset, counts, warned):
    dataset = make_dataset(archive=zip_bytes(class_folders(counts)))
    assert dataset.report["counts"] == counts
    assert dataset.report["imbalance"].startswith("The classes are unbalanced") is warned


def test_the_threshold_is_exact():
    assert imbalance_warning({"cat": 29, "dog": 20}) == ""
    assert imbalance_warning({"cat": 30, "dog": 20}).startswith("The classes are unbalanced: cat has 30")
