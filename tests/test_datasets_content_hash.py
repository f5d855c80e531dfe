"""A dataset's content_sha256 depends on which images are in which class, and on nothing else."""

import re

import pytest

from trainer.datasets.collection import content_hash

from .dataset_helpers import class_folders, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


def test_the_hash_binds_each_image_to_its_class_and_ignores_the_order():
    a, b, c = ("a" * 64, "b" * 64, "c" * 64)
    pairs = [("dog", b), ("cat", c), ("cat", a)]
    assert content_hash(reversed(pairs)) == content_hash(pairs) == content_hash(sorted(pairs))
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(pairs))  # a SHA-256, in hex
    others = [
        [("dog", c), ("cat", b), ("cat", a)],  # the same classes and images, paired otherwise
        [("dog", b), ("cat", c)],  # one image fewer
        [("dog", b), ("dog", c), ("cat", a)],  # one image in another class
        [("dog", b), ("cat", c), ("cat", "d" * 64)],  # one image changed
    ]
    assert len({content_hash(pairs), *map(content_hash, others)}) == 1 + len(others)


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


def test_a_changed_photo_under_the_same_name_changes_the_hash(make_dataset):
    entries = class_folders({"cat": 2, "dog": 2})
    base = make_dataset("base", archive=zip_bytes(entries)).content_sha256
    changed = make_dataset("changed", archive=zip_bytes({**entries, "cat/0.png": photo(99)})).content_sha256
    assert changed != base
