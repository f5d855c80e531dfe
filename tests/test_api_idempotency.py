"""`Idempotency-Key` on `POST /api/predictions/`: a retry (same user, same key, same request) gets the first answer
instead of a second prediction, for 24 hours; the key with another request is refused (422), as are an empty and an
overlong key (400); two retries arriving together still make one prediction (the database's unique constraint)."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.client import encode_multipart
from django.utils import timezone
from rest_framework.test import APIClient

from catdog_site.celery import app as celery_app
from classifier import tasks
from classifier.models import IdempotencyKey, Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db

URL = "/api/predictions/"


@pytest.fixture
def api(signed_in_api):
    return signed_in_api


def _post(client, key, data=None, **kwargs):
    data = data or image_bytes()
    return client.post(URL, {"image": upload("a.png", data)}, format="multipart", HTTP_IDEMPOTENCY_KEY=key, **kwargs)


def test_a_retry_gets_the_first_answer_and_no_second_prediction(api):
    first = _post(api, "upload-1")
    again = _post(api, "upload-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Location"] == first["Location"] == first.json()["url"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Prediction.objects.count() == 1


def test_a_retry_sent_with_another_multipart_boundary_is_the_same_request(api):
    _post(api, "upload-1")
    body = encode_multipart("AnotherBoundary42", {"image": upload("a.png", image_bytes())})
    again = api.generic(
        "POST",
        URL,
        body,
        content_type="multipart/form-data; boundary=AnotherBoundary42",
        HTTP_IDEMPOTENCY_KEY="upload-1",
    )
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert Prediction.objects.count() == 1


def test_without_a_key_each_post_is_a_new_prediction(api):
    api.post(URL, {"image": upload("a.png", image_bytes())}, format="multipart")
    api.post(URL, {"image": upload("a.png", image_bytes())}, format="multipart")
    assert Prediction.objects.count() == 2


def test_keys_are_per_user(api, other_user):
    other = APIClient()
    other.force_authenticate(other_user)
    mine, theirs = _post(api, "same-key"), _post(other, "same-key")
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs


def test_the_key_with_another_photo_is_refused_with_422(api):
    _post(api, "upload-1")
    r = _post(api, "upload-1", image_bytes(color=(0, 0, 255)))
    assert r.status_code == 422
    assert "another request" in r.json()["detail"]
    assert Prediction.objects.count() == 1


def test_the_key_with_another_file_name_is_refused_with_422(api):
    _post(api, "upload-1")
    r = api.post(URL, {"image": upload("b.png", image_bytes())}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert r.status_code == 422
    assert Prediction.objects.count() == 1


@pytest.mark.parametrize(("key", "fragment"), [("", "is empty"), ("   ", "is empty"), ("k" * 256, "256 characters")])
def test_an_empty_or_overlong_key_is_refused_with_400(api, key, fragment):
    r = _post(api, key)
    assert r.status_code == 400
    assert fragment in r.json()["detail"]
    assert not Prediction.objects.exists() and not IdempotencyKey.objects.exists()


def test_a_key_with_a_json_body_that_is_no_object_is_refused_with_400(api):
    r = api.post(URL, [1, 2], format="json", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    assert not IdempotencyKey.objects.exists()


def test_a_key_of_255_characters_is_kept(api):
    assert _post(api, "k" * 255).status_code == 202
    assert _post(api, "k" * 255)["Idempotent-Replayed"] == "true"


def test_a_refused_photo_stores_no_answer_so_the_key_can_be_sent_again(api):
    refused = _post(api, "upload-1", b"plain text, not a picture")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()
    corrected = _post(api, "upload-1")
    assert corrected.status_code == 202 and "Idempotent-Replayed" not in corrected
    assert Prediction.objects.count() == 1


def test_after_24_hours_the_key_makes_a_new_prediction(api):
    first = _post(api, "upload-1").json()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    later = _post(api, "upload-1")
    assert later.status_code == 202 and "Idempotent-Replayed" not in later
    assert later.json()["id"] != first["id"]
    assert IdempotencyKey.objects.count() == 1  # the expired one replaced


def test_the_sweep_forgets_the_keys_past_24_hours_only(api):
    _post(api, "old")
    _post(api, "recent")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.filter(key="recent").update(created_at=timezone.now() - timedelta(hours=23))
    assert tasks.forget_idempotency_keys.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]


def test_beat_runs_the_key_sweep_on_the_maintenance_queue():
    [entry] = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("idempotency_keys")]
    assert entry["task"] in celery_app.tasks
    assert celery_app.amqp.router.route({}, entry["task"])["queue"].name == "maintenance"


@pytest.mark.django_db(transaction=True)
def test_retries_arriving_together_make_one_prediction(user, monkeypatch):
    """Each request waits inside its upload long enough for the others to arrive: a lookup before storing would
    let every one of them through; the key's unique constraint holds them until the first has answered."""
    from classifier.actions import predictions

    create = predictions.do_create_predictions

    def slow_create(*args, **kwargs):
        created = create(*args, **kwargs)
        threading.Event().wait(0.3)
        return created

    monkeypatch.setattr("classifier.api.do_create_predictions", slow_create)
    monkeypatch.setattr(predictions, "_enqueue", lambda prediction_id: True)  # no worker here
    data, answers, start = image_bytes(), [], threading.Barrier(4)

    def retry():
        client = APIClient()
        client.force_authenticate(user)
        start.wait()
        try:
            answers.append(_post(client, "together", data))
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in answers] == [202] * 4
    assert len({r.json()["id"] for r in answers}) == 1
    assert sum(1 for r in answers if "Idempotent-Replayed" in r) == 3
    assert Prediction.objects.count() == 1
