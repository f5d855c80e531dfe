"""Training reads a ready dataset as a local class-per-folder tree written from storage."""

import hashlib

import pytest
from django.core.files.storage import default_storage

from trainer.datasets import DatasetRefused, materialize
from trainer.ml.data import list_class_folder

from .dataset_helpers import class_folders, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_a_ready_dataset_is_written_as_one_folder_per_class(make_dataset, tmp_path):
    entries = class_folders({"dog": 2, "cat": 3})
    dataset = make_dataset(archive=zip_bytes(entries))

    class_names = materialize(dataset, tmp_path / "train")

    assert class_names == ["cat", "dog"]
    written = sorted(str(p.relative_to(tmp_path / "train")) for p in (tmp_path / "train").rglob("*.png"))
    expected = sorted(
        f"{label}/{hashlib.sha256(data).hexdigest()}.png"
        for label, data in ((name.split("/")[0], data) for name, data in entries.items())
    )
    assert written == expected


def test_the_training_pipeline_reads_the_written_tree(make_dataset, tmp_path):
    dataset = make_dataset(archive=zip_bytes(class_folders({"dog": 2, "cat": 3})))
    class_names = materialize(dataset, tmp_path / "train")
    paths, labels, names = list_class_folder(tmp_path / "train")
    assert names == class_names and len(paths) == 5 and sorted(labels.tolist()) == [0, 0, 0, 1, 1]


def test_a_file_damaged_in_storage_stops_the_copy(make_dataset, tmp_path):
    dataset = make_dataset(archive=zip_bytes(class_folders({"cat": 1, "dog": 1})))
    image = dataset.images.first()
    with open(default_storage.path(image.file.name), "ab") as f:
        f.write(b"bit rot")
    with pytest.raises(DatasetRefused, match="no longer matches its SHA-256"):
        materialize(dataset, tmp_path / "train")


def test_only_a_ready_dataset_can_be_materialized(make_dataset, tmp_path):
    dataset = make_dataset(archive=b"not a zip")
    with pytest.raises(DatasetRefused, match="is failed, not ready"):
        materialize(dataset, tmp_path / "train")
