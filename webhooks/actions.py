"""Webhooks' state changes: registering one, the deliveries a finished prediction makes, each attempt's outcome
and the next attempt's time (exponential backoff, for CATDOG_WEBHOOK_RETRY_FOR_SECONDS, then failed)."""

import json
import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from kombu.exceptions import OperationalError

from classifier.models import Prediction
from trainer.datasets import fetching

from . import sending, signing
from .models import Delivery, Webhook

logger = logging.getLogger(__name__)

# Sent by name, as classifier's actions send theirs: tasks import actions, never the reverse.
DELIVER_WEBHOOK = "webhooks.tasks.deliver_webhook"
EVENTS = {Prediction.Status.DONE: Delivery.Event.DONE, Prediction.Status.FAILED: Delivery.Event.FAILED}
# A pending delivery whose attempt was due this long ago has lost its message (the broker was down when it was
# sent, or a worker was lost mid-attempt): the sweep sends it again. Far longer than deliveries wait in their queue.
STALLED_AFTER = timedelta(minutes=10)
# Deliveries the sweep sends again at a time; the next sweep takes the rest.
RESEND_BATCH = 500


class WebhookRefused(ValueError):
    """A URL no delivery may go to; the message says why."""


def check_webhook_url(url: str) -> None:
    """Refuse a URL deliveries could not go to: not http(s), a host that cannot be found, a private, loopback or
    reserved address. Checked again at each delivery, with the address then resolved."""
    try:
        fetching.allowed_addresses(url, sending.ALLOW_PRIVATE)
    except fetching.FetchError as error:
        raise WebhookRefused(f"Deliveries cannot go to this URL: {error}.") from None


# The URL was checked by the form or the serializer (check_webhook_url), and is again at each delivery, on the
# address then resolved: a third look up of the host here would add nothing.
def do_create_webhook(owner, url: str) -> Webhook:
    return Webhook.objects.create(owner=owner, url=url, secret=signing.new_secret())


def do_change_webhook_url(webhook: Webhook, url: str) -> Webhook:
    """A new URL, checked as do_create_webhook's; the secret stays, so the receiver's check needs no change."""
    webhook.url = url
    webhook.save(update_fields=["url"])
    return webhook


def do_delete_webhook(webhook: Webhook) -> None:
    webhook.delete()


def on_prediction_ended(sender, prediction_id: int, status: str, **kwargs) -> None:
    """classifier's signal, sent in the transaction that records the answer."""
    do_queue_deliveries(prediction_id, status)


def do_queue_deliveries(prediction_id: int, status: str) -> list[Delivery]:
    """A delivery of the event to each of the prediction owner's webhooks, stored in the transaction that records
    the answer (classifier's do_finish_prediction and do_fail_prediction are atomic: they commit together, or not
    at all) and sent once it commits. One query, and nothing more, for an owner
    without webhooks: most people have none."""
    webhooks = list(Webhook.objects.filter(owner__predictions=prediction_id).only("pk"))
    if not webhooks:
        return []
    prediction = Prediction.objects.filter(pk=prediction_id).select_related("model_version").first()
    if prediction is None:
        return []  # deleted meanwhile
    body = json.dumps({"event": EVENTS[status], "prediction": _describe(prediction)}, separators=(",", ":"))
    with transaction.atomic():
        deliveries = Delivery.objects.bulk_create(
            Delivery(webhook=webhook, event=EVENTS[status], prediction_id=prediction_id, body=body)
            for webhook in webhooks
        )
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: _enqueue(pk))
    return deliveries


def _describe(prediction: Prediction) -> dict:
    return {
        "id": prediction.pk,
        "status": prediction.status,
        "label": prediction.label or None,
        "verdict": prediction.verdict or None,
        "confidence": prediction.confidence,
        "probabilities": prediction.probabilities or None,
        "model_version": str(prediction.model_version) if prediction.model_version else None,
        "inference_ms": prediction.inference_ms,
        "error": prediction.error or None,
        "created_at": prediction.created_at.isoformat(),
        "finished_at": prediction.finished_at.isoformat() if prediction.finished_at else None,
    }


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    try:
        current_app.tasks[DELIVER_WEBHOOK].apply_async((delivery_id,), countdown=countdown)
    except OperationalError as error:
        # The row stays pending, with its time: the log shows it, and "send again" sends it.
        logger.warning("Webhook delivery %s not queued, broker unreachable (%s)", delivery_id, error)


def do_send_again(delivery: Delivery) -> Delivery:
    """The owner's "send again": a new delivery of the same body, with its own attempts and log line."""
    with transaction.atomic():
        again = Delivery.objects.create(
            webhook=delivery.webhook, event=delivery.event, prediction_id=delivery.prediction_id, body=delivery.body
        )
        transaction.on_commit(lambda: _enqueue(again.pk))
    return again


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: the base, doubled each time, at most the cap
    (kept under the broker's visibility timeout, past which Redis would hand a waiting message out twice)."""
    return min(
        settings.CATDOG_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.CATDOG_WEBHOOK_RETRY_MAX_DELAY
    )


def headers(delivery: Delivery, now) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        signing.SIGNATURE_HEADER: signing.signature(delivery.webhook.secret, timestamp, delivery.body.encode()),
        "Catdog-Event": delivery.event,
        "Catdog-Delivery": str(delivery.pk),
    }


def do_record_attempt(delivery: Delivery, response_code: int | None, error: str, at) -> Delivery.Status:
    """Record one attempt: delivered on a 2xx answer; otherwise tried again after retry_delay, unless that would
    pass CATDOG_WEBHOOK_RETRY_FOR_SECONDS since the event, and then failed. Only a pending delivery changes."""
    attempts = delivery.attempts + 1
    fields = {"attempts": attempts, "response_code": response_code, "last_attempt_at": at, "next_attempt_at": None}
    if response_code is not None and 200 <= response_code < 300:
        status, fields["error"] = Delivery.Status.DELIVERED, ""
    else:
        fields["error"] = error or f"answered HTTP {response_code}"
        delay = retry_delay(attempts)
        next_at = at + timedelta(seconds=delay)
        if next_at - delivery.created_at > timedelta(seconds=settings.CATDOG_WEBHOOK_RETRY_FOR_SECONDS):
            status = Delivery.Status.FAILED
        else:
            status, fields["next_attempt_at"] = Delivery.Status.PENDING, next_at
    with transaction.atomic():
        updated = Delivery.objects.filter(
            pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts
        ).update(status=status, **fields)
        if updated and status == Delivery.Status.PENDING:
            transaction.on_commit(lambda: _enqueue(delivery.pk, countdown=delay))
    return status


def do_resend_stalled_deliveries(now) -> int:
    """Every pending delivery whose attempt was due more than STALLED_AFTER ago is sent again, as the same delivery
    (a receiver tells a repeat by its Catdog-Delivery header); one older than CATDOG_WEBHOOK_RETRY_FOR_SECONDS fails
    instead, as its retries would have. Run by beat (webhooks.tasks.resend_stalled_deliveries); returns how many
    were sent again."""
    due_before = now - STALLED_AFTER
    stalled = Delivery.objects.filter(status=Delivery.Status.PENDING).filter(
        Q(next_attempt_at__lt=due_before) | Q(next_attempt_at__isnull=True, created_at__lt=due_before)
    )
    expired = stalled.filter(created_at__lt=now - timedelta(seconds=settings.CATDOG_WEBHOOK_RETRY_FOR_SECONDS))
    expired.filter(error="").update(error="It could not be sent within the retry window.")
    expired.update(status=Delivery.Status.FAILED, next_attempt_at=None)
    ids = list(stalled.order_by("pk").values_list("pk", flat=True)[:RESEND_BATCH])
    # Due again from now: the next sweep leaves them alone unless this message is lost too.
    Delivery.objects.filter(pk__in=ids, status=Delivery.Status.PENDING).update(next_attempt_at=now)
    for delivery_id in ids:
        _enqueue(delivery_id)
    if ids:
        logger.warning("Sent %s stalled webhook deliveries again", len(ids))
    return len(ids)
