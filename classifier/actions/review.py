"""The review queue: an admin's decisions (classifier/review.py), and the dataset version made from them."""

from django.db import transaction
from django.utils import timezone

from accounts.models import may_use_corrections
from trainer.actions import NewImage, do_derive_dataset_version
from trainer.models import Dataset

from ..models import Prediction, Review
from .feedback import feedback_choices


class ReviewRefused(ValueError):
    """A decision the queue cannot take; the message is a sentence for the admin who took it."""


def _check_reviewable(prediction: Prediction, *, accepting: bool) -> None:
    if prediction.status != Prediction.Status.DONE:
        raise ReviewRefused(f"{prediction.original_name} (#{prediction.pk}) has no answer yet: it cannot be reviewed.")
    if accepting and not may_use_corrections(prediction.owner):
        raise ReviewRefused(
            f"The owner of {prediction.original_name} (#{prediction.pk}) has not allowed their corrected photos to "
            "be used: it cannot be accepted."
        )


def _check_accepted_label(prediction: Prediction, label: str) -> None:
    choices = feedback_choices(prediction)
    if not label:
        raise ReviewRefused(f"Choose the label to accept for {prediction.original_name} (#{prediction.pk}).")
    if label not in choices:
        listed = ", ".join(f"“{name}”" for name in choices)
        raise ReviewRefused(
            f"“{label}” is not a class of the model that answered {prediction.original_name} (#{prediction.pk}): "
            f"accept one of {listed}."
        )


def _decide(prediction: Prediction, decision: str, label: str, by) -> Review:
    review, _ = Review.objects.update_or_create(
        prediction=prediction,
        defaults={"decision": decision, "label": label, "decided_by": by, "decided_at": timezone.now()},
    )
    return review


@transaction.atomic
def do_review(prediction: Prediction, decision: str, label: str = "", *, by) -> Review:
    """Decide on a prediction in the review queue: accept `label` (a class of the version that answered, or
    "other" for none of them) for its photo, reject it, or skip it for now. A second decision replaces the
    first. Accepting needs the owner's consent; the answer and the owner's feedback never change.

    Raises ReviewRefused, with the reason in words, and stores nothing."""
    if decision not in Review.Decision.values:
        raise ReviewRefused(f"“{decision}” is no decision: accept, reject or skip.")
    accepting = decision == Review.Decision.ACCEPTED
    _check_reviewable(prediction, accepting=accepting)
    if accepting:
        _check_accepted_label(prediction, label)
    return _decide(prediction, decision, label if accepting else "", by)


@transaction.atomic
def do_bulk_accept(predictions: list[Prediction], *, by) -> list[Review]:
    """Accept each prediction's feedback label, all or none: the first refusal of any is raised, naming it."""
    if not predictions:
        raise ReviewRefused("Select the items whose feedback to accept.")
    for prediction in predictions:
        _check_reviewable(prediction, accepting=True)
        if prediction.feedback_label is None:
            raise ReviewRefused(
                f"{prediction.original_name} (#{prediction.pk}) has no feedback to accept: accept it on its own, "
                "with the label you choose."
            )
        _check_accepted_label(prediction, prediction.feedback_label)
    return [_decide(prediction, Review.Decision.ACCEPTED, prediction.feedback_label, by) for prediction in predictions]


def do_undo_review(prediction: Prediction) -> bool:
    """Forget the decision on `prediction`: it is back in the queue. False if there was none."""
    deleted, _ = Review.objects.filter(prediction=prediction).delete()
    return bool(deleted)


def do_derive_version_from_reviews(parent: Dataset, reviews: list[Review], *, by, name: str = "") -> Dataset:
    """A new frozen version of `parent` with the photos of `reviews` (accepted, of a class), for training.

    The version copies each photo (trainer/actions/datasets.py), so deleting a prediction later leaves it whole;
    a photo already in `parent`, or of a class `parent` does not have, is left out and the version's `added`
    says why. Raises DatasetRefused when nothing would be added.
    """
    additions = [
        NewImage(review.label, review.prediction.image.name, origin=_origin(review.prediction)) for review in reviews
    ]
    return do_derive_dataset_version(parent, additions, by=by, name=name)


def _origin(prediction: Prediction) -> str:
    return f"review queue: prediction {prediction.pk} ({prediction.original_name})"
