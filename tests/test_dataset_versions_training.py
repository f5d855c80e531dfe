"""Training on a dataset version (trainer/tasks.py): it trains on the version's "train" photos and is measured on its
lineage's frozen test split, so every version trained in the lineage is measured on the same photos; a separate
test dataset is refused, by the action and by the admin's training form."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from trainer.actions import NewImage, TrainingRefused, do_derive_dataset_version
from trainer.datasets import frozen_test_sha256
from trainer.ml import DEFAULT_SEED, DEFAULT_TEST_SPLIT
from trainer.models import ModelVersion
from trainer.tasks import train_model_version

from .dataset_helpers import class_folders, photo, zip_bytes
from .training_helpers import TINY, request_tiny_training, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
# transaction=True: the training's heartbeat thread writes through a connection of its own.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]


@pytest.fixture
def root(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 6, "dog": 6})))


def derive(parent, user, numbers):
    additions = [
        NewImage(
            "cat" if n % 2 else "dog",
            default_storage.save(f"uploads/{n}.png", ContentFile(photo(n))),
            f"prediction {n}",
        )
        for n in numbers
    ]
    return do_derive_dataset_version(parent, additions, by=user)


def _run(version) -> ModelVersion:
    train_model_version.apply(args=(version.pk,))
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY, version.error
    return version


def test_versions_trained_on_two_generations_are_measured_on_the_same_frozen_photos(root, user):
    second = derive(root, user, [101, 102])
    third = derive(second, user, [103, 104, 105])

    on_second = _run(request_tiny_training(second))
    on_third = _run(request_tiny_training(third, params={"seed": 8}))

    assert on_second.test_sha256 == on_third.test_sha256 == frozen_test_sha256(second) == frozen_test_sha256(third)
    assert on_second.metrics["num_test"] == on_third.metrics["num_test"] == 2  # 20% of 6, per class
    assert on_second.metrics["num_train"] == 12 and on_third.metrics["num_train"] == 15  # the new photos train
    assert on_second.params["test_split"] is None and on_third.params["test_split"] is None  # not a share drawn


def test_a_default_training_of_the_root_is_measured_on_the_lineages_frozen_photos(root, user):
    version = derive(root, user, [101])
    on_root = _run(request_tiny_training(root, params={"test_split": DEFAULT_TEST_SPLIT, "seed": DEFAULT_SEED}))

    assert on_root.test_sha256 == frozen_test_sha256(version)


def test_a_separate_test_dataset_is_refused_for_a_version(root, user, make_dataset):
    version = derive(root, user, [101])
    other = make_dataset("pets-test", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}, start=50)))

    with pytest.raises(
        TrainingRefused, match=r"pets v2 is a dataset version: .* frozen test split of pets \(2 photos\)"
    ):
        request_tiny_training(version, test_dataset=other, params={"test_split": None})
    assert not ModelVersion.objects.exists()


def test_the_training_form_refuses_a_test_dataset_for_a_version_saying_why(root, user, make_dataset, admin_client):
    version = derive(root, user, [101])
    other = make_dataset("pets-test", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}, start=50)))
    url = reverse("admin:trainer_dataset_train", args=[version.pk])
    form = {
        "architecture": TINY["architecture"],
        "image_size": TINY["image_size"],
        "epochs": 1,
        "batch_size": 4,
        "seed": 7,
        "test_dataset": other.pk,
        "request_key": "6a3c1a8e-61c8-4c2e-9d0a-3b8f4f7e2a11",
    }

    page = admin_client.get(url).content.decode()
    assert 'name="test_split"' not in page
    assert "it trains on its photos but the frozen test split\n    (2 photos), and is measured on that split" in page
    r = admin_client.post(url, form)
    assert r.status_code == 400
    assert "is a dataset version: it is measured on the frozen test split of pets" in r.content.decode()
    assert not ModelVersion.objects.exists()

    r = admin_client.post(url, {**form, "test_dataset": ""})
    queued = ModelVersion.objects.get()
    assert r.status_code == 302 and queued.params["test_split"] is None and queued.test_dataset is None
