"""Activating model versions from the admin: at once when the score is not lower, after asking when it
is lower on the same test photos; rolling back; and the versions that cannot be deleted."""

import pytest
from django.urls import reverse

from classifier.models import Prediction
from trainer.models import ModelVersion

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import request_tiny_training, saved_version

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 4, "dog": 4})))


def _activate(client, version, **data):
    return client.post(reverse("admin:trainer_modelversion_activate", args=[version.pk]), data)


def test_a_better_version_is_activated_at_once(admin_client):
    old = saved_version(name="old", test_accuracy=0.9, test_sha256="a" * 64, is_active=True)
    new = saved_version(name="new", test_accuracy=0.95, test_sha256="a" * 64)
    r = _activate(admin_client, new)
    assert r.status_code == 302
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.is_active and not old.is_active


def test_a_lower_score_on_the_same_test_photos_asks_first(admin_client):
    old = saved_version(name="old", test_accuracy=0.95, test_sha256="a" * 64, is_active=True)
    new = saved_version(name="new", test_accuracy=0.9, test_sha256="a" * 64)
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[new.pk])).content.decode()
    assert "scored 0.9500 on the same test photos" in page

    r = _activate(admin_client, new)
    assert r.status_code == 200 and 'data-activation="lower"' in r.content.decode()
    new.refresh_from_db()
    assert not new.is_active

    r = _activate(admin_client, new, confirm="yes")
    assert r.status_code == 302
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.is_active and not old.is_active


def test_a_lower_score_on_other_test_photos_is_not_compared(admin_client):
    saved_version(name="old", test_accuracy=0.95, test_sha256="a" * 64, is_active=True)
    new = saved_version(name="new", test_accuracy=0.9, test_sha256="b" * 64)
    _activate(admin_client, new)
    new.refresh_from_db()
    assert new.is_active


def test_the_changelist_action_asks_first_too(admin_client):
    saved_version(name="old", test_accuracy=0.95, test_sha256="a" * 64, is_active=True)
    new = saved_version(name="new", test_accuracy=0.9, test_sha256="a" * 64)
    url = reverse("admin:trainer_modelversion_changelist")
    r = admin_client.post(url, {"action": "activate", "_selected_action": [new.pk]})
    assert r.status_code == 302 and r.url == reverse("admin:trainer_modelversion_activate", args=[new.pk])
    new.refresh_from_db()
    assert not new.is_active


def test_showing_the_activation_page_changes_nothing(admin_client):
    new = saved_version(name="new")
    r = admin_client.get(reverse("admin:trainer_modelversion_activate", args=[new.pk]))
    assert r.status_code == 200 and 'data-activation="plain"' in r.content.decode()
    new.refresh_from_db()
    assert not new.is_active


def test_a_version_that_is_not_ready_cannot_be_activated(admin_client, dataset):
    queued = request_tiny_training(dataset)
    r = _activate(admin_client, queued, confirm="yes")
    assert r.status_code == 302
    queued.refresh_from_db()
    assert not queued.is_active


def test_rolling_back_keeps_past_predictions_with_theirsaved_version(admin_client, make_prediction):
    old = saved_version(name="old", is_active=True)
    new = saved_version(name="new")
    prediction = make_prediction(status="done", model_version=old, label="cat")
    _activate(admin_client, new)
    _activate(admin_client, old)  # roll back
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.is_active and not new.is_active
    assert Prediction.objects.get(pk=prediction.pk).model_version == old


def test_the_active_version_cannot_be_deleted(admin_client):
    active = saved_version(is_active=True)
    r = admin_client.post(reverse("admin:trainer_modelversion_delete", args=[active.pk]), {"post": "yes"})
    assert r.status_code == 403 and ModelVersion.objects.filter(pk=active.pk).exists()


def test_a_training_in_progress_cannot_be_deleted(admin_client, dataset):
    queued = request_tiny_training(dataset)
    r = admin_client.post(reverse("admin:trainer_modelversion_delete", args=[queued.pk]), {"post": "yes"})
    assert r.status_code == 403 and ModelVersion.objects.filter(pk=queued.pk).exists()
