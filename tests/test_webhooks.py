"""Webhooks: registered on the site and through the API under the fetcher's SSRF rules, delivered signed to a real
HTTP receiver on loopback that fails, times out, redirects and recovers; a delivery log with "send again"."""

import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from classifier.actions import do_fail_prediction, do_finish_prediction
from webhooks.actions import do_create_webhook, do_record_attempt, do_resend_stalled_deliveries
from webhooks.models import Delivery, Webhook

from .conftest import answer
from .webhook_helpers import readme_verifier
from .webhook_receiver import running_receiver

pytestmark = pytest.mark.django_db

ANSWER = answer({"cat": 0.93, "dog": 0.07}, inference_ms=12.5)


@pytest.fixture
def loopback_allowed(settings):
    settings.CATDOG_WEBHOOK_ALLOW_PRIVATE = True
    settings.CATDOG_WEBHOOK_TIMEOUT = 0.5
    return settings


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _finish(prediction, captured) -> None:
    with captured(execute=True):
        do_finish_prediction(prediction.pk, None, ANSWER)


# --- Registering: what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "Enter a valid URL"),
        ("ftp://example.org/hook", "not an http or https URL"),
        ("http://127.0.0.1:9/hook", "private, loopback or reserved"),
        ("http://10.1.2.3/hook", "private, loopback or reserved"),
        ("http://169.254.169.254/latest/meta-data/", "private, loopback or reserved"),
        ("http://[::1]/hook", "private, loopback or reserved"),
        ("http://no-such-host.invalid/hook", "cannot be found"),
    ],
)
def test_the_page_refuses_a_url_deliveries_may_not_go_to(client, user, url, reason):
    client.force_login(user)
    r = client.post(reverse("webhooks:list"), {"url": url})
    assert r.status_code == 400
    assert reason in " ".join(r.context["form"].errors["url"])
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "Enter a valid URL"),
        ("ftp://example.org/hook", "not an http or https URL"),
        ("file:///etc/passwd", "Enter a valid URL"),
        ("http://127.0.0.1:9/hook", "private, loopback or reserved"),
        ("http://[::ffff:192.168.0.1]/hook", "private, loopback or reserved"),
    ],
)
def test_the_api_refuses_a_url_deliveries_may_not_go_to(api, url, reason):
    r = api.post("/api/webhooks/", {"url": url}, format="json")
    assert r.status_code == 400
    assert reason in " ".join(r.json()["url"])
    assert not Webhook.objects.exists()


def test_the_api_refuses_a_private_url_in_a_change_too(api, user):
    webhook = Webhook.objects.create(owner=user, url="https://hooks.example.org/a", secret="s")
    r = api.patch(f"/api/webhooks/{webhook.pk}/", {"url": "http://127.0.0.1/b"}, format="json")
    assert r.status_code == 400
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.example.org/a"


def test_a_loopback_url_is_accepted_when_the_operator_allows_private_addresses(api, loopback_allowed):
    r = api.post("/api/webhooks/", {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert r.status_code == 201


def test_the_secret_is_shown_once(client, api, user, loopback_allowed):
    r = api.post("/api/webhooks/", {"url": "http://127.0.0.1:9/hook"}, format="json")
    secret = r.json()["secret"]
    assert secret == Webhook.objects.get().secret
    webhook_id = r.json()["id"]
    assert "secret" not in api.get(f"/api/webhooks/{webhook_id}/").json()
    assert all("secret" not in item for item in api.get("/api/webhooks/").json())
    client.force_login(user)
    assert secret not in client.get(reverse("webhooks:list")).content.decode()
    assert secret not in client.get(reverse("webhooks:detail", args=[webhook_id])).content.decode()

    r = client.post(reverse("webhooks:list"), {"url": "http://127.0.0.1:9/other"})
    assert r.status_code == 201
    assert Webhook.objects.get(url="http://127.0.0.1:9/other").secret in r.content.decode()


# --- Another user's webhook: 404 everywhere --------------------------------------------------------------------


def test_another_users_webhook_answers_404(client, api, other_user, loopback_allowed):
    theirs = do_create_webhook(other_user, "http://127.0.0.1:9/theirs")
    delivery = Delivery.objects.create(webhook=theirs, event=Delivery.Event.DONE, prediction_id=1, body="{}")
    for method, path in [
        ("get", f"/api/webhooks/{theirs.pk}/"),
        ("get", f"/api/webhooks/{theirs.pk}/deliveries/"),
        ("patch", f"/api/webhooks/{theirs.pk}/"),
        ("delete", f"/api/webhooks/{theirs.pk}/"),
    ]:
        assert getattr(api, method)(path, {"url": "http://127.0.0.1:9/mine"}, format="json").status_code == 404
    client.force_login(api.handler._force_user)
    assert client.get(reverse("webhooks:detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("webhooks:delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("webhooks:send-again", args=[theirs.pk, delivery.pk])).status_code == 404
    assert Webhook.objects.filter(pk=theirs.pk, url="http://127.0.0.1:9/theirs").exists()
    assert Delivery.objects.count() == 1


def test_the_api_lists_only_the_callers_webhooks(api, user, other_user, loopback_allowed):
    mine = do_create_webhook(user, "http://127.0.0.1:9/mine")
    do_create_webhook(other_user, "http://127.0.0.1:9/theirs")
    assert [item["id"] for item in api.get("/api/webhooks/").json()] == [mine.pk]


# --- Deliveries --------------------------------------------------------------------------------------------------


def test_no_webhook_no_work(make_prediction, django_capture_on_commit_callbacks):
    prediction = make_prediction()
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
        do_finish_prediction(prediction.pk, None, ANSWER)
    # The answer's UPDATE, one look for the owner's webhooks, and nothing more: no callback, no message.
    assert [q["sql"].split()[0] for q in queries] == ["UPDATE", "SELECT"]
    assert "webhooks_webhook" in queries[1]["sql"]
    assert callbacks == []
    assert not Delivery.objects.exists()


def test_the_deliveries_commit_with_the_answer_or_not_at_all(user, make_prediction, loopback_allowed):
    prediction = make_prediction()
    do_create_webhook(user, "http://127.0.0.1:9/hook")
    with pytest.raises(RuntimeError), transaction.atomic():
        do_finish_prediction(prediction.pk, None, ANSWER)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the batch's transaction fails")
    assert not Delivery.objects.exists()
    prediction.refresh_from_db()
    assert prediction.status == "pending"


def test_a_finished_prediction_is_delivered_signed(
    user, make_prediction, loopback_allowed, django_capture_on_commit_callbacks
):
    prediction = make_prediction()
    with running_receiver() as receiver:
        webhook = do_create_webhook(user, receiver.url)
        _finish(prediction, django_capture_on_commit_callbacks)
        [received] = receiver.wait_for(1)
    body = json.loads(received.body)
    assert body["event"] == "prediction.done"
    assert body["prediction"]["id"] == prediction.pk
    assert body["prediction"]["verdict"] == "cat"
    assert body["prediction"]["probabilities"] == {"cat": 0.93, "dog": 0.07}
    assert body["prediction"]["finished_at"]
    assert received.headers["Catdog-Event"] == "prediction.done"
    verify = readme_verifier()
    assert verify(webhook.secret, received.headers["Catdog-Signature"], received.body)
    assert not verify(webhook.secret + "x", received.headers["Catdog-Signature"], received.body)
    assert not verify(webhook.secret, received.headers["Catdog-Signature"], received.body + b" ")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)
    assert received.headers["Catdog-Delivery"] == str(delivery.pk)


def test_a_failed_prediction_is_delivered_too(
    user, make_prediction, loopback_allowed, django_capture_on_commit_callbacks
):
    prediction = make_prediction()
    with running_receiver() as receiver:
        do_create_webhook(user, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            do_fail_prediction(prediction.pk, "The photo could not be decoded for the model.")
        [received] = receiver.wait_for(1)
    body = json.loads(received.body)
    assert body["event"] == "prediction.failed"
    assert body["prediction"]["status"] == "failed"
    assert body["prediction"]["error"] == "The photo could not be decoded for the model."


def test_another_users_prediction_is_not_delivered_to_my_webhook(
    user, other_user, make_prediction, loopback_allowed, django_capture_on_commit_callbacks
):
    do_create_webhook(user, "http://127.0.0.1:9/mine")
    _finish(make_prediction(owner=other_user), django_capture_on_commit_callbacks)
    assert not Delivery.objects.exists()


def test_a_receiver_that_fails_then_times_out_then_recovers_gets_it(
    user, make_prediction, loopback_allowed, django_capture_on_commit_callbacks
):
    prediction = make_prediction()
    with running_receiver([500, ("sleep", 1.5), 200]) as receiver:
        webhook = do_create_webhook(user, receiver.url)
        _finish(prediction, django_capture_on_commit_callbacks)
        received = receiver.wait_for(3)
    assert len(received) == 3
    assert len({r.body for r in received}) == 1  # the same body every time
    delivery = Delivery.objects.get(webhook=webhook)
    assert (delivery.status, delivery.response_code, delivery.attempts, delivery.retries) == ("delivered", 200, 3, 2)


def test_a_timeout_is_recorded_with_why(user, make_prediction, loopback_allowed):
    with running_receiver([("sleep", 1.5)]) as receiver:
        webhook = do_create_webhook(user, receiver.url)
        delivery = Delivery.objects.create(webhook=webhook, event=Delivery.Event.DONE, prediction_id=1, body="{}")
        from webhooks.tasks import deliver_webhook

        deliver_webhook.run(delivery.pk)  # one attempt, without the retry it schedules
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_code is None
    assert delivery.error == "no answer within 0.5 s"
    assert delivery.next_attempt_at > delivery.last_attempt_at


def test_a_redirect_is_not_followed(user, make_prediction, loopback_allowed):
    with running_receiver([("redirect", "/elsewhere")]) as receiver:
        webhook = do_create_webhook(user, receiver.url)
        delivery = Delivery.objects.create(webhook=webhook, event=Delivery.Event.DONE, prediction_id=1, body="{}")
        from webhooks.tasks import deliver_webhook

        deliver_webhook.run(delivery.pk)
        received = receiver.wait_for(1)
    assert [r.path for r in received] == ["/hooks/catdog"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.error) == ("pending", 302, "answered HTTP 302")


def test_the_address_is_checked_again_at_delivery(user, loopback_allowed):
    with running_receiver() as receiver:
        webhook = do_create_webhook(user, receiver.url)  # allowed then
        loopback_allowed.CATDOG_WEBHOOK_ALLOW_PRIVATE = False  # not any more
        delivery = Delivery.objects.create(webhook=webhook, event=Delivery.Event.DONE, prediction_id=1, body="{}")
        from webhooks.tasks import deliver_webhook

        deliver_webhook.run(delivery.pk)
        assert receiver.received == []
    delivery.refresh_from_db()
    assert "private, loopback or reserved address (127.0.0.1)" in delivery.error
    assert delivery.response_code is None


def test_retries_back_off_exponentially_then_fail_after_the_window(user, settings, loopback_allowed):
    settings.CATDOG_WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.CATDOG_WEBHOOK_RETRY_MAX_DELAY = 1800
    settings.CATDOG_WEBHOOK_RETRY_FOR_SECONDS = 24 * 3600
    webhook = do_create_webhook(user, "http://127.0.0.1:9/hook")
    delivery = Delivery.objects.create(webhook=webhook, event=Delivery.Event.DONE, prediction_id=1, body="{}")
    at, delays = delivery.created_at, []
    while True:
        delivery.refresh_from_db()
        status = do_record_attempt(delivery, 503, "", at)
        if status != "pending":
            break
        delivery.refresh_from_db()
        delays.append((delivery.next_attempt_at - at).total_seconds())
        at = delivery.next_attempt_at
    assert delays[:7] == [30, 60, 120, 240, 480, 960, 1800]
    assert set(delays[7:]) == {1800}
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert timedelta(hours=23) < delivery.last_attempt_at - delivery.created_at <= timedelta(hours=24)


def test_send_again_sends_the_same_body_as_a_new_delivery(
    client, user, loopback_allowed, django_capture_on_commit_callbacks
):
    with running_receiver() as receiver:
        webhook = do_create_webhook(user, receiver.url)
        failed = Delivery.objects.create(
            webhook=webhook, event=Delivery.Event.DONE, prediction_id=7, body='{"a":1}', status="failed", attempts=5
        )
        client.force_login(user)
        assert client.get(reverse("webhooks:send-again", args=[webhook.pk, failed.pk])).status_code == 405
        with django_capture_on_commit_callbacks(execute=True):
            r = client.post(reverse("webhooks:send-again", args=[webhook.pk, failed.pk]))
        assert r.status_code == 302
        [received] = receiver.wait_for(1)
    assert received.body == b'{"a":1}'
    again = Delivery.objects.exclude(pk=failed.pk).get()
    assert (again.status, again.attempts, again.prediction_id) == ("delivered", 1, 7)
    failed.refresh_from_db()
    assert failed.status == "failed"  # its own line in the log stays as it was


def test_the_log_shows_each_delivery_and_showing_it_writes_nothing(client, user, loopback_allowed):
    webhook = do_create_webhook(user, "http://127.0.0.1:9/hook")
    Delivery.objects.create(
        webhook=webhook, event=Delivery.Event.DONE, prediction_id=42, body="{}", status="failed", attempts=3,
        response_code=500, error="answered HTTP 500",
    )  # fmt: skip
    client.force_login(user)
    before = list(Delivery.objects.values())
    page = client.get(reverse("webhooks:detail", args=[webhook.pk])).content.decode()
    assert "HTTP 500" in page and 'data-delivery-status="failed"' in page and "Send again" in page
    assert list(Delivery.objects.values()) == before
    api_log = APIClient()
    api_log.force_authenticate(user)
    [item] = api_log.get(f"/api/webhooks/{webhook.pk}/deliveries/").json()
    assert (item["status"], item["response_code"], item["retries"]) == ("failed", 500, 2)


def test_deleting_a_webhook_stops_its_deliveries(
    api, user, make_prediction, loopback_allowed, django_capture_on_commit_callbacks
):
    webhook = do_create_webhook(user, "http://127.0.0.1:9/hook")
    assert api.delete(f"/api/webhooks/{webhook.pk}/").status_code == 204
    _finish(make_prediction(), django_capture_on_commit_callbacks)
    assert not Delivery.objects.exists()


# --- The sweep: a delivery whose message was lost ---------------------------------------------------------------


def _stalled(webhook, *, age: timedelta, **fields) -> Delivery:
    delivery = Delivery.objects.create(webhook=webhook, event=Delivery.Event.DONE, prediction_id=3, body='{"b":2}')
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - age, **fields)
    return delivery


def test_the_sweep_sends_again_a_delivery_whose_message_was_lost(user, loopback_allowed):
    with running_receiver() as receiver:
        webhook = do_create_webhook(user, receiver.url)
        never_sent = _stalled(webhook, age=timedelta(minutes=30))  # the broker was down when it was queued
        due_long_ago = _stalled(
            webhook, age=timedelta(hours=2), attempts=1, next_attempt_at=timezone.now() - timedelta(minutes=20)
        )
        on_its_way = _stalled(webhook, age=timedelta(minutes=2))  # its message may still be in the queue
        waiting = _stalled(webhook, age=timedelta(hours=1), attempts=2, next_attempt_at=timezone.now())
        assert do_resend_stalled_deliveries(timezone.now()) == 2
        received = receiver.wait_for(2)
    assert sorted(int(r.headers["Catdog-Delivery"]) for r in received) == [never_sent.pk, due_long_ago.pk]
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses[never_sent.pk] == statuses[due_long_ago.pk] == "delivered"
    assert statuses[on_its_way.pk] == statuses[waiting.pk] == "pending"


def test_the_sweep_fails_a_lost_delivery_past_the_retry_window(user, settings, loopback_allowed):
    settings.CATDOG_WEBHOOK_RETRY_FOR_SECONDS = 3600
    webhook = do_create_webhook(user, "http://127.0.0.1:9/hook")
    too_old = _stalled(webhook, age=timedelta(hours=2))
    tried = _stalled(webhook, age=timedelta(hours=2), attempts=3, error="answered HTTP 503",
                     next_attempt_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    assert do_resend_stalled_deliveries(timezone.now()) == 0
    too_old.refresh_from_db()
    tried.refresh_from_db()
    assert (too_old.status, too_old.error) == ("failed", "It could not be sent within the retry window.")
    assert (tried.status, tried.error) == ("failed", "answered HTTP 503")  # the last attempt's reason stays


@pytest.mark.django_db(transaction=True)  # autocommit, as in the task
def test_a_failure_recorded_outside_a_transaction_commits_with_its_deliveries_or_not_at_all(
    user, make_prediction, loopback_allowed, monkeypatch
):
    """The task fails a photo in autocommit: if storing its deliveries breaks, the failure is not recorded either,
    so the message comes back and no webhook misses it."""
    monkeypatch.setattr("classifier.actions.predictions._enqueue", lambda pk: True)  # no task answers it meanwhile
    prediction = make_prediction()
    do_create_webhook(user, "http://127.0.0.1:9/hook")

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away while the deliveries were stored")

    monkeypatch.setattr(Delivery.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        do_fail_prediction(prediction.pk, "The photo could not be decoded for the model.")
    prediction.refresh_from_db()
    assert prediction.status == "pending" and not Delivery.objects.exists()
