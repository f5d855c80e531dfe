"""The activation page's parts that are no comparison: the measurements panel's poll, and the photos of a
comparison served by content."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catdog_site.celery import app as celery_app
from trainer.models import Measurement

from .promotion_helpers import answered, answers, photo_sha256
from .training_helpers import saved_version

pytestmark = pytest.mark.django_db


def test_the_measurements_panel_polls_while_one_runs_and_stops_after(admin_client):
    version = saved_version(name="new")
    measurement = Measurement.objects.create(version=version, test_sha256="f" * 64)
    url = reverse("admin:trainer_modelversion_measurements", args=[version.pk])
    r = admin_client.get(url)
    assert (
        r.status_code == 200
        and 'data-measuring="yes"' in r.content.decode()
        and 'hx-trigger="every 2s"' in r.content.decode()
    )
    Measurement.objects.filter(pk=measurement.pk).update(status=Measurement.Status.READY)
    assert admin_client.get(url).status_code == 286


def test_the_measurements_poll_does_not_compare_the_versions_every_two_seconds(admin_client):
    active, version = saved_version(name="active"), saved_version(name="new")
    active.is_active = True
    active.save(update_fields=["is_active"])
    for each in (active, version):
        answered(each, "a" * 64, answers(500, 500))
    Measurement.objects.create(version=version, test_sha256="f" * 64)
    with CaptureQueriesContext(connection) as queries:
        r = admin_client.get(reverse("admin:trainer_modelversion_measurements", args=[version.pk]))
    assert r.status_code == 200
    # The panel lists measurements: reading the 2,000 answers to compare the two versions is the page's work.
    assert not [q["sql"] for q in queries if "trainer_testphotoresult" in q["sql"]]


def test_a_photo_catdog_does_not_keep_or_the_version_never_answered_is_not_found(admin_client):
    version = saved_version(name="new")
    answered(version, "a" * 64, answers(1, 1))
    url = reverse("admin:trainer_modelversion_compared_photo", args=[version.pk, photo_sha256(0)])
    assert admin_client.get(url).status_code == 404  # answered, but not kept in any dataset
    url = reverse("admin:trainer_modelversion_compared_photo", args=[version.pk, "e" * 64])
    assert admin_client.get(url).status_code == 404


def test_measurements_go_to_the_training_queue():
    assert celery_app.amqp.router.route({}, "trainer.tasks.measure_model_version")["queue"].name == "training"
