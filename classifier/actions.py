from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import STALE_AFTER, Prediction
from .validation import CheckedImage


def _enqueue(prediction_id: int) -> None:
    from .tasks import predict_image

    predict_image.delay(prediction_id)


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
                )
                created.append(prediction)
                prediction.image.save(f"photo.{checked.extension}", checked.upload, save=False)
                prediction.thumbnail.save("thumbnail.jpg", ContentFile(checked.thumbnail), save=False)
                prediction.save()
                transaction.on_commit(lambda pk=prediction.pk: _enqueue(pk))
    except BaseException:
        for prediction in created:
            _delete_files(prediction)  # the rows were rolled back: leave no orphaned files
        raise
    return created


def do_retry_prediction(prediction: Prediction) -> bool:
    """Send a failed (or long-stuck) prediction back to the queue; False if it cannot be retried."""
    retryable = Q(status=Prediction.Status.FAILED) | Q(
        status=Prediction.Status.PENDING, created_at__lt=timezone.now() - STALE_AFTER
    )
    with transaction.atomic():
        updated = Prediction.objects.filter(retryable, pk=prediction.pk).update(
            status=Prediction.Status.PENDING, error="", finished_at=None
        )
        if updated:
            transaction.on_commit(lambda: _enqueue(prediction.pk))
    return bool(updated)


def do_delete_prediction(prediction: Prediction) -> None:
    """Delete the row, then its files once the deletion is committed."""
    with transaction.atomic():
        prediction.delete()
        transaction.on_commit(lambda: _delete_files(prediction))


def _delete_files(prediction: Prediction) -> None:
    for field in (prediction.image, prediction.thumbnail):
        if field.name:
            field.storage.delete(field.name)
