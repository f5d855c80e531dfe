"""An upload while the broker is down is still accepted: 202, a pending prediction marked unsent, no 500.

The broker here is a real Redis URL on a port where nothing listens, so the real publish path (kombu's
connection, Celery's publish retry policy) fails as it does when Redis is stopped.
"""

import time

import pytest
from django.urls import reverse

from catdog_site.celery import app as celery_app
from classifier.actions import do_retry_prediction
from classifier.models import Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def _use_broker(monkeypatch, url: str) -> None:
    """Publish for real (not eagerly) to `url`, with fresh connection pools."""
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    monkeypatch.setattr(celery_app.conf, "broker_url", url)
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)


@pytest.fixture
def broker_down(monkeypatch):
    _use_broker(monkeypatch, UNREACHABLE_BROKER)


@pytest.fixture
def api(signed_in_api):
    return signed_in_api


def test_an_upload_while_the_broker_is_down_answers_202_and_stays_pending(
    api, broker_down, django_capture_on_commit_callbacks, caplog
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/predictions/", {"image": upload("a.png", image_bytes())}, format="multipart")
    elapsed = time.monotonic() - started
    # The publish was attempted once the upload committed, and failed inside the request.
    assert "not queued, broker unreachable" in caplog.text
    assert r.status_code == 202
    assert r.json()["status"] == "pending"
    prediction = Prediction.objects.get()
    assert prediction.status == Prediction.Status.PENDING
    assert prediction.queued_at is None  # recorded as unsent, for the sweep
    assert elapsed < 5  # the publish gives up quickly instead of holding the request


def test_an_upload_page_while_the_broker_is_down_redirects_and_keeps_every_photo(
    client, user, broker_down, django_capture_on_commit_callbacks
):
    client.force_login(user)
    photos = [upload(f"{i}.png", image_bytes()) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("classifier:upload"), {"images": photos})
    assert r.status_code == 302
    assert Prediction.objects.count() == 3
    assert set(Prediction.objects.values_list("status", "queued_at")) == {(Prediction.Status.PENDING, None)}


def test_an_upload_with_the_broker_up_is_marked_queued(api, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("classifier.tasks.predict_image.delay", lambda prediction_id: sent.append(prediction_id))
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/predictions/", {"image": upload("a.png", image_bytes())}, format="multipart")
    assert r.status_code == 202
    prediction = Prediction.objects.get()
    assert sent == [prediction.pk]
    assert prediction.queued_at is not None


def test_a_retry_while_the_broker_is_down_is_accepted_and_marked_unsent(
    make_prediction, broker_down, django_capture_on_commit_callbacks
):
    prediction = make_prediction(status=Prediction.Status.FAILED, error="The model failed on this photo.")
    with django_capture_on_commit_callbacks(execute=True):
        assert do_retry_prediction(prediction) is True
    prediction.refresh_from_db()
    assert (prediction.status, prediction.queued_at) == (Prediction.Status.PENDING, None)


def test_an_error_that_is_not_the_broker_still_surfaces(make_prediction, monkeypatch):
    """Only an unreachable broker is absorbed; a programming error must not be hidden as 'unsent'."""
    from classifier.actions.predictions import _enqueue

    prediction = make_prediction()

    def broken(prediction_id):
        raise TypeError("bad argument")

    monkeypatch.setattr("classifier.tasks.predict_image.delay", broken)
    with pytest.raises(TypeError):
        _enqueue(prediction.pk)
