"""What the admin shows when training cannot work here or did not: the form's default, and a failure's reason once."""

import uuid

import pytest
from django.urls import reverse

from trainer.models import ModelVersion

from .dataset_helpers import class_folders, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def train_url(make_dataset):
    """The training form of a small ready dataset."""
    pets = make_dataset("pets", archive=zip_bytes(class_folders({"cat": 4, "dog": 4})))
    return reverse("admin:trainer_dataset_train", args=[pets.pk])


def test_by_default_the_form_offers_mobilenet_v2_which_needs_nothing_beside_the_checkout(admin_client, train_url):
    page = admin_client.get(train_url).content.decode()
    assert '<option value="mobilenet_v2" selected>' in page and "cannot train here" not in page


def test_without_its_weights_the_form_does_not_offer_mobilenet_v2(
    admin_client, train_url, settings, tmp_path, monkeypatch
):
    queued = []
    monkeypatch.setattr("trainer.actions.trainings._enqueue_training", queued.append)
    settings.CATDOG_MOBILENET_WEIGHTS = str(tmp_path / "gone.weights.h5")
    page = admin_client.get(train_url).content.decode()
    assert '<option value="simple_cnn" selected>' in page and '<option value="mobilenet_v2" selected>' not in page
    assert "MobileNetV2 cannot train here: The MobileNetV2 weights file" in page

    form = {"architecture": "mobilenet_v2", "batch_size": 32, "test_split": 0.2, "seed": 1337,
            "request_key": str(uuid.uuid4())}  # fmt: skip
    r = admin_client.post(train_url, form)
    assert r.status_code == 400
    assert "gone.weights.h5 (CATDOG_MOBILENET_WEIGHTS) is not on this machine" in r.content.decode()
    assert not ModelVersion.objects.exists() and not queued
    r = admin_client.post(train_url, {**form, "architecture": "simple_cnn"})
    assert r.status_code == 302 and ModelVersion.objects.get().architecture == "simple_cnn"


def test_a_failed_version_shows_its_reason_once(admin_client):
    reason = "The class folder dog has no readable images."
    version = ModelVersion.objects.create(name="v", architecture="simple_cnn", status="failed", error=reason)
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert page.count(reason) == 1 and f"Failed: {reason}" in page
