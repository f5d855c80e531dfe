"""The review queue (the admin's page: classifier/admin.py ReviewAdmin): the finished predictions that deserve a
person's eye, most useful first, among the photos whose owners allowed their corrections to be used.

A prediction deserves review when its owner's feedback disagrees with the answer, when the model could not
tell ("unsure") or saw none of its classes ("other"), or when its top two classes are close (their margin is
below LOW_MARGIN). The order is active learning's "least margin": disagreeing feedback first, then the
smallest margin between the top two probabilities, then the oldest; skipped predictions come after every
undecided one. Accepting or rejecting one takes it out of the queue; undoing the decision puts it back.

The margin is worked out in Python from the stored probabilities (a JSON object, which SQLite and PostgreSQL
cannot sort by portably): the database narrows the rows first, reading only the few columns the order needs
(a margin below LOW_MARGIN needs a top probability below (1 + LOW_MARGIN) / 2), and only a page's predictions
are then loaded in full.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q

from accounts.models import allows_corrections
from trainer.ml import OTHER, VERDICT_WORDS

from .models import Prediction, Review, answered_as

# The owner's consent, read in the same query (None for an owner who never saved a setting: off).
CONSENT = "owner__profile__corrections_may_be_used"
# Below this gap between the top two probabilities, the model hesitated: worth a person's eye.
LOW_MARGIN = 0.5


def margin(probabilities: dict[str, float]) -> float:
    """The top probability minus the second (the top one alone for a single class; 0 for none)."""
    top = sorted((float(p) for p in probabilities.values()), reverse=True)[:2]
    if not top:
        return 0.0
    return top[0] - (top[1] if len(top) > 1 else 0.0)


@dataclass(frozen=True)
class QueueItem:
    """One prediction's place in the queue, from the few columns the order needs."""

    pk: int
    disagrees: bool
    unsure_or_other: bool
    margin: float
    skipped: bool
    created_at: datetime
    allowed: bool  # its owner allowed their corrected photos to be used

    @property
    def order(self) -> tuple:
        return (self.skipped, not self.disagrees, self.margin, self.created_at, self.pk)

    @property
    def deserves_review(self) -> bool:
        return self.disagrees or self.unsure_or_other or self.margin < LOW_MARGIN


def _undecided():
    return Q(review__isnull=True) | Q(review__decision=Review.Decision.SKIPPED)


def _candidates(class_name: str = "", version_id: int | None = None):
    """Finished, undecided (or skipped) predictions that may deserve review, narrowed by the database: the
    margin itself is checked in Python (QueueItem.deserves_review)."""
    disagrees = Q(feedback__isnull=False) & ~Q(feedback__label=F("answered"))
    may_be_close = Q(confidence__isnull=True) | Q(confidence__lt=(1 + LOW_MARGIN) / 2)
    rows = (
        Prediction.objects.filter(_undecided(), status=Prediction.Status.DONE)
        .annotate(answered=answered_as())
        .filter(disagrees | Q(answered__in=VERDICT_WORDS) | may_be_close)
    )
    if class_name:
        rows = rows.filter(Q(label=class_name) | Q(verdict=class_name) | Q(feedback__label=class_name))
    if version_id:
        rows = rows.filter(model_version_id=version_id)
    return rows.order_by()


def _items(rows) -> list[QueueItem]:
    items = [
        QueueItem(
            pk=pk,
            disagrees=feedback is not None and feedback != answered,
            unsure_or_other=answered in VERDICT_WORDS,
            margin=margin(probabilities or {}),
            skipped=decision == Review.Decision.SKIPPED,
            created_at=created_at,
            allowed=bool(allowed),
        )
        for pk, answered, feedback, probabilities, decision, created_at, allowed in rows.values_list(
            "pk", "answered", "feedback__label", "probabilities", "review__decision", "created_at", CONSENT
        )
    ]
    return sorted((item for item in items if item.deserves_review), key=lambda item: item.order)


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]  # in review order
    withheld: int  # how many would deserve review but their owners did not allow their use

    @property
    def ids(self) -> list[int]:
        return [item.pk for item in self.items]


def review_queue(class_name: str = "", version_id: int | None = None) -> Queue:
    """The queue in review order, filtered by a class (the model's or the owner's) and by the answering
    version; only predictions whose owners allowed their corrections to be used."""
    items = _items(_candidates(class_name, version_id))
    return Queue(items=[item for item in items if item.allowed], withheld=sum(not item.allowed for item in items))


def predictions_in_order(ids: list[int]) -> list[Prediction]:
    """The predictions of `ids` (a page of the queue), loaded in full, in that order."""
    found = Prediction.objects.filter(pk__in=ids).select_related("owner", "model_version", "feedback", "review")
    by_pk = {prediction.pk: prediction for prediction in found}
    return [by_pk[pk] for pk in ids if pk in by_pk]


def review_reasons(prediction: Prediction) -> list[str]:
    """Why a prediction is in the queue, in words for the page."""
    reasons = []
    feedback, answered = prediction.feedback_label, prediction.final_verdict
    if feedback is not None and feedback != answered:
        reasons.append("feedback disagrees")
    if answered in VERDICT_WORDS:
        reasons.append("can't tell" if answered != OTHER else "none of these")
    if margin(prediction.probabilities or {}) < LOW_MARGIN:
        reasons.append("low margin")
    return reasons


def shown_photos():
    """The predictions whose photos the review pages may show: those of owners who allow their corrections to
    be used (the queue's), and those decided on (the list of decided items, whatever their owners said since).
    A reviewer who may not see predictions sees no other person's photo by its id."""
    return Prediction.objects.filter(allows_corrections("owner") | Q(review__isnull=False))


def decided_reviews(decision: str = ""):
    """Accepted and rejected decisions, the latest first (skipped ones are still in the queue)."""
    reviews = Review.objects.exclude(decision=Review.Decision.SKIPPED)
    if decision:
        reviews = reviews.filter(decision=decision)
    # The list shows each one's owner, answer and feedback: loaded with the reviews, not one query per row.
    related = ("prediction__owner", "prediction__model_version", "prediction__feedback", "decided_by")
    return reviews.select_related(*related).order_by("-decided_at", "-pk")


def accepted_for_training():
    """The accepted decisions whose photos may become training data now: a class's (not "none of these"), of
    owners who still allow it, the oldest decision first."""
    return (
        Review.objects.filter(allows_corrections("prediction__owner"), decision=Review.Decision.ACCEPTED)
        .exclude(label=OTHER)
        .select_related("prediction")
        .order_by("decided_at", "pk")
    )
