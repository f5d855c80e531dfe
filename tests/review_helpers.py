"""The review queue's tests (tests/test_review_*.py): answered predictions of consenting owners, with feedback."""

from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.actions import do_set_corrections_consent
from classifier.models import Feedback, Prediction

from .dataset_helpers import coloured_photo

_made = iter(range(1000, 10**6))


def answered(owner, version, probabilities: dict[str, float], *, verdict=None, feedback=None, age_hours=0):
    """A finished prediction of `owner` answered by `version` with `probabilities` (the verdict is the top class
    unless given), a photo of its own content, `age_hours` old, and the owner's `feedback` if given."""
    label = max(probabilities, key=probabilities.get)
    n = next(_made)
    data = coloured_photo("cat", f"review-{n}")  # noise: no two alike, nor like a dataset's photo
    prediction = Prediction(
        owner=owner, original_name=f"photo-{n}.png", image_format="PNG", width=64, height=48,
        size_bytes=len(data), status=Prediction.Status.DONE, label=label, verdict=label if verdict is None else verdict,
        confidence=probabilities[label], probabilities=probabilities, model_version=version,
    )  # fmt: skip
    prediction.image.save("photo.png", ContentFile(data), save=False)
    prediction.thumbnail.save("thumbnail.jpg", ContentFile(data), save=False)
    prediction.save()
    Prediction.objects.filter(pk=prediction.pk).update(created_at=timezone.now() - timedelta(hours=age_hours))
    if feedback is not None:
        Feedback.objects.create(prediction=prediction, label=feedback, given_by=owner)
    return Prediction.objects.select_related("feedback", "owner", "model_version").get(pk=prediction.pk)


def allow(user) -> None:
    do_set_corrections_consent(user, True)
