"""Promotion on evidence: whether a version may replace the active one, its measurement on a test set both
versions are new to, and the automatic promotion of a lineage's better trainings.

A version is compared with the active one on the photos both answered (trainer/promotion.py): the
candidate's own test photos when the active version has answers on the same photo set (the lineage's frozen
test split, or the same test dataset), else a dataset the admin chose that neither was trained on, on which
both are measured (a Measurement each, run by the training worker: trainer/tasks.py measure_model_version).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from ..models import Activation, Dataset, DatasetImage, Measurement, ModelVersion, TestPhotoResult, TrainedPhoto
from ..promotion import BETTER, NOT_DIFFERENT, Comparison, compare, percent
from .enqueue import enqueue
from .exports import NotServable, serving_refusal
from .versions import do_activate_model_version, record_test_answers

# measure_model_version's hard time limit (trainer/tasks.py): a measurement still running past it lost its worker.
MEASURE_TIME_LIMIT_SECONDS = settings.CATDOG_TRAINING_TIME_LIMIT + 120


class MeasurementRefused(ValueError):
    """The measurement cannot be made; the message says why."""


class ActivationRefused(ValueError):
    """Activating needs a confirmation that was not given; the message names the numbers."""


# --- Comparing two versions ------------------------------------------------------------------------------


def _photo_sets(version: ModelVersion) -> set[str]:
    return set(version.test_results.exclude(test_sha256="").values_list("test_sha256", flat=True).distinct())


def compare_versions(candidate: ModelVersion, other: ModelVersion) -> Comparison | None:
    """The two versions on the same photos, or None when no photo set has answers of both.

    The set with the most photos wins, as it has the most power to tell two versions apart (a small
    lineage's frozen split can hold a few dozen photos, a test set the admin measured both on a thousand);
    among sets of one size, the candidate's own test photos (the lineage's frozen split: what every version
    of the lineage is measured on), then the other's, then the most recent measurement both have."""
    shared = _photo_sets(candidate) & _photo_sets(other)
    if not shared:
        return None
    sizes = dict(
        candidate.test_results.filter(test_sha256__in=shared)
        .values_list("test_sha256")
        .annotate(photos=Count("pk"))
        .order_by()
    )
    measured = dict(
        Measurement.objects.filter(version__in=[candidate, other], test_sha256__in=shared, status="ready")
        .values_list("test_sha256")
        .annotate(last=Max("finished_at"))
        .order_by()
    )

    def preference(sha256: str):
        last = measured.get(sha256)
        return (
            -sizes.get(sha256, 0),
            sha256 != candidate.test_sha256,
            sha256 != other.test_sha256,
            -(last.timestamp() if last else 0),
        )

    test_sha256 = min(shared, key=preference)
    fields = ("sha256", "name", "true_label", "predicted_label")

    def rows(version):
        return version.test_results.filter(test_sha256=test_sha256).order_by().values_list(*fields, named=True)

    return compare(test_sha256, rows(candidate), rows(other))


@dataclass
class ActivationCheck:
    """What activating `version` would do, and whether it needs a confirmation."""

    version: ModelVersion
    active: ModelVersion | None
    comparison: Comparison | None
    not_servable: str = ""  # why the workers' engine cannot serve it: no confirmation can overrule that

    @property
    def needs_confirmation(self) -> bool:
        """Anything but evidence that the candidate is significantly better needs a person's confirmation."""
        if self.active is None:
            return False
        return self.comparison is None or self.comparison.verdict != BETTER

    @property
    def warning(self) -> str:
        """The sentence the admin confirms: what the numbers say against activating."""
        if not self.needs_confirmation:
            return ""
        version, active, comparison = self.version, self.active, self.comparison
        if comparison is None:
            return (
                f"Activate {version} although it was never measured on the same photos as {active}: "
                f"{version} answered {percent(version.test_accuracy)} of its own test photos right, "
                f"{active} {percent(active.test_accuracy)} of its own, and those numbers cannot be compared"
            )
        numbers = (
            f"{percent(comparison.candidate.accuracy)} right against {percent(comparison.other.accuracy)} "
            f"for {active} on the same {comparison.photos:,} photos (McNemar {comparison.p_words})"
        )
        if comparison.candidate.accuracy < comparison.other.accuracy or comparison.verdict != NOT_DIFFERENT:
            return f"Activate {version} although it answered {numbers}"
        return f"Activate {version} although it is not significantly better: it answered {numbers}"

    def evidence(self) -> dict:
        if self.comparison is not None:
            return self.comparison.evidence()
        return {
            "verdict": "none",
            "candidate_accuracy": self.version.test_accuracy,
            "other_accuracy": self.active.test_accuracy if self.active else None,
        }


def active_other_than(version: ModelVersion) -> ModelVersion | None:
    """The active version, unless it is `version` itself: the one `version` would replace."""
    return ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).first()


def check_activation(version: ModelVersion) -> ActivationCheck:
    """How `version` compares with the active version on the same photos, if they share any."""
    active = active_other_than(version)
    comparison = compare_versions(version, active) if active is not None else None
    return ActivationCheck(version, active, comparison, not_servable=serving_refusal(version))


def do_activate_checked(
    version: ModelVersion, *, by, confirmed: bool, confirmed_over: str | None = None
) -> Activation | None:
    """Activate `version` for a person: at once when it is significantly better than the active version on
    the same photos (or none is active), otherwise only with `confirmed`, recorded as such.

    `confirmed_over` is the id of the active version the confirmation was given against, as the page showed
    it: when another version became active since (a training promoted automatically, another admin), the
    person confirmed a warning about a version that no longer answers, and is asked again."""
    check = check_activation(version)
    if check.not_servable:
        raise NotServable(f"{version} cannot be activated: {check.not_servable}")
    if check.needs_confirmation and confirmed and confirmed_over is not None:
        if confirmed_over != str(check.active.pk):
            raise ActivationRefused(
                f"{check.active} became the active version after the page was shown. {check.warning}: confirm it "
                "to activate."
            )
    if check.needs_confirmation and not confirmed:
        raise ActivationRefused(check.warning + ": confirm it to activate.")
    if check.active is None:
        reason = "No version was active."
    elif check.needs_confirmation:
        reason = f"Activated over a warning the administrator confirmed: “{check.warning}.”"
    else:
        reason = f"{check.comparison.verdict_words.capitalize()} than {check.active} on the same photos."
    return do_activate_model_version(
        version, by=by, confirmed=check.needs_confirmation, reason=reason, evidence=check.evidence()
    )


# --- Automatic promotion ---------------------------------------------------------------------------------


def do_consider_promotion(version: ModelVersion) -> bool:
    """After a training: activate `version` if its lineage promotes automatically and it is significantly
    better than the active version on the same photos; otherwise say why not, on the version
    (metrics["promotion"], shown on its page). Returns whether it was activated."""
    lineage = version.dataset.root if version.dataset_id else None
    check = check_activation(version)
    activated = False
    if lineage is None or not lineage.auto_promote:
        reason = "Automatic promotion is off for this lineage" + (f" ({lineage})." if lineage else ".")
    elif check.not_servable:
        reason = f"Not activated: not servable: {check.not_servable}"
    elif check.active is None:
        reason = "No version is active: activate one by hand first."
    elif check.comparison is None:
        reason = f"Not activated: the active version {check.active} has no answers on the same photos."
    elif check.comparison.verdict != BETTER:
        comparison = check.comparison
        reason = (
            f"Not activated: {comparison.verdict_words} than {check.active} "
            f"({percent(comparison.candidate.accuracy)} against {percent(comparison.other.accuracy)} on the "
            f"same {comparison.photos:,} photos, McNemar {comparison.p_words})."
        )
    else:
        comparison = check.comparison
        reason = (
            f"Activated automatically: significantly better than {check.active} "
            f"({percent(comparison.candidate.accuracy)} against {percent(comparison.other.accuracy)} on the "
            f"same {comparison.photos:,} photos, McNemar {comparison.p_words}); the lineage {lineage} "
            "promotes automatically."
        )
        do_activate_model_version(version, automatic=True, reason=reason, evidence=check.evidence())
        activated = True
    version.metrics = {**version.metrics, "promotion": {"activated": activated, "reason": reason}}
    version.save(update_fields=["metrics"])
    return activated


# --- Measuring a version on a chosen test set ------------------------------------------------------------


def overlap(version: ModelVersion, dataset: Dataset) -> int:
    """How many of `dataset`'s photos `version` was trained on."""
    photos = DatasetImage.objects.filter(dataset=dataset).values("sha256")
    return TrainedPhoto.objects.filter(version=version, sha256__in=photos).count()


def _check_measurable(version: ModelVersion, dataset: Dataset) -> None:
    if version.status != ModelVersion.Status.READY or not version.file:
        raise MeasurementRefused(f"{version} is not a ready version with a model file: it cannot be measured.")
    if dataset.status != Dataset.Status.READY:
        raise MeasurementRefused(f"The dataset {dataset} is {dataset.get_status_display().lower()}, not ready.")
    if sorted(dataset.class_names) != sorted(version.class_names):
        raise MeasurementRefused(
            f"The dataset {dataset} has the classes {', '.join(dataset.class_names)}; {version} answers "
            f"{', '.join(version.class_names)}. Choose a dataset with the same classes."
        )
    if not version.trained_photos.exists():
        raise MeasurementRefused(
            f"catdog does not know which photos {version} was trained on (it was trained before they were "
            "recorded), so it cannot check that this test set is new to it."
        )
    shared = overlap(version, dataset)
    if shared:
        raise MeasurementRefused(
            f"{version} was trained on {shared:,} of the {dataset.images.count():,} photos of {dataset}: it would "
            "be measured on photos it has learnt. Choose a dataset neither version was trained on."
        )


def do_request_measurements(versions: list[ModelVersion], dataset: Dataset, *, by=None) -> list[Measurement]:
    """Measure each of `versions` on `dataset`, after checking that none of them was trained on any of its
    photos; a version already measured (or being measured) on the same photos is not measured again."""
    for version in versions:
        _check_measurable(version, dataset)
    measurements = []
    with transaction.atomic():
        for version in versions:
            existing = Measurement.objects.filter(
                version=version,
                test_sha256=dataset.content_sha256,
                status__in=[Measurement.Status.QUEUED, Measurement.Status.RUNNING, Measurement.Status.READY],
            ).first()
            if existing is not None:
                measurements.append(existing)
                continue
            measurement = Measurement.objects.create(
                version=version, dataset=dataset, test_sha256=dataset.content_sha256, created_by=by
            )
            transaction.on_commit(lambda pk=measurement.pk: enqueue("measure_model_version", pk))
            measurements.append(measurement)
    return measurements


def do_claim_measurement(measurement_id: int) -> Measurement | None:
    """Mark a queued measurement as running; None if it is not queued any more (deleted, or taken)."""
    claimed = Measurement.objects.filter(pk=measurement_id, status=Measurement.Status.QUEUED).update(
        status=Measurement.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    return Measurement.objects.select_related("version", "dataset").filter(pk=measurement_id).first()


def do_finish_measurement(measurement_id: int, started_at, answers) -> bool:
    """Store the version's answer on each photo of the measurement (TestPhotoResult rows of its photo set) and
    its accuracy, if this run still holds it."""
    with transaction.atomic():
        measurement = (
            Measurement.objects.select_for_update()
            .select_related("version")
            .filter(pk=measurement_id, status=Measurement.Status.RUNNING, started_at=started_at)
            .first()
        )
        if measurement is None:
            return False
        answers = list(answers)
        right = sum(max(a.probabilities, key=a.probabilities.get) == a.true_label for a in answers)
        version = measurement.version
        TestPhotoResult.objects.filter(version=version, test_sha256=measurement.test_sha256).delete()
        record_test_answers(version, answers, test_sha256=measurement.test_sha256)
        measurement.status = Measurement.Status.READY
        measurement.accuracy = right / len(answers) if answers else None
        measurement.error = ""
        measurement.finished_at = timezone.now()
        measurement.save(update_fields=["status", "accuracy", "error", "finished_at"])
    return True


def do_fail_measurement(measurement_id: int, error: str, *, started_at=None) -> bool:
    """End a queued or running measurement as failed, with the reason."""
    failing = Measurement.objects.filter(
        pk=measurement_id, status__in=[Measurement.Status.QUEUED, Measurement.Status.RUNNING]
    )
    if started_at is not None:
        failing = failing.filter(started_at=started_at)
    return bool(failing.update(status=Measurement.Status.FAILED, error=error, finished_at=timezone.now()))


def do_fail_stuck_measurements() -> int:
    """Fail every measurement still running past its task's hard time limit: its worker died (out of memory, say)
    and no delivery is coming back to it. Returns how many; the measurement can be asked for again."""
    limit = MEASURE_TIME_LIMIT_SECONDS
    error = (
        f"The measurement stopped without a result: no worker has been on it for over {limit // 60 + 1} minutes "
        "(its worker stopped). Measure again."
    )
    stuck = Measurement.objects.filter(
        status=Measurement.Status.RUNNING, started_at__lt=timezone.now() - timedelta(seconds=limit + 60)
    )
    return stuck.update(status=Measurement.Status.FAILED, error=error, finished_at=timezone.now())
