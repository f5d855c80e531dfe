"""Feedback: what the owner says a photo really shows."""

from django.db import transaction

from trainer.ml import OTHER

from ..answers import none_of
from ..models import Feedback, Prediction

NOT_ANSWERED = "This photo has no answer yet: feedback can be given once it is answered."


class FeedbackError(ValueError):
    """Feedback that cannot be stored; the message is a sentence for the person who gave it."""


def feedback_choices(prediction: Prediction) -> list[str]:
    """The labels feedback on `prediction` may carry: the answering version's classes, then "other"."""
    return [*prediction.class_names, OTHER]


def check_feedback_label(prediction: Prediction, label: str) -> None:
    """Refuse feedback on a photo without an answer, or naming a class the answering version does not know."""
    if prediction.status != Prediction.Status.DONE:
        raise FeedbackError(NOT_ANSWERED)
    choices = feedback_choices(prediction)
    if not label:
        raise FeedbackError("Say what the photo shows: one of its classes, or “none of these”.")
    if label not in choices:
        listed = ", ".join(f"“{name}”" for name in choices[:-1])
        raise FeedbackError(
            f"“{label}” is not a class of the model that answered: say {listed}, or “{OTHER}” for "
            f"{none_of(choices[:-1]).lower()}."
        )


@transaction.atomic
def do_give_feedback(prediction: Prediction, user, label: str) -> tuple[Feedback, bool]:
    """Store (or replace) `user`'s feedback on their prediction; True when there was none before.

    The answer stays as the model gave it: feedback is kept beside it, never written over it.
    """
    check_feedback_label(prediction, label)
    feedback, created = Feedback.objects.select_for_update().get_or_create(
        prediction=prediction, defaults={"label": label, "given_by": user}
    )
    if not created:
        feedback.label, feedback.given_by = label, user
        feedback.save(update_fields=["label", "given_by", "updated_at"])
    prediction.feedback = feedback
    return feedback, created


def do_withdraw_feedback(prediction: Prediction) -> bool:
    """Forget the owner's feedback on `prediction`; False if there was none."""
    deleted, _ = Feedback.objects.filter(prediction=prediction).delete()
    return bool(deleted)
