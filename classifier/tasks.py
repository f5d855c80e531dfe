import io
import logging
import time

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import transaction
from PIL import Image

from trainer.models import ModelVersion

from .actions import (
    do_claim_prediction,
    do_claim_waiting,
    do_fail_prediction,
    do_finish_prediction,
    do_forget_idempotency_keys,
    do_release_predictions,
    do_resend_predictions,
    do_uncount_delivery,
)
from .models import Prediction

logger = logging.getLogger(__name__)


@worker_process_init.connect
def _preload_model(**kwargs):
    """A prediction worker's pool process loads the active model as it starts (CATDOG_PRELOAD_MODEL,
    on for the Procfile's prediction worker), so that its first photo does not wait for it."""
    if settings.CATDOG_PRELOAD_MODEL:
        from . import inference  # the engine's runtime: workers only

        inference.start_preloading()


# A photo whose prediction killed the worker this many times (out of memory in a decoder, say) is failed,
# not delivered again for ever; trainer.tasks.MAX_INGEST_ATTEMPTS does the same for datasets.
MAX_PREDICTION_ATTEMPTS = 3
MODEL_UNAVAILABLE = (
    "The service's model is unavailable right now: an administrator must fix it. "
    "Nothing is wrong with your photo; try again later."
)


# What decoding a file that is not a photo Pillow can read raises (trainer/images.py).
UNDECODABLE = (Image.UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError, OSError)
MODEL_FAILED = "The model failed on this photo. You can try again."


# What the task reads of its own prediction: not the answer's fields (the probabilities, the heatmap's grid).
_TASK_FIELDS = ("pk", "status", "image", "attempts", "claimed_by", "claimed_at")


# acks_late: a worker that dies mid-task leaves the message to be delivered again; that is safe
# because the task only ever finishes a prediction that is still pending (see the conditional writes).
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def predict_image(self, prediction_id: int) -> None:
    """Answer a photo, and in the same engine call the photos waiting behind it (micro-batching): under a
    backlog one call answers up to CATDOG_BATCH_MAX of them, much faster than one at a time; a photo alone goes
    at once. The tasks of the photos taken along find them answered (or still being answered) and return."""
    # Under a backlog most tasks find their photo answered in another's batch: one small query tells them.
    prediction = Prediction.objects.only(*_TASK_FIELDS).filter(pk=prediction_id).first()
    if prediction is None or prediction.status != Prediction.Status.PENDING:
        return  # deleted, or finished by an earlier delivery
    if prediction.is_claimed_by_another_task:
        return  # another task is answering it with its own
    if _stopped_the_worker_too_often(prediction):
        return
    if not do_claim_prediction(prediction_id):
        return  # another task took it into its batch meanwhile: it is theirs

    # Read on every task, so that an activation reaches running workers; the large text fields are
    # not needed to answer.
    version = (
        ModelVersion.objects.filter(is_active=True, status=ModelVersion.Status.READY)
        .defer("summary", "metrics", "params")
        .first()
    )
    if version is None:
        do_fail_prediction(prediction_id, "No model is active yet: an administrator must activate a model version.")
        return

    from . import inference  # the engine's runtime: workers only, imported by the first task

    # The model first: a model that cannot be loaded is the service's fault, never the photo's.
    try:
        model = inference.load_model(version)
    except inference.ModelUnavailable as error:
        if error.transient:
            _retry_or_fail(self, prediction_id, error, MODEL_UNAVAILABLE)
        else:
            _fail_for_the_model(prediction_id, version, error)
        return

    try:
        photos = {prediction_id: _read(prediction)}
    except FileNotFoundError:
        do_fail_prediction(prediction_id, "The photo is no longer in storage.")
        return
    except OSError as error:  # storage briefly unreachable: try again later, then give up clearly
        _retry_or_fail(self, prediction_id, error, "The photo could not be read from storage. Try again later.")
        return

    if prediction.attempts:
        # An earlier delivery died with its worker, perhaps because of a photo it took along: this one goes
        # alone, and those go back to their own tasks, alone too.
        taken_along = Prediction.objects.filter(claimed_by=prediction_id).exclude(pk=prediction_id)
        do_release_predictions(list(taken_along.values_list("pk", flat=True)), lost=True)
    else:
        photos |= _waiting_photos(prediction_id)
    _answer(model, version, photos)


def _read(prediction: Prediction) -> bytes:
    with prediction.image.open("rb") as f:
        return f.read()


def _waiting_photos(prediction_id: int) -> dict[int, bytes]:
    """The photos of the predictions taken into this task's batch: those waiting now, and when some were, those
    that arrive within CATDOG_BATCH_WAIT_MS (a batch forms only under load, so a photo alone never waits)."""
    room = settings.CATDOG_BATCH_MAX - 1
    taken = do_claim_waiting(prediction_id, room) if room > 0 else []
    if taken and len(taken) < room and settings.CATDOG_BATCH_WAIT_MS > 0:
        time.sleep(settings.CATDOG_BATCH_WAIT_MS / 1000)
        taken += do_claim_waiting(prediction_id, room - len(taken))
    photos = {}
    rows = Prediction.objects.filter(pk__in=taken).only("pk", "owner_id", "image").in_bulk()
    for prediction in (rows[pk] for pk in taken if pk in rows):
        try:
            photos[prediction.pk] = _read(prediction)
        except FileNotFoundError:
            do_fail_prediction(prediction.pk, "The photo is no longer in storage.")
        except OSError:
            do_release_predictions([prediction.pk])  # its own task tries again, with its retries
    return photos


def _answer(model, version: ModelVersion, photos: dict[int, bytes]) -> None:
    """Decode each photo (a photo that cannot be decoded fails alone), answer them all in one engine call,
    store the answers, each with its heatmap's grid."""
    decoded = {}
    for prediction_id, data in photos.items():
        try:
            decoded[prediction_id] = model.decode(io.BytesIO(data))
        except UNDECODABLE as error:
            logger.info("Prediction %s: the image could not be decoded: %s", prediction_id, error)
            do_fail_prediction(prediction_id, "The photo could not be decoded for the model.")
        except Exception:
            logger.exception("Prediction %s failed", prediction_id)
            do_fail_prediction(prediction_id, MODEL_FAILED)
    if not decoded:
        return
    try:
        results = model.answer(list(decoded.values()), version.operating_point)
    except Exception:
        logger.exception("Predictions %s failed", list(decoded))
        for prediction_id in decoded:
            do_fail_prediction(prediction_id, MODEL_FAILED)
        return
    logger.info("Answered predictions %s in one engine call", list(decoded))
    with transaction.atomic():  # one commit for the batch's answers, not one a photo
        for prediction_id, result in zip(decoded, results, strict=True):
            _finish_done(prediction_id, version, result)


def _stopped_the_worker_too_often(prediction: Prediction) -> bool:
    """Every earlier delivery that is still counted died with its worker (a chosen retry uncounts itself): a
    photo that did that too often is failed, not tried again."""
    if prediction.attempts < MAX_PREDICTION_ATTEMPTS:
        return False
    logger.error("Prediction %s stopped the worker %s times; it is failed", prediction.pk, prediction.attempts)
    do_fail_prediction(
        prediction.pk,
        f"This photo stopped the worker {prediction.attempts} times, so it is not tried again. "
        "Try another photo, or convert this one to JPEG or PNG and upload it again.",
    )
    return True


def _retry_or_fail(task, prediction_id: int, error: Exception, reason: str) -> None:
    """Try again later with backoff (2, 4, 8… s), up to the task's max_retries; then fail with `reason`."""
    if task.request.retries >= task.max_retries:
        logger.error("Prediction %s failed after %s retries: %s", prediction_id, task.max_retries, error)
        do_fail_prediction(prediction_id, reason)
        return
    # A retry we chose is not a delivery lost to a dying worker: it does not count as an attempt.
    do_uncount_delivery(prediction_id)
    raise task.retry(exc=error, countdown=2**task.request.retries)


def _fail_for_the_model(prediction_id: int, version: ModelVersion, error: Exception) -> None:
    logger.error("Model version %s (id %s) cannot be loaded: %s", version, version.pk, error)
    do_fail_prediction(prediction_id, MODEL_UNAVAILABLE)


def _finish_done(prediction_id: int, version: ModelVersion, result) -> None:
    if not do_finish_prediction(prediction_id, version, result):
        logger.info("Prediction %s was finished or deleted meanwhile; this result is dropped", prediction_id)


@shared_task
def resend_predictions() -> int:
    """Run by beat every CATDOG_SWEEP_SECONDS: no pending prediction stays unsent after a broker outage."""
    return do_resend_predictions()


@shared_task
def forget_idempotency_keys() -> int:
    """Run by beat every CATDOG_IDEMPOTENCY_SWEEP_SECONDS: Idempotency-Keys past their 24 hours are forgotten."""
    return do_forget_idempotency_keys()
