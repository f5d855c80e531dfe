"""Dataset versions (trainer/actions/datasets.py do_derive_dataset_version): a parent's images plus accepted photos,
frozen, with the lineage's one test split; what is left out and why; refusals that leave nothing behind; files
shared with the parent that outlive any one row naming them."""

from pathlib import Path, PurePosixPath

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import ProtectedError

from trainer.actions import NewImage, do_derive_dataset_version, do_recheck_dataset
from trainer.datasets import DatasetRefused, materialize
from trainer.datasets.collection import content_hash
from trainer.ml.data import make_datasets
from trainer.models import Dataset, DatasetImage

from .dataset_helpers import class_folders, media_files, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def root(make_dataset):
    # Classes of different sizes, so that a split drawn in another order would not come out the same.
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 11, "dog": 7})))


def stored(name: str, data: bytes) -> str:
    """A photo in storage, where the review queue's photos are (a user's upload), by its storage name."""
    return default_storage.save(f"uploads/{name}", ContentFile(data))


def accepted(label: str, n: int) -> NewImage:
    """A new photo, distinct from every photo of `class_folders` below 1000, accepted as `label`."""
    return NewImage(label, stored(f"{n}.png", photo(1000 + n)), f"prediction {n}")


def split_of(dataset: Dataset, split: str) -> set[str]:
    return set(dataset.images.filter(split=split).values_list("sha256", flat=True))


def test_a_first_version_freezes_the_photos_a_default_training_of_the_root_holds_out(root, user, tmp_path):
    version = do_derive_dataset_version(root, [accepted("cat", 1)], by=user)

    # What a training of the root with the default test share and seed measures on (tasks.py trains on the
    # materialized tree): the same photos, so a version trained on the root compares with the lineage's.
    materialize(root, tmp_path / "root")
    held_out = make_datasets(tmp_path / "root", None, image_size=32).test_paths
    assert split_of(version, "test") == {PurePosixPath(path).stem for path in held_out}
    assert version.images.filter(split="test", label="cat").count() == 2  # 20% of 11, of 7, rounded
    assert version.images.filter(split="test", label="dog").count() == 1
    assert version.report["test_count"] == 3
    assert not version.images.filter(split="").exists()


def test_a_second_generation_inherits_the_test_split_unchanged(root, user):
    second = do_derive_dataset_version(root, [accepted("cat", 1), accepted("dog", 2)], by=user)
    third = do_derive_dataset_version(second, [accepted("dog", 3)], by=user)

    assert split_of(third, "test") == split_of(second, "test")
    assert split_of(third, "train") == split_of(second, "train") | {third.images.get(origin="prediction 3").sha256}
    assert (second.parent, third.parent, third.root) == (root, second, root)
    assert (second.name, third.name) == ("pets v2", "pets v3")
    assert third.has_frozen_split and not root.has_frozen_split


def test_accepted_photos_always_go_to_training(root, user):
    additions = [accepted("cat" if n % 2 else "dog", n) for n in range(20)]  # more than the root holds of a class
    version = do_derive_dataset_version(root, additions, by=user)

    new = version.images.filter(origin__startswith="prediction ")
    assert new.count() == 20 and set(new.values_list("split", flat=True)) == {"train"}
    assert version.images.filter(split="test").count() == 3  # the root's, not a share of the larger version
    assert version.added["counts"] == {"cat": 10, "dog": 10}
    assert version.report["counts"] == {"cat": 21, "dog": 17} and version.report["total"] == 38


def test_the_version_records_what_it_added_by_whom_and_its_content_hash(root, user):
    version = do_derive_dataset_version(root, [accepted("dog", 1), accepted("cat", 2)], by=user, name="pets reviewed")

    assert version.name == "pets reviewed" and version.created_by == user and version.finished_at is not None
    assert (version.status, version.source, version.class_names) == ("ready", "version", ["cat", "dog"])
    assert version.added == {
        "counts": {"cat": 1, "dog": 1},
        "origins": ["prediction 1", "prediction 2"],
        "left_out": [],
    }
    assert version.content_sha256 == content_hash(version.images.values_list("label", "sha256"))
    assert version.content_sha256 != root.content_sha256


def test_photos_of_an_unknown_class_already_in_the_parent_unreadable_or_gone_are_left_out_with_why(root, user):
    in_root = root.images.first()
    with default_storage.open(in_root.file.name, "rb") as f:
        same_as_root = f.read()
    additions = [
        accepted("cat", 1),
        NewImage("horse", stored("h.png", photo(2001)), "prediction horse"),
        NewImage("dog", stored("again.png", same_as_root), "prediction again"),
        NewImage("dog", stored("notes.png", b"not an image at all"), "prediction notes"),
        NewImage("dog", "uploads/deleted-meanwhile.png", "prediction deleted"),
        NewImage("dog", stored("copy.png", photo(1001)), "prediction copy"),  # the same photo as prediction 1
    ]
    version = do_derive_dataset_version(root, additions, by=user)

    reasons = {item["origin"]: item["reason"] for item in version.added["left_out"]}
    assert set(reasons) == {f"prediction {n}" for n in ("horse", "again", "notes", "deleted", "copy")}
    assert reasons["prediction horse"] == "horse is not a class of pets"
    assert reasons["prediction again"] == "already in pets"
    assert "not an image" in reasons["prediction notes"].lower() or "cannot" in reasons["prediction notes"].lower()
    assert "no longer" in reasons["prediction deleted"]
    assert "same image as prediction 1" in reasons["prediction copy"]
    assert version.added["counts"] == {"cat": 1} and version.images.count() == root.images.count() + 1


def test_a_parent_that_is_not_ready_is_refused_leaving_nothing(make_dataset, user, settings):
    failed = make_dataset("one class", archive=zip_bytes(class_folders({"cat": 3})))
    assert failed.status == Dataset.Status.FAILED
    addition = accepted("cat", 1)
    before = media_files(settings)

    with pytest.raises(DatasetRefused, match="one class is failed, not ready"):
        do_derive_dataset_version(failed, [addition], by=user)
    assert Dataset.objects.count() == 1 and media_files(settings) == before


def test_nothing_to_add_is_refused_saying_why_leaving_nothing(root, user, settings):
    in_root = root.images.first()
    with default_storage.open(in_root.file.name, "rb") as f:
        additions = [NewImage("dog", stored("again.png", f.read()), "prediction again"), accepted("horse", 1)]
    images, before = DatasetImage.objects.count(), media_files(settings)

    with pytest.raises(DatasetRefused, match=r"Nothing would be added to pets: prediction again: already in pets; "):
        do_derive_dataset_version(root, additions, by=user)
    with pytest.raises(DatasetRefused, match="no photo was given"):
        do_derive_dataset_version(root, [], by=user)
    assert Dataset.objects.count() == 1 and DatasetImage.objects.count() == images
    assert media_files(settings) == before


def test_a_name_taken_meanwhile_is_refused_saying_so_leaving_nothing(root, user, settings):
    """The form checks the name, but a second click, or another admin, can take it before the version is made."""
    do_derive_dataset_version(root, [accepted("cat", 1)], by=user)  # "pets v2"
    addition = accepted("dog", 2)
    datasets, before = Dataset.objects.count(), media_files(settings)

    with pytest.raises(DatasetRefused, match="A dataset is already named “pets v2”"):
        do_derive_dataset_version(root, [addition], by=user, name="pets v2")
    assert Dataset.objects.count() == datasets and media_files(settings) == before


def test_a_failure_while_freezing_removes_the_photos_it_stored(root, user, settings, monkeypatch):
    addition = accepted("cat", 1)
    before = media_files(settings)

    def broken(*args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("trainer.actions.datasets._freeze", broken)
    with pytest.raises(RuntimeError):
        do_derive_dataset_version(root, [addition], by=user)
    assert Dataset.objects.count() == 1 and media_files(settings) == before


# --- Files shared along the lineage ----------------------------------------------------------------------------


def test_a_version_names_its_parents_files_and_deleting_it_keeps_them(
    root, user, settings, django_capture_on_commit_callbacks
):
    version = do_derive_dataset_version(root, [accepted("cat", 1)], by=user)
    root_files = set(root.images.values_list("file", flat=True))
    inherited = set(version.images.exclude(origin="prediction 1").values_list("file", flat=True))
    assert inherited == root_files  # shared, not copied
    own = version.images.get(origin="prediction 1").file.name
    assert own.startswith(f"datasets/{version.pk}/cat/")

    with django_capture_on_commit_callbacks(execute=True):
        version.delete()
    files = media_files(settings)
    assert root_files <= files  # the root's rows still name them
    assert own not in files  # nobody else named it


def test_a_parent_with_versions_cannot_be_deleted(root, user):
    version = do_derive_dataset_version(root, [accepted("cat", 1)], by=user)
    with pytest.raises(ProtectedError):
        root.delete()
    with pytest.raises(ProtectedError):
        do_derive_dataset_version(version, [accepted("cat", 2)], by=user).parent.delete()


@pytest.fixture
def folder_root(make_dataset, settings, tmp_path):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    return make_dataset("pets", folder=write_tree(tmp_path / "pets", class_folders({"cat": 5, "dog": 5})))


def _recheck(dataset, django_capture_on_commit_callbacks) -> Dataset:
    with django_capture_on_commit_callbacks(execute=True):
        assert do_recheck_dataset(dataset)
    dataset.refresh_from_db()
    return dataset


def test_rechecking_the_parent_keeps_every_file_its_versions_name(
    folder_root, user, settings, django_capture_on_commit_callbacks
):
    version = do_derive_dataset_version(folder_root, [accepted("cat", 1)], by=user)
    named = set(version.images.values_list("file", flat=True)) | set(version.images.values_list("thumbnail", flat=True))
    named.discard("")
    for path in Path(folder_root.path, "cat").iterdir():  # the source loses its cats: the root no longer has them
        path.unlink()
    Path(folder_root.path, "cat", "0.png").write_bytes(photo(0))

    assert _recheck(folder_root, django_capture_on_commit_callbacks).status == Dataset.Status.READY
    assert folder_root.images.filter(label="cat").count() == 1
    assert named <= media_files(settings)


def test_a_failed_recheck_of_the_parent_keeps_every_file_its_versions_name(
    folder_root, user, settings, django_capture_on_commit_callbacks
):
    version = do_derive_dataset_version(folder_root, [accepted("cat", 1)], by=user)
    named = set(version.images.values_list("file", flat=True))
    for path in Path(folder_root.path, "dog").iterdir():  # one class left: the check fails, after finding the cats
        path.unlink()

    assert _recheck(folder_root, django_capture_on_commit_callbacks).status == Dataset.Status.FAILED
    assert not folder_root.images.exists()
    assert named <= media_files(settings)
    for image in version.images.all():  # and each is still the photo it was
        with default_storage.open(image.file.name, "rb") as f:
            assert f.read()


def test_a_version_cannot_be_checked_again(root, user):
    version = do_derive_dataset_version(root, [accepted("cat", 1)], by=user)
    with pytest.raises(DatasetRefused, match="frozen"):
        do_recheck_dataset(version)
    version.refresh_from_db()
    assert version.status == Dataset.Status.READY
