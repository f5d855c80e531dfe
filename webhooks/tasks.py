from celery import shared_task
from django.utils import timezone

from . import sending
from .actions import do_record_attempt, do_resend_stalled_deliveries, headers
from .models import Delivery


# Acknowledged on receipt: a worker lost mid-POST may have delivered it, and the next attempt is do_record_attempt's
# to schedule. A message lost so is sent again by resend_stalled_deliveries below.
@shared_task
def deliver_webhook(delivery_id: int) -> None:
    """One attempt at a delivery (README "Webhooks"): POST its signed body; the action records the answer and
    schedules the next attempt."""
    delivery = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).select_related("webhook").first()
    if delivery is None:
        return  # delivered or failed already, or deleted with its webhook
    now = timezone.now()
    try:
        code, error = sending.post(delivery.webhook.url, delivery.body.encode(), headers(delivery, now)), ""
    except sending.SendError as failure:
        code, error = None, str(failure)
    do_record_attempt(delivery, code, error, now)


@shared_task
def resend_stalled_deliveries() -> int:
    """Run by beat every CATDOG_SWEEP_SECONDS: no delivery stays pending after its message was lost."""
    return do_resend_stalled_deliveries(timezone.now())
