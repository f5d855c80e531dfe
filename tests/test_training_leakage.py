"""Train/test leakage: a training leaves out the training photos that are near-duplicates of its test photos,
however the test photos were chosen (a test folder, a held-out share), and the version records how many."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from trainer.ml.data import DatasetError, make_datasets
from trainer.models import ModelVersion
from trainer.tasks import train_model_version

from .conftest import shared_photo
from .dataset_helpers import write_tree, zip_bytes
from .test_near_duplicates import copy_of
from .training_helpers import request_tiny_training, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]


def photos(kind: str, numbers) -> dict[str, bytes]:
    return {f"{kind}/{kind}.{n}.jpg": shared_photo(kind, n).read_bytes() for n in numbers}


def test_a_training_photo_re_encoded_in_the_test_folder_is_left_out_and_named(tmp_path):
    train = write_tree(tmp_path / "train", {**photos("cat", range(4001, 4004)), **photos("dog", range(4001, 4004))})
    test = write_tree(
        tmp_path / "test",
        {"cat/copy.jpg": copy_of(shared_photo("cat", 4002), "jpeg40"), **photos("dog", range(4004, 4006))},
    )

    datasets = make_datasets(train, test, image_size=32)

    assert [(leaked.path.name, leaked.test_path.name) for leaked in datasets.leaked] == [("cat.4002.jpg", "copy.jpg")]
    assert train / "cat" / "cat.4002.jpg" not in datasets.train_paths
    assert len(datasets.train_paths) == len(datasets.y_train) == 5
    assert datasets.y_train.tolist() == [0, 0, 1, 1, 1]
    assert len(datasets.test_paths) == 3  # the test photos stay as they are


def test_a_held_out_share_leaves_out_the_training_copies_of_held_out_photos(tmp_path):
    entries = {**photos("cat", range(4001, 4007)), **photos("dog", range(4001, 4007))}
    for n in range(4001, 4007):  # each photo twice: some copies are drawn for testing, their twins for training
        entries[f"cat/copy.{n}.jpg"] = copy_of(shared_photo("cat", n), "half")
    folder = write_tree(tmp_path / "photos", entries)

    datasets = make_datasets(folder, None, image_size=32, test_split=0.5, seed=3)

    def photo_number(path):  # cat.4001.jpg and copy.4001.jpg: the same photo
        return path.name.split(".")[1]

    held_out = {photo_number(path) for path in datasets.test_paths if path.parent.name == "cat"}
    trained = {photo_number(path) for path in datasets.train_paths if path.parent.name == "cat"}
    left_out = {photo_number(leaked.path) for leaked in datasets.leaked}
    assert left_out  # the draw put the two of some photo on either side
    assert left_out <= held_out and not trained & held_out
    assert {photo_number(leaked.test_path) for leaked in datasets.leaked} == left_out
    assert len(datasets.train_paths) + len(datasets.leaked) == 9  # half of the 18 photos drawn for training


def test_a_training_is_refused_when_every_training_photo_of_a_class_is_in_the_test_photos(tmp_path):
    train = write_tree(tmp_path / "train", {**photos("cat", [4001, 4005]), **photos("dog", [4001, 4002])})
    test = write_tree(
        tmp_path / "test",
        {
            "cat/a.jpg": copy_of(shared_photo("cat", 4001), "mirror"),
            "cat/b.jpg": copy_of(shared_photo("cat", 4005), "crop-centre"),
            **photos("dog", [4003]),
        },
    )
    with pytest.raises(DatasetError, match="Every training photo of the class 'cat' is a near-duplicate of a test"):
        make_datasets(train, test, image_size=32)


def test_without_near_duplicates_nothing_is_left_out(tmp_path):
    train = write_tree(tmp_path / "train", {**photos("cat", range(4001, 4004)), **photos("dog", range(4001, 4004))})
    test = write_tree(tmp_path / "test", {**photos("cat", [4004]), **photos("dog", [4004])})
    datasets = make_datasets(train, test, image_size=32)
    assert datasets.leaked == [] and len(datasets.train_paths) == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("trainings_not_sent")
def test_the_version_records_and_shows_how_many_training_photos_were_left_out(make_dataset, client, django_user_model):
    dataset = make_dataset(
        "pets", archive=zip_bytes({**photos("cat", range(4001, 4005)), **photos("dog", range(4001, 4005))})
    )
    test_dataset = make_dataset(
        "pets-test",
        archive=zip_bytes({"cat/copy.jpg": copy_of(shared_photo("cat", 4003), "jpeg40"), **photos("dog", [4005])}),
    )
    version = request_tiny_training(dataset, test_dataset=test_dataset, params={"test_split": None, "epochs": 1})

    train_model_version.apply(args=(version.pk,))

    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY, version.error
    assert version.leakage_dropped == 1 and version.metrics["num_train"] == 7
    [leaked] = version.metrics["leakage"]
    cat = dataset.images.get(origin="cat/cat.4003.jpg")
    assert leaked["photo"] == f"cat/{cat.sha256}.jpg"

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    html = " ".join(
        client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode().split()
    )
    assert 'data-leakage="1"' in html
    assert "1 training photo left out as near-duplicate of test photos" in html


@pytest.mark.django_db
def test_the_train_model_command_says_what_it_left_out_and_records_it(tmp_path):
    train = write_tree(tmp_path / "train", {**photos("cat", range(4001, 4004)), **photos("dog", range(4001, 4004))})
    test = write_tree(
        tmp_path / "test",
        {"cat/copy.jpg": copy_of(shared_photo("cat", 4001), "half"), **photos("dog", [4004])},
    )
    out, err = io.StringIO(), io.StringIO()
    tiny = ["--arch", "simple_cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "4"]
    call_command("train_model", str(train), "--test", str(test), *tiny, stdout=out, stderr=err)

    assert "Left out cat/cat.4001.jpg: a near-duplicate of the test photo cat/copy.jpg" in err.getvalue()
    assert "(5 for training, 1 left out as near-duplicates of test photos" in out.getvalue()
    assert ModelVersion.objects.get().leakage_dropped == 1
