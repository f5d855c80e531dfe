import io
import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from PIL import Image

from trainer.models import ModelVersion

from .actions import do_resend_predictions
from .models import Prediction

logger = logging.getLogger(__name__)


@worker_process_init.connect
def _preload_model(**kwargs):
    """A prediction worker's pool process loads the active model as it starts (CATDOG_PRELOAD_MODEL,
    on for the Procfile's prediction worker), so that its first photo does not wait ~6 s for it."""
    if settings.CATDOG_PRELOAD_MODEL:
        from . import inference  # TensorFlow: workers only

        inference.start_preloading()


# acks_late: a worker that dies mid-task leaves the message to be delivered again; that is safe
# because the task only ever finishes a prediction that is still pending (see the conditional writes).
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def predict_image(self, prediction_id: int) -> None:
    prediction = Prediction.objects.filter(pk=prediction_id).first()
    if prediction is None or prediction.status != Prediction.Status.PENDING:
        return  # deleted, or finished by an earlier delivery
    Prediction.objects.filter(pk=prediction_id).update(attempts=F("attempts") + 1)

    # Read on every task, so that an activation reaches running workers; the large text fields are
    # not needed to answer.
    version = (
        ModelVersion.objects.filter(is_active=True, status=ModelVersion.Status.READY)
        .defer("summary", "metrics", "params")
        .first()
    )
    if version is None:
        _finish_failed(prediction_id, "No model is active yet: an administrator must activate a model version.")
        return

    try:
        with prediction.image.open("rb") as f:
            data = f.read()
    except FileNotFoundError:
        _finish_failed(prediction_id, "The photo is no longer in storage.")
        return
    except OSError as error:  # storage briefly unreachable: try again later, then give up clearly
        if self.request.retries >= self.max_retries:
            _finish_failed(prediction_id, "The photo could not be read from storage. Try again later.")
            return
        raise self.retry(exc=error, countdown=2**self.request.retries) from error

    from . import inference  # TensorFlow: workers only, imported by the first task

    try:
        result = inference.classify(version, io.BytesIO(data))
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError, OSError) as error:
        logger.info("Prediction %s: the image could not be decoded: %s", prediction_id, error)
        _finish_failed(prediction_id, "The photo could not be decoded for the model.")
        return
    except Exception:
        logger.exception("Prediction %s failed", prediction_id)
        _finish_failed(prediction_id, "The model failed on this photo. You can try again.")
        return

    finished = Prediction.objects.filter(pk=prediction_id, status=Prediction.Status.PENDING).update(
        status=Prediction.Status.DONE,
        label=result.label,
        confidence=result.confidence,
        probabilities=result.probabilities,
        model_version=version,
        inference_ms=result.inference_ms,
        error="",
        finished_at=timezone.now(),
    )
    if not finished:
        logger.info("Prediction %s was finished or deleted meanwhile; this result is dropped", prediction_id)


def _finish_failed(prediction_id: int, reason: str) -> None:
    Prediction.objects.filter(pk=prediction_id, status=Prediction.Status.PENDING).update(
        status=Prediction.Status.FAILED, error=reason, finished_at=timezone.now()
    )


@shared_task
def resend_predictions() -> int:
    """Run by beat every CATDOG_SWEEP_SECONDS: no pending prediction stays unsent after a broker outage."""
    return do_resend_predictions()
