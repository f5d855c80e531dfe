"""A folder on the server becomes a dataset; only folders under the allowed roots, and no links out of them."""

import pytest

from trainer.models import Dataset

from .dataset_helpers import class_folders, photo, skipped, write_tree

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def roots(settings, tmp_path):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path / "datasets")]
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


def test_a_server_folder_of_class_folders_becomes_a_ready_dataset(make_dataset, roots):
    entries = class_folders({"cat": 3, "dog": 2})
    folder = write_tree(roots / "pets", entries)
    dataset = make_dataset(folder=folder)

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.source == Dataset.Source.FOLDER
    assert dataset.report["counts"] == {"cat": 3, "dog": 2}
    assert sorted(dataset.images.values_list("origin", flat=True)) == sorted(entries)
    assert not dataset.archive


def test_a_flat_kaggle_style_server_folder(make_dataset, roots):
    folder = write_tree(roots / "train", {"cat.0.png": photo(0), "cat.1.png": photo(1), "dog.0.png": photo(2)})
    dataset = make_dataset(folder=folder)
    assert dataset.report["counts"] == {"cat": 2, "dog": 1}


def test_a_folder_outside_the_allowed_roots_is_refused(make_dataset, roots, tmp_path):
    folder = write_tree(tmp_path / "elsewhere", class_folders({"cat": 1, "dog": 1}))
    dataset = make_dataset(folder=folder)
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error.startswith(f"{folder} is outside the folders datasets may come from ({roots}")
    assert dataset.images.count() == 0


def test_a_link_out_of_the_roots_counts_as_outside(make_dataset, roots, tmp_path):
    outside = write_tree(tmp_path / "elsewhere", class_folders({"cat": 1, "dog": 1}))
    (roots / "link").symlink_to(outside)
    dataset = make_dataset(folder=roots / "link")
    assert dataset.status == Dataset.Status.FAILED
    assert "is outside the folders datasets may come from" in dataset.error


def test_a_missing_folder_fails(make_dataset, roots):
    dataset = make_dataset(folder=roots / "nothing-here")
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == f"{roots / 'nothing-here'} is not a folder on the server."


def test_a_relative_path_fails(make_dataset, roots):
    dataset = make_dataset(folder="datasets/pets")
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "datasets/pets is not an absolute path."


def test_links_inside_the_folder_are_not_followed(make_dataset, roots, tmp_path):
    folder = write_tree(roots / "pets", class_folders({"cat": 2, "dog": 2}))
    secret = write_tree(tmp_path / "private", {"cat/secret.png": photo(99), "me.png": photo(98)})
    (folder / "cat" / "me.png").symlink_to(secret / "me.png")
    (folder / "bird").symlink_to(secret / "cat")
    dataset = make_dataset(folder=folder)

    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert skipped(dataset) == {"cat/me.png": "refused: a symbolic link", "bird": "refused: a symbolic link"}


def test_dotfiles_and_hidden_folders_are_ignored(make_dataset, roots):
    entries = {**class_folders({"cat": 2, "dog": 2}), "cat/.DS_Store": b"Bud1", ".thumbs/dog/5.png": photo(5)}
    dataset = make_dataset(folder=write_tree(roots / "pets", entries))
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert dataset.report["skipped"] == []
    assert dataset.report["ignored"] == 2


def test_a_folder_with_too_many_files_is_refused(make_dataset, roots, settings):
    settings.CATDOG_DATASET_MAX_FILES = 3
    dataset = make_dataset(folder=write_tree(roots / "pets", class_folders({"cat": 2, "dog": 2})))
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "The folder holds more than 3 files."
