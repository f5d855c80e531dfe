import uuid
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trainer.ml import OTHER, UNSURE, VERDICT_WORDS
from trainer.models import ModelVersion

from .answers import Answer, answer_of, said

# A prediction still pending after this long has lost its message (say, a broker that lost its data):
# its owner may send it again. Redelivering is safe because the task is idempotent.
STALE_AFTER = timedelta(minutes=10)
# Most answers take a few seconds: past this, the pages say that this one is slow.
SLOW_AFTER = timedelta(seconds=20)
# A prediction a task took into its batch is that task's for this long; then any task may take it again.
CLAIM_LEASE = timedelta(minutes=1)


def local_midnight(day: date) -> datetime:
    """Midnight at the start of `day` in the site's time zone: where the history's and the dashboard's days begin
    (a comparison the created_at index serves)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _image_upload_to(prediction: "Prediction", filename: str) -> str:
    # A random name: a storage key must not be guessable from ids or the photo's own name.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"uploads/{prediction.owner_id}/{uuid.uuid4().hex}.{extension}"


def _heatmap_upload_to(prediction: "Prediction", filename: str) -> str:
    return f"heatmaps/{prediction.owner_id}/{uuid.uuid4().hex}.png"


def _thumbnail_upload_to(prediction: "Prediction", filename: str) -> str:
    return f"thumbnails/{prediction.owner_id}/{uuid.uuid4().hex}.jpg"


# The history's and the API's `feedback` filter: any feedback, or feedback that differs from the answer.
FEEDBACK_FILTERS = {"any": "With feedback", "disagrees": "You disagreed"}


def answered_as():
    """The answer as it was shown, in SQL: the verdict, or the label of an answer from before verdicts."""
    return models.Case(models.When(verdict="", then=models.F("label")), default=models.F("verdict"))


class PredictionQuerySet(models.QuerySet):
    def with_feedback(self, kind: str) -> "PredictionQuerySet":
        """The predictions with feedback (`kind` "any"), or with feedback that differs from their finished
        answer ("disagrees")."""
        given = self.filter(feedback__isnull=False)
        if kind != "disagrees":
            return given
        return (
            given.filter(status=Prediction.Status.DONE)
            .alias(answered=answered_as())
            .exclude(feedback__label=models.F("answered"))
        )

    def with_verdict(self, verdict: str) -> "PredictionQuerySet":
        """The finished predictions answered `verdict`: a class name, "unsure" or "other". An answer from
        before verdicts existed (no verdict stored) counts as its label, the top class, as it was shown."""
        done = self.filter(status=Prediction.Status.DONE)
        if verdict in VERDICT_WORDS:
            return done.filter(verdict=verdict)
        return done.filter(Q(verdict=verdict) | Q(verdict="", label=verdict))

    def verdict_counts(self) -> dict[str, int]:
        """How many finished predictions got each verdict (an answer without one counts as its label)."""
        counts: dict[str, int] = {}
        rows = self.filter(status=Prediction.Status.DONE).values_list("verdict", "label").annotate(n=models.Count("pk"))
        for verdict, label, n in rows.order_by():
            counts[verdict or label] = counts.get(verdict or label, 0) + n
        return counts


class Prediction(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="predictions")
    image = models.FileField(upload_to=_image_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=_thumbnail_upload_to, max_length=300, blank=True)
    original_name = models.CharField(max_length=255)
    image_format = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    label = models.CharField(max_length=100, blank=True, db_index=True)
    confidence = models.FloatField(null=True, blank=True)
    probabilities = models.JSONField(default=dict, blank=True)
    # A class name when the version is sure; "unsure" or "other" (trainer/ml/verdicts.py). `label` stays the top class.
    verdict = models.CharField(max_length=100, blank=True, db_index=True)
    # Where the model looked for its top class, stored with the answer: the model's coarse grid (7x7 for
    # MobileNetV2), rows of 0..255, drawn over the upright photo on request (classifier/heatmaps.py); empty
    # for an answer without one. The upright photo's size, EXIF orientation applied, gives the drawing its shape.
    heatmap_grid = models.JSONField(default=list, blank=True)
    upright_width = models.PositiveIntegerField(null=True, blank=True)
    upright_height = models.PositiveIntegerField(null=True, blank=True)
    # The heatmap as a grayscale PNG file, as answers made before the grid was stored have it; new ones have none.
    heatmap = models.FileField(upload_to=_heatmap_upload_to, max_length=300, blank=True)
    model_version = models.ForeignKey(
        "trainer.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="predictions"
    )
    inference_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the task was last handed to the broker; None when sending failed (broker unreachable), so the
    # sweep (do_resend_predictions) knows to send it again.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Micro-batching (classifier/tasks.py): the prediction whose task took this one into its engine call, and
    # when. Another task leaves it alone until CLAIM_LEASE has passed (then its worker is taken to be dead).
    claimed_by = models.PositiveBigIntegerField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="classifier_owner_recent"),
            # The sweep's question, every half minute: which pending predictions are unsent or sent long ago?
            models.Index(fields=["queued_at"], condition=models.Q(status="pending"), name="classifier_pending_queued"),
            # The admin's dashboard (classifier/dashboard.py): answers and failures over a time range, and each
            # version's answers over its first and its last week.
            models.Index(fields=["status", "created_at"], name="classifier_status_created"),
            models.Index(fields=["model_version", "created_at"], name="classifier_version_created"),
        ]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.PENDING

    @property
    def can_retry(self) -> bool:
        if self.status == self.Status.FAILED:
            return True
        return self.status == self.Status.PENDING and self.created_at < timezone.now() - STALE_AFTER

    @property
    def is_claimed_by_another_task(self) -> bool:
        """Taken into another prediction's batch, by a task that is presumably still answering it."""
        return (
            self.claimed_by not in (None, self.pk)
            and self.claimed_at is not None
            and self.claimed_at > timezone.now() - CLAIM_LEASE
        )

    @property
    def is_slow(self) -> bool:
        return self.status == self.Status.PENDING and self.created_at < timezone.now() - SLOW_AFTER

    @property
    def has_heatmap(self) -> bool:
        """Its grid, stored with the answer, or the file of an answer from before grids were stored."""
        return bool(self.heatmap_grid) or bool(self.heatmap)

    @property
    def upright_size(self) -> tuple[int, int]:
        """The photo's (width, height) as shown, which its heatmap is drawn to; the stored file's own for an
        answer that did not record it."""
        if self.upright_width and self.upright_height:
            return self.upright_width, self.upright_height
        return self.width, self.height

    @property
    def page_state(self) -> str:
        """What a page shows of this prediction; the pages ask for it again when this has changed."""
        if self.status != self.Status.PENDING:
            return self.status
        return "stale" if self.can_retry else "slow" if self.is_slow else "pending"

    def sorted_probabilities(self) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)

    @property
    def final_verdict(self) -> str | None:
        """The verdict of a finished prediction; its label for one answered before verdicts existed (it was
        shown its top class then); None until it is answered."""
        if self.status != self.Status.DONE:
            return None
        return self.verdict or self.label

    @property
    def class_names(self) -> list[str]:
        """The answering version's classes, in its order (the probabilities' names if the version is unknown)."""
        if self.model_version and self.model_version.class_names:
            return list(self.model_version.class_names)
        return sorted(self.probabilities or {})

    @property
    def feedback_label(self) -> str | None:
        """What the owner said the photo shows (a class or "other"), None if they said nothing. Lists load the
        feedback with select_related("feedback"), so this costs no query of its own."""
        try:
            return self.feedback.label
        except ObjectDoesNotExist:
            return None

    @property
    def feedback_words(self) -> str | None:
        label = self.feedback_label
        return None if label is None else said(label, self.class_names)

    @property
    def right_label(self) -> str | None:
        """The feedback that says "the answer is right": the class answered, or "other" for "none of these";
        None for "can't tell", which only a class (or "none of these") can correct, and until answered."""
        verdict = self.final_verdict
        return None if verdict in (None, UNSURE) else verdict

    @property
    def feedback_options(self) -> list[tuple[str, str]]:
        """The other answers its owner can give, as (label, words): each class, then "None of these"; the
        answer's own label is left out until feedback is given (a "Right" button stands for it)."""
        options = [(name, said(name, [])) for name in self.class_names] + [(OTHER, "None of these")]
        if self.feedback_label is None:
            options = [option for option in options if option[0] != self.right_label]
        return options

    @property
    def answer(self) -> Answer | None:
        """The answer in words (classifier/answers.py), in the answering version's terms."""
        if self.status != self.Status.DONE:
            return None
        return answer_of(self.final_verdict, self.probabilities or {}, self.class_names)


def verdict_choices(owner) -> list[str]:
    """The verdicts `owner`'s answers can be filtered by: the active version's classes, then the other classes
    their answers got (from earlier versions), then "unsure" and "other"."""
    active = ModelVersion.objects.filter(is_active=True).values_list("class_names", flat=True).first() or []
    answered = Prediction.objects.filter(owner=owner).exclude(label="").values_list("label", flat=True).distinct()
    earlier = sorted(set(answered.order_by()) - set(active) - set(VERDICT_WORDS))
    return [*active, *earlier, *VERDICT_WORDS]


class Feedback(models.Model):
    """What the owner says a photo really shows, kept beside the model's answer, which it never changes: a class
    of the version that answered, or "other" for none of them. One per prediction; a second replaces the first."""

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="feedback")
    label = models.CharField(max_length=100)
    given_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "feedback"

    def __str__(self):
        return f"{self.label} for prediction {self.prediction_id}"


class Review(models.Model):
    """An admin's decision on a prediction in the review queue (classifier/review.py): the label accepted for its
    photo, or that it was rejected or skipped. Only accepted photos of owners who allow it become training data,
    through a new dataset version; deleting the prediction deletes its review (a version keeps its copy)."""

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="review")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    # The label accepted: a class of the version that answered, or "other"; blank unless accepted.
    label = models.CharField(max_length=100, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["decision", "label"], name="classifier_review_decision")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision="accepted", label__gt="") | ~models.Q(decision="accepted"),
                name="classifier_review_accepted_has_label",
            ),
        ]

    def __str__(self):
        return f"{self.get_decision_display()} {self.label} for prediction {self.prediction_id}".replace("  ", " ")


# A retried upload with the same Idempotency-Key gets the first answer for this long; then the key may be used again.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


class IdempotencyKey(models.Model):
    """The answer to a `POST /api/predictions/` sent with an `Idempotency-Key` header: the same user retrying with
    the same key gets this answer again, not a second prediction. One per user and key, enforced by the database,
    so that two retries arriving together cannot both upload; the sweep forgets keys past their lifetime."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # A digest of the request's fields and files: the same key with another request is refused, not answered.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)  # null only inside the transaction that answers
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="classifier_idempotency_key_once")]

    def __str__(self):
        return f"{self.key} ({self.status_code})"
