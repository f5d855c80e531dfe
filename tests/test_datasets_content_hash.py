"""A dataset's content_sha256 depends on which images are in which class, and on nothing else."""

import hashlib

import pytest

from trainer.datasets import content_hash

from .dataset_helpers import class_folders, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_the_hash_is_over_the_sorted_label_and_image_hash_pairs():
    pairs = [("dog", "b" * 64), ("cat", "c" * 64), ("cat", "a" * 64)]
    expected = hashlib.sha256(f"cat\t{'a' * 64}\ncat\t{'c' * 64}\ndog\t{'b' * 64}\n".encode()).hexdigest()
    assert content_hash(pairs) == expected
    assert content_hash(reversed(pairs)) == expected


def test_the_same_images_give_the_same_hash_whatever_the_order_names_or_source(make_dataset, settings, tmp_path):
    entries = class_folders({"cat": 3, "dog": 2})
    first = make_dataset("first", archive=zip_bytes(entries))
    reordered = make_dataset("reordered", archive=zip_bytes(dict(reversed(entries.items()))))
    renamed = {f"{name.split('/')[0]}/renamed-{i}.png": data for i, (name, data) in enumerate(entries.items())}
    kaggle = {f"{name.split('/')[0]}.{i}.png": data for i, (name, data) in enumerate(entries.items())}
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    from_folder = make_dataset("folder", folder=write_tree(tmp_path / "pets", renamed))
    flat = make_dataset("kaggle", archive=zip_bytes(kaggle))

    assert first.content_sha256 == content_hash(first.images.values_list("label", "sha256"))
    assert {d.content_sha256 for d in (first, reordered, from_folder, flat)} == {first.content_sha256}


def test_another_image_or_another_class_changes_the_hash(make_dataset):
    entries = class_folders({"cat": 2, "dog": 2})
    base = make_dataset("base", archive=zip_bytes(entries)).content_sha256
    one_more = make_dataset("more", archive=zip_bytes({**entries, "dog/x.png": photo(77)})).content_sha256
    relabelled = {name.replace("cat/", "kitten/"): data for name, data in entries.items()}
    other_class = make_dataset("relabelled", archive=zip_bytes(relabelled)).content_sha256
    assert len({base, one_more, other_class}) == 3
