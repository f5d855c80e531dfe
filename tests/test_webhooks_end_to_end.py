"""Webhooks end to end: a real worker on the "webhooks" queue of a real Redis broker delivers a finished
prediction to a real HTTP receiver on loopback that fails (500), times out, then recovers; the delivery log says
so, and the README's snippet verifies every signature the receiver got."""

import json
import time
from datetime import timedelta

import pytest

from catdog_site.celery import app as celery_app
from classifier.actions import do_finish_prediction
from webhooks.actions import do_create_webhook
from webhooks.models import Delivery

from .test_webhooks import ANSWER
from .webhook_helpers import readme_verifier
from .webhook_receiver import running_receiver
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The worker's settings: loopback allowed (the receiver is on 127.0.0.1), short timeouts and delays.
WORKER_SETTINGS = {
    "CATDOG_WEBHOOK_ALLOW_PRIVATE": "true",
    "CATDOG_WEBHOOK_TIMEOUT": "1",
    "CATDOG_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "CATDOG_WEBHOOK_RETRY_MAX_DELAY": "1",
    "CATDOG_WEBHOOK_RETRY_FOR_SECONDS": "60",
}


@pytest.fixture
def webhooks_worker(tmp_path, settings, monkeypatch):
    settings.CATDOG_WEBHOOK_ALLOW_PRIVATE = True
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    with running_worker(
        queues="webhooks",
        media_root=tmp_path / "media",
        name="e2e-webhooks",
        log_path=tmp_path / "webhooks-worker.log",
        extra_env=WORKER_SETTINGS,
    ) as worker:
        yield worker


def _wait_for_status(delivery_id: int, timeout: float = 60) -> Delivery:
    deadline = time.monotonic() + timeout
    while True:
        delivery = Delivery.objects.get(pk=delivery_id)
        if delivery.status != Delivery.Status.PENDING or time.monotonic() > deadline:
            return delivery
        time.sleep(0.2)


def test_a_worker_delivers_through_failures_and_a_timeout_until_the_receiver_recovers(
    user, make_prediction, webhooks_worker
):
    prediction = make_prediction()
    with running_receiver([500, 500, ("sleep", 3)]) as receiver:
        webhook = do_create_webhook(user, receiver.url)
        assert do_finish_prediction(prediction.pk, None, ANSWER)  # commits at once: the delivery is sent on commit
        delivery = _wait_for_status(Delivery.objects.get(webhook=webhook).pk)
        received = receiver.wait_for(4)

    assert (delivery.status, delivery.response_code, delivery.attempts, delivery.retries) == ("delivered", 200, 4, 3)
    assert len(received) == 4
    verify = readme_verifier()
    for request in received:
        assert verify(webhook.secret, request.headers["Catdog-Signature"], request.body)
        assert request.headers["Catdog-Delivery"] == str(delivery.pk)
    body = json.loads(received[-1].body)
    assert (body["event"], body["prediction"]["id"], body["prediction"]["label"]) == (
        "prediction.done",
        prediction.pk,
        "cat",
    )


def test_a_receiver_that_never_recovers_gets_its_delivery_marked_failed(user, make_prediction, webhooks_worker):
    prediction = make_prediction()
    with running_receiver([500] * 100) as receiver:
        webhook = do_create_webhook(user, receiver.url)
        Delivery.objects.all().delete()
        short = Delivery.objects.create(
            webhook=webhook, event=Delivery.Event.DONE, prediction_id=prediction.pk, body="{}"
        )
        # Its event happened 58 s ago: the worker's 60 s window closes after a retry or two.
        Delivery.objects.filter(pk=short.pk).update(created_at=short.created_at - timedelta(seconds=58))
        celery_app.tasks["webhooks.tasks.deliver_webhook"].delay(short.pk)
        delivery = _wait_for_status(short.pk)
    assert delivery.status == "failed" and delivery.response_code == 500 and delivery.attempts >= 2
