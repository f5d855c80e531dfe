"""The sweep (beat runs classifier.tasks.resend_predictions): pending predictions never lost for good.

It sends again what was never queued (the broker was down at upload) and what was queued long ago (the
message was lost); it leaves alone what is queued recently or finished; a duplicate message gives one result.
"""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from catdog_site.celery import app as celery_app
from classifier import tasks
from classifier.actions import do_resend_predictions
from classifier.models import Prediction
from trainer.models import ModelVersion

from .conftest import answer, use_model_double
from .test_enqueue_broker_down import UNREACHABLE_BROKER, _use_broker
from .worker import broker_url, purge

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.predict_image, "delay", lambda prediction_id: ids.append(prediction_id))
    return ids


@pytest.fixture
def fake_model(monkeypatch):
    ModelVersion.objects.create(
        name="double", architecture="mobilenet_v2", class_names=["cat", "dog"], status="ready", is_active=True
    )
    calls = []

    def classify(version, source):
        calls.append(version.pk)
        return answer({"cat": 0.2, "dog": 0.8})

    use_model_double(monkeypatch, classify)
    return calls


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_it_sends_an_unsent_prediction_and_marks_it_queued(make_prediction, sent):
    prediction = make_prediction(queued_at=None)
    assert do_resend_predictions() == 1
    assert sent == [prediction.pk]
    prediction.refresh_from_db()
    assert prediction.queued_at is not None


def test_it_sends_again_a_prediction_queued_long_ago(make_prediction, sent):
    prediction = make_prediction(queued_at=_ago(django_settings.CATDOG_RESEND_AFTER_SECONDS + 5))
    assert do_resend_predictions() == 1
    assert sent == [prediction.pk]
    prediction.refresh_from_db()
    assert prediction.queued_at > _ago(5)  # not sent again on the next sweep


def test_it_leaves_recently_queued_and_finished_predictions_alone(make_prediction, sent):
    make_prediction(queued_at=_ago(django_settings.CATDOG_RESEND_AFTER_SECONDS - 30))
    make_prediction(queued_at=None, status=Prediction.Status.DONE, label="cat")
    make_prediction(queued_at=None, status=Prediction.Status.FAILED, error="The photo could not be decoded.")
    assert do_resend_predictions() == 0
    assert sent == []


def test_it_sends_the_oldest_first_and_at_most_the_limit(make_prediction, sent):
    newer = make_prediction(queued_at=None)
    older = make_prediction(queued_at=None, created_at=_ago(60))
    assert do_resend_predictions(limit=1) == 1
    assert sent == [older.pk]
    assert Prediction.objects.get(pk=newer.pk).queued_at is None  # the next sweep takes it


def test_while_the_broker_is_still_down_it_stops_and_leaves_them_unsent(make_prediction, monkeypatch):
    predictions = [make_prediction(queued_at=None) for _ in range(3)]
    _use_broker(monkeypatch, UNREACHABLE_BROKER)
    assert do_resend_predictions() == 0
    assert [Prediction.objects.get(pk=p.pk).queued_at for p in predictions] == [None, None, None]


def test_once_the_broker_is_back_the_message_really_reaches_the_queue(make_prediction, monkeypatch):
    prediction = make_prediction(queued_at=None)
    _use_broker(monkeypatch, broker_url())  # the tests' real Redis
    purge("predictions")
    assert do_resend_predictions() == 1
    with celery_app.connection_for_write() as conn:
        message = conn.default_channel.basic_get("predictions", no_ack=True)
        assert message is not None
        assert message.headers["task"] == "classifier.tasks.predict_image"
        assert message.decode()[0] == [prediction.pk]
        assert conn.default_channel.basic_get("predictions", no_ack=True) is None  # one message, no more
    prediction.refresh_from_db()
    assert prediction.queued_at is not None


def test_an_upload_made_while_the_broker_was_down_is_finished_after_the_sweep(make_prediction, fake_model):
    prediction = make_prediction(queued_at=None)
    tasks.resend_predictions.delay()  # eager mode: the sweep, then the task it sends, run here
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert prediction.label == "dog"
    assert fake_model == [prediction.model_version_id]


def test_a_duplicate_message_after_a_resend_gives_one_result(make_prediction, fake_model):
    """The original message was only late, not lost: it arrives after the sweep's copy was answered."""
    prediction = make_prediction(queued_at=_ago(django_settings.CATDOG_RESEND_AFTER_SECONDS + 5))
    do_resend_predictions()
    finished = Prediction.objects.get(pk=prediction.pk)
    tasks.predict_image.delay(prediction.pk)  # the late original
    prediction.refresh_from_db()
    assert len(fake_model) == 1  # the model ran once
    assert (prediction.status, prediction.attempts) == (Prediction.Status.DONE, 1)
    assert prediction.finished_at == finished.finished_at


def test_beat_runs_the_sweep_on_a_queue_of_its_own():
    """A backlog of photos on the predictions queue cannot hold the sweep up."""
    [entry] = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("resend_predictions")]
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == django_settings.CATDOG_SWEEP_SECONDS
    assert celery_app.amqp.router.route({}, entry["task"])["queue"].name == "maintenance"
    assert celery_app.amqp.router.route({}, "classifier.tasks.predict_image")["queue"].name == "predictions"
