"""Model versions: registering a trained model, and choosing the one that answers."""

from datetime import datetime
from pathlib import Path

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ..files import delete_files, file_sha256
from ..ml import OPERATING_POINTS
from ..models import Activation, Dataset, ModelVersion, TestPhotoResult, TrainedPhoto
from .exports import check_servable, do_record_exports


@transaction.atomic
def do_register_model_version(
    *,
    name: str,
    model_path: Path,
    architecture: str,
    class_names: list[str],
    image_size: int,
    params: dict,
    metrics: dict,
    summary: str,
    dataset: Dataset | None = None,
    test_sha256: str = "",
    trained_at: datetime | None = None,
    calibration_path: Path | None = None,
    calibration_report: dict | None = None,
    test_answers=(),
    trained_sha256s=(),
    exports=(),
    activate: bool = False,
) -> ModelVersion:
    """Store a trained `.keras` file (and its calibration and exports) through the storage API and record it as
    a ready version with its test answers, trained at `trained_at` (now, unless the model was trained elsewhere,
    as the shipped one was), and the photos it was trained on (`trained_sha256s`)."""
    version = ModelVersion(
        name=name,
        status=ModelVersion.Status.READY,
        architecture=architecture,
        class_names=list(class_names),
        image_size=image_size,
        params=params,
        metrics=metrics,
        test_accuracy=metrics.get("accuracy"),
        leakage_dropped=metrics.get("leakage_dropped"),
        summary=summary,
        dataset=dataset,
        dataset_sha256=dataset.content_sha256 if dataset else "",
        test_sha256=test_sha256,
        trained_at=trained_at or timezone.now(),
        calibration_report=calibration_report or {},
    )
    version.file_sha256 = store_model_file(version, model_path)
    version.calibration_sha256 = store_calibration_file(version, calibration_path)
    version.save()
    record_test_answers(version, test_answers)
    record_trained_photos(version, trained_sha256s)
    if exports:
        do_record_exports(version, list(exports))
    if activate:
        do_activate_model_version(version, reason="Activated as it was registered, as asked (train_model --activate).")
    return version


@transaction.atomic
def do_attach_calibration(version: ModelVersion, calibration_path: Path, report: dict, test_answers) -> None:
    """Give a version trained before calibrations existed its verdict rule, its figures and its test answers
    (the `calibrate_version` command, the shipped model); workers load it with the next photo."""
    old = version.calibration.name
    version.calibration_sha256 = store_calibration_file(version, calibration_path)
    version.calibration_report = report
    version.save(update_fields=["calibration", "calibration_sha256", "calibration_report"])
    version.test_results.filter(test_sha256=version.test_sha256).delete()  # its measurements keep theirs
    record_test_answers(version, test_answers)
    if old and old != version.calibration.name:
        transaction.on_commit(lambda: delete_files([old]))


def store_calibration_file(version: ModelVersion, calibration_path: Path | None) -> str:
    """Save a version's calibration (.npz) beside its model file, without saving the row; returns its
    SHA-256, or "" when the version has none."""
    if calibration_path is None:
        return ""
    sha256 = file_sha256(calibration_path)
    with open(calibration_path, "rb") as f:
        stem = slugify(version.name) or "model"
        version.calibration.save(f"{stem}-{sha256[:12]}.calibration.npz", File(f), save=False)
    return sha256


def record_test_answers(version: ModelVersion, answers, *, test_sha256: str | None = None) -> None:
    """One TestPhotoResult per test photo (trainer/ml/evaluate.py TestAnswer), found again by its content, of
    the photo set `test_sha256`: the version's own test photos unless told (a Measurement's)."""
    rows = []
    for answer in answers:
        predicted = max(answer.probabilities, key=answer.probabilities.get)
        rows.append(
            TestPhotoResult(
                version=version,
                sha256=answer.sha256,
                name=answer.name,
                true_label=answer.true_label,
                predicted_label=predicted,
                test_sha256=version.test_sha256 if test_sha256 is None else test_sha256,
                verdict=answer.verdict,
                confidence=answer.probabilities[predicted],
                probabilities=answer.probabilities,
                heatmap=answer.heatmap,
            )
        )
    TestPhotoResult.objects.bulk_create(rows, batch_size=500)


def record_trained_photos(version: ModelVersion, sha256s) -> None:
    """The photos `version` was trained on, by content: a test set may be checked against them later."""
    rows = [TrainedPhoto(version=version, sha256=sha256) for sha256 in set(sha256s)]
    TrainedPhoto.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def store_model_file(version: ModelVersion, model_path: Path) -> str:
    """Save a `.keras` file as the version's file (models/<name>-<SHA-256 prefix>.keras, through the
    storage API, so S3 too) without saving the row; returns the file's SHA-256."""
    sha256 = file_sha256(model_path)
    with open(model_path, "rb") as f:
        version.file.save(f"{slugify(version.name) or 'model'}-{sha256[:12]}.keras", File(f), save=False)
    return sha256


@transaction.atomic
def do_activate_model_version(
    version: ModelVersion,
    *,
    by=None,
    automatic: bool = False,
    confirmed: bool = False,
    reason: str = "",
    evidence: dict | None = None,
) -> Activation | None:
    """Make `version` the one every worker answers with; the database keeps it the only active one. Every
    activation is recorded (trainer.Activation): by whom or automatically, over which version, whether a
    warning was confirmed, why, and the comparison it rested on. None when it was already the active one.

    Workers read the active version for every prediction (classifier/tasks.py), so the next photo is
    answered by it, with no restart. Rolling back is activating the earlier version. Whether the evidence
    allows it is the caller's question (trainer/actions/promotion.py `check_activation`); whether the workers'
    engine can serve it is asked here, for every caller: NotServable says why not.
    """
    if version.status != ModelVersion.Status.READY:
        raise ValueError(f"{version} is {version.get_status_display().lower()}, not ready: it cannot answer.")
    check_servable(version)
    previous = ModelVersion.objects.select_for_update().filter(is_active=True).first()
    if previous is not None and previous.pk == version.pk:
        return None
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.save(update_fields=["is_active"])
    return Activation.objects.create(
        version=version,
        previous=previous,
        activated_by=by,
        automatic=automatic,
        confirmed=confirmed,
        reason=reason,
        evidence=evidence or {},
    )


@transaction.atomic
def do_set_operating_point(version: ModelVersion, name: str, user) -> bool:
    """Choose how cautious a calibrated version is (trainer/ml/__init__.py OPERATING_POINTS), recording who chose
    it and when, also in the admin's history. False when `name` was already the version's operating point.

    Workers read the version for every photo (classifier/tasks.py), so the next photo is answered at it.
    Raises ValueError for an unknown name, or for a version without a calibration (it has no operating point).
    """
    if name not in OPERATING_POINTS:
        choices = ", ".join(OPERATING_POINTS)
        raise ValueError(f"{name!r} is not an operating point: choose one of {choices}.")
    if not version.calibration:
        raise ValueError(f"{version} has no calibration: it answers every photo with a class, at no operating point.")
    previous = version.operating_point
    if name == previous:
        return False
    version.operating_point = name
    version.operating_point_set_by = user
    version.operating_point_set_at = timezone.now()
    version.save(update_fields=["operating_point", "operating_point_set_by", "operating_point_set_at"])
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[version],
        action_flag=CHANGE,
        change_message=f"Changed the operating point from {previous} to {name}.",
        single_object=True,
    )
    return True
