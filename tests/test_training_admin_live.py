"""The model version's page while it trains: the live panel, its poll, and what they say."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from trainer.models import ModelVersion

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import request_tiny_training

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.dataset_fixtures"]


@pytest.fixture
def clock():
    """ "Now", pinned for the test: the estimates on the page are measured against the time the test set up,
    however long the request takes on a busy machine."""
    now = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=now):
        yield now


@pytest.fixture
def dataset(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 4, "dog": 4})))


def _page(client, version):
    return client.get(reverse("admin:trainer_modelversion_change", args=[version.pk]))


def _poll(client, version):
    return client.get(reverse("admin:trainer_modelversion_updates", args=[version.pk]), headers={"HX-Request": "true"})


def test_a_running_training_shows_its_epoch_scores_elapsed_time_and_time_left(admin_client, dataset, clock):
    version = request_tiny_training(dataset, params={"epochs": 20})
    now = clock
    progress = {"phase": "training", "phase_started": (now - timedelta(seconds=30)).isoformat(), "epoch": 3,
                "epochs": 20, "loss": 0.4321, "accuracy": 0.8123, "test_loss": 0.5, "test_accuracy": 0.75,
                "history": {"loss": [0.9, 0.6, 0.4321], "accuracy": [0.5, 0.7, 0.8123],
                            "test_loss": [0.8, 0.6, 0.5], "test_accuracy": [0.5, 0.6, 0.75]}}  # fmt: skip
    ModelVersion.objects.filter(pk=version.pk).update(
        status="running", started_at=now - timedelta(seconds=95), heartbeat_at=now, progress=progress
    )
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "epoch 3 of 20" in page and "0.4321 / 0.8123" in page and "0.5000 / 0.7500" in page
    assert "1 min 35 s" in page  # elapsed
    assert "2 min 50 s" in page  # 10 s an epoch, 17 epochs to go
    updates = reverse("admin:trainer_modelversion_updates", args=[version.pk])
    assert 'data-in-progress="true"' in page and f'hx-get="{updates}" hx-trigger="every 2s"' in page
    assert 'data-action="cancel"' in page
    assert page.count("<polyline") == 4  # loss and accuracy, training and test photos


def test_feature_extraction_shows_batches_and_time_left(admin_client, dataset, clock):
    version = request_tiny_training(dataset)
    now = clock
    progress = {"phase": "features", "phase_started": (now - timedelta(seconds=20)).isoformat(), "done": 10,
                "total": 60}  # fmt: skip
    ModelVersion.objects.filter(pk=version.pk).update(
        status="running", started_at=now, heartbeat_at=now, progress=progress
    )
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "batch 10 of 60" in page and "1 min 40 s" in page


def _running(dataset, now, **fields):
    version = request_tiny_training(dataset, params={"epochs": 3})
    progress = {"phase": "training", "phase_started": (now - timedelta(seconds=10)).isoformat(), "epoch": 1,
                "epochs": 3, "history": {"loss": [0.7], "accuracy": [0.6]}}  # fmt: skip
    ModelVersion.objects.filter(pk=version.pk).update(
        status="running", started_at=now - timedelta(seconds=12), heartbeat_at=now, progress=progress,
        worker="trainer@host", **fields,
    )  # fmt: skip
    version.refresh_from_db()
    return version


def test_what_changes_during_a_training_is_in_the_live_panel_not_in_the_fields_below(admin_client, dataset, clock):
    version = _running(dataset, clock)
    page = _page(admin_client, version).content.decode()
    panel = page[page.index('id="training-panel"') : page.index('class="module aligned')]
    assert "epoch 1 of 3" in panel
    assert 'data-field="status">Running<' in panel and 'data-field="worker">trainer@host<' in panel
    assert 'data-field="started">' in panel
    for field in ("status", "started_at", "trained_at", "worker"):  # no second, stale copy below the panel
        assert f"field-{field}" not in page


def test_the_poll_answers_with_the_panel_the_page_shows(admin_client, dataset, clock):
    version = _running(dataset, clock)
    page = _page(admin_client, version).content.decode()
    r = _poll(admin_client, version)
    assert r.status_code == 200
    fragment = r.content.decode().strip()
    assert fragment.startswith("<div") and 'id="training-panel"' in fragment and "epoch 1 of 3" in fragment
    assert fragment in page  # one template for both


def test_the_poll_stops_and_reloads_the_page_once_the_training_has_ended(admin_client, dataset, clock):
    version = _running(dataset, clock)
    ModelVersion.objects.filter(pk=version.pk).update(status="ready", trained_at=clock)
    r = _poll(admin_client, version)
    assert r.status_code == 286 and r["HX-Refresh"] == "true"  # the page shows its scores and buttons
    page = _page(admin_client, version).content.decode()
    assert 'data-in-progress="false"' in page and "hx-get" not in page


def test_the_poll_of_a_person_signed_out_stops_and_reloads(client, user, dataset, clock):
    version = _running(dataset, clock)
    for who in (None, user):  # signed out, then signed in but not staff: the reload shows the admin's log-in
        if who:
            client.force_login(who)
        r = _poll(client, version)
        assert r.status_code == 286 and r["HX-Refresh"] == "true"


def test_the_poll_refuses_staff_who_may_not_see_versions(client, user, dataset, clock):
    version = _running(dataset, clock)
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert _poll(client, version).status_code == 403


def test_the_poll_writes_nothing(admin_client, dataset, clock):
    version = _running(dataset, clock)
    ModelVersion.objects.filter(pk=version.pk).update(heartbeat_at=clock - timedelta(hours=1))  # looks stuck
    with CaptureQueriesContext(connection) as queries:
        _poll(admin_client, version)
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_a_setting_stored_under_its_former_name_reads_as_the_form_names_it(admin_client):
    version = ModelVersion.objects.create(
        name="old", architecture="simple_cnn", status="ready", class_names=["cat", "dog"],
        params={"augmentation": "full", "epochs": 3},
    )  # fmt: skip
    page = _page(admin_client, version).content.decode()
    assert "<th>augmentation</th><td>strong</td>" in page and "<th>epochs</th><td>3</td>" in page


def test_the_first_epoch_shows_on_the_charts(admin_client, dataset, clock):
    page = _page(admin_client, _running(dataset, clock)).content.decode()
    assert page.count("<circle") == 2  # loss and accuracy after one epoch: a point each, not an empty frame
