"""A prediction's life: created from checked photos, queued, retried, resent by the sweep, deleted, and the
prediction task's state changes (classifier/tasks.py): claimed, taken along, released, finished or failed."""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from trainer.files import delete_files

from ..heatmaps import stored_grid
from ..metrics import count_uploads
from ..models import CLAIM_LEASE, STALE_AFTER, Prediction
from ..signals import prediction_ended
from ..validation import CheckedImage

logger = logging.getLogger(__name__)


# Tasks call actions (classifier.tasks imports this module), never the reverse: the prediction task is
# found by its name in Celery's registry, which classifier.apps fills in every process (trainer's actions
# send theirs the same way, trainer/actions/enqueue.py).
PREDICT_IMAGE = "classifier.tasks.predict_image"


def _enqueue(prediction_id: int) -> bool:
    """Hand the task to the broker; False, and the prediction marked unsent, when the broker is unreachable.

    The prediction is already committed as pending, so a broker that is down must not turn the request into
    an error: Celery gives up after CELERY_TASK_PUBLISH_RETRY_POLICY (about a second) and the sweep
    (do_resend_predictions) sends it once the broker is back.
    """
    try:
        current_app.tasks[PREDICT_IMAGE].delay(prediction_id)
    except OperationalError as error:
        logger.warning("Prediction %s not queued, broker unreachable (%s): the sweep sends it", prediction_id, error)
        Prediction.objects.filter(pk=prediction_id).update(queued_at=None)
        return False
    return True


def do_create_predictions(user, checked_images: list[CheckedImage]) -> list[Prediction]:
    """Store the photos and their pending predictions, all or none; workers are asked after commit."""
    created: list[Prediction] = []
    try:
        with transaction.atomic():
            for checked in checked_images:
                prediction = Prediction(
                    owner=user,
                    original_name=(checked.upload.name or "photo")[:255],
                    image_format=checked.format,
                    width=checked.width,
                    height=checked.height,
                    size_bytes=checked.upload.size,
                    queued_at=timezone.now(),  # sent just after commit; _enqueue clears it if sending fails
                )
                created.append(prediction)
                prediction.image.save(f"photo.{checked.extension}", checked.upload, save=False)
                prediction.thumbnail.save("thumbnail.jpg", ContentFile(checked.thumbnail), save=False)
                prediction.save()
                transaction.on_commit(lambda pk=prediction.pk: _enqueue(pk))
    except BaseException:
        # The rows were rolled back: leave no orphaned files.
        delete_files(name for prediction in created for name in (prediction.image.name, prediction.thumbnail.name))
        raise
    uploaded = len(created)
    transaction.on_commit(lambda: count_uploads(uploaded))  # counted once stored for good
    return created


def do_retry_prediction(prediction: Prediction) -> bool:
    """Send a failed (or long-stuck) prediction back to the queue; False if it cannot be retried."""
    retryable = Q(status=Prediction.Status.FAILED) | Q(
        status=Prediction.Status.PENDING, created_at__lt=timezone.now() - STALE_AFTER
    )
    with transaction.atomic():
        updated = Prediction.objects.filter(retryable, pk=prediction.pk).update(
            # A person's retry starts the count of deliveries lost to a dying worker afresh.
            status=Prediction.Status.PENDING,
            error="",
            finished_at=None,
            queued_at=timezone.now(),
            attempts=0,
            claimed_by=None,
            claimed_at=None,
        )
        if updated:
            transaction.on_commit(lambda: _enqueue(prediction.pk))
    return bool(updated)


def do_resend_predictions(limit: int = 500) -> int:
    """The sweep: send again the pending predictions that were never queued or were queued long ago.

    Never queued: the broker was down when they were uploaded. Queued long ago: the message was lost (a broker
    restarted without its data) or is stuck. A second message for a prediction whose first one is still
    alive costs at most one more inference, never a second result: the task only finishes a pending
    prediction, with a conditional write. Returns how many were sent; stops at the first broker failure.
    """
    now = timezone.now()
    lost = Q(queued_at__isnull=True) | Q(queued_at__lt=now - timedelta(seconds=settings.CATDOG_RESEND_AFTER_SECONDS))
    pending = Prediction.objects.filter(lost, status=Prediction.Status.PENDING).order_by("created_at")
    sent = 0
    for prediction_id in pending.values_list("pk", flat=True)[:limit]:
        if not _enqueue(prediction_id):
            break  # the broker is still down: the next sweep tries again
        Prediction.objects.filter(pk=prediction_id).update(queued_at=timezone.now())
        sent += 1
    if sent:
        logger.info("Sweep: %s pending predictions sent again", sent)
    return sent


def do_delete_prediction(prediction: Prediction) -> None:
    """Delete the row; its photo, thumbnail and heatmap go once the deletion commits (django-cleanup), as they do
    on every other path: a deleted owner, the admin's delete and bulk delete."""
    prediction.delete()


def do_delete_predictions(owner, prediction_ids: list[int]) -> int:
    """Delete those of `prediction_ids` that are `owner`'s (another's id is ignored, as a missing one), the
    same way as do_delete_prediction: their files go once the deletion commits. How many were deleted."""
    with transaction.atomic():
        _, deleted = Prediction.objects.filter(owner=owner, pk__in=prediction_ids).delete()
    return deleted.get(Prediction._meta.label, 0)


def do_uncount_delivery(prediction_id: int) -> None:
    """A retry the task chose is not a delivery lost to a dying worker."""
    Prediction.objects.filter(pk=prediction_id).update(attempts=F("attempts") - 1)


def _claimable(prediction_id: int):
    """The pending predictions the task of `prediction_id` may take: free, its own, or held past the lease."""
    free = Q(claimed_by__isnull=True) | Q(claimed_by=prediction_id) | Q(claimed_at__lt=timezone.now() - CLAIM_LEASE)
    return Prediction.objects.filter(free, status=Prediction.Status.PENDING)


def do_claim_prediction(prediction_id: int) -> bool:
    """Take the task's own prediction and count this delivery, before any work: a delivery that kills its worker
    never gets to count itself afterwards. False, nothing counted, when another task took it into its batch.

    One conditional UPDATE, one commit: of two tasks after the same row, the database lets one through.
    """
    return bool(
        _claimable(prediction_id)
        .filter(pk=prediction_id)
        .update(claimed_by=prediction_id, claimed_at=timezone.now(), attempts=F("attempts") + 1)
    )


def do_claim_waiting(prediction_id: int, limit: int) -> list[int]:
    """Take up to `limit` other waiting predictions, oldest first, into the batch of `prediction_id`'s task; the
    ids taken. Only those never delivered before: one whose earlier delivery died with its worker (a photo that
    may kill it again) goes alone, by its own task. Each is counted as delivered, as its own task would count it.
    """
    claimed_at = timezone.now()
    waiting = _claimable(prediction_id).filter(attempts=0).exclude(pk=prediction_id)
    ids = list(waiting.order_by("created_at", "pk").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    waiting.filter(pk__in=ids).update(claimed_by=prediction_id, claimed_at=claimed_at, attempts=F("attempts") + 1)
    taken = Prediction.objects.filter(pk__in=ids, claimed_by=prediction_id, claimed_at=claimed_at)
    return sorted(taken.values_list("pk", flat=True), key=ids.index)


def do_release_predictions(prediction_ids: list[int], *, lost: bool = False) -> None:
    """Give back predictions a task took but will not answer, and send each its own message again: the one it
    had may have been spent while the prediction was taken. Unless `lost` (taken by a delivery that died with
    its worker), taking them does not count as a delivery."""
    released = Prediction.objects.filter(pk__in=prediction_ids, status=Prediction.Status.PENDING)
    for prediction_id in released.values_list("pk", flat=True):
        attempts = F("attempts") if lost else F("attempts") - 1
        Prediction.objects.filter(pk=prediction_id).update(claimed_by=None, claimed_at=None, attempts=attempts)
        _enqueue(prediction_id)


# Atomic with the deliveries the signal stores (webhooks), whoever calls it: in autocommit a transaction of its
# own; inside a caller's (a batch's answers), that one, with no savepoint (no query more for each answer).
@transaction.atomic(savepoint=False)
def do_finish_prediction(prediction_id: int, version, result) -> bool:
    """Record the answer and its heatmap's grid together, if the prediction is still pending: a redelivered
    message never answers twice, and a page never sees an answer whose heatmap is still to come."""
    upright_width, upright_height = result.upright_size or (None, None)
    try:
        heatmap_grid = stored_grid(result.heatmap)
    except ValueError as error:  # a bug in the map, never the photo's fault: the answer stands without it
        logger.error("Prediction %s: its heatmap cannot be stored; the answer stands: %s", prediction_id, error)
        heatmap_grid = []
    return _ended(
        prediction_id,
        Prediction.Status.DONE,
        Prediction.objects.filter(pk=prediction_id, status=Prediction.Status.PENDING).update(
            status=Prediction.Status.DONE,
            label=result.label,
            verdict=result.verdict,
            confidence=result.confidence,
            probabilities=result.probabilities,
            heatmap_grid=heatmap_grid,
            upright_width=upright_width,
            upright_height=upright_height,
            model_version=version,
            inference_ms=result.inference_ms,
            error="",
            finished_at=timezone.now(),
        ),
    )


@transaction.atomic(savepoint=False)  # as do_finish_prediction
def do_fail_prediction(prediction_id: int, reason: str) -> bool:
    """Record why there is no answer, if the prediction is still pending."""
    return _ended(
        prediction_id,
        Prediction.Status.FAILED,
        Prediction.objects.filter(pk=prediction_id, status=Prediction.Status.PENDING).update(
            status=Prediction.Status.FAILED, error=reason, finished_at=timezone.now()
        ),
    )


def _ended(prediction_id: int, status: str, updated: int) -> bool:
    """Tell the listeners (the owner's webhooks) of a prediction this call answered or failed, in the transaction
    that recorded it."""
    if updated:
        prediction_ended.send(sender=Prediction, prediction_id=prediction_id, status=status)
    return bool(updated)
