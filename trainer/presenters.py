"""What the admin's pages say about a dataset and a model version, as plain values for the templates: no
HTML here, and no database writes (the pages and their polls only read)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from .charts import confusion_rows, line_chart
from .datasets import frozen_test_sha256
from .ml import FORMER_AUGMENTATIONS
from .models import Dataset, DatasetImage, ModelVersion

# The phases measured in batches of photos (done of total), not in epochs.
BATCH_PHASES = ("features", "calibrating")
PHASES = {
    "starting": "Starting",
    "copying": "Copying the dataset from storage",
    "loading": "Reading and resizing the photos",
    "features": "Computing the frozen network's features",
    "training": "Training",
    "calibrating": "Fitting \u201cnone of these\u201d and measuring every test photo",
    "exporting": "Exporting the serving files and checking them against Keras on every test photo",
    "saving": "Measuring and saving the model",
}


def training_progress(version: ModelVersion, now: datetime | None = None) -> dict:
    """What the version page says about a training: phase, epoch i of N, scores, elapsed, time left.

    `now` is the clock the estimates are measured against (the request's time by default)."""
    progress = version.progress or {}
    now = now or timezone.now()
    end = now if version.in_progress else (version.heartbeat_at or version.trained_at or now)
    elapsed = (end - version.started_at).total_seconds() if version.started_at else None
    phase = progress.get("phase") or ("starting" if version.status == ModelVersion.Status.RUNNING else None)
    epoch, epochs = progress.get("epoch") or 0, progress.get("epochs") or version.params.get("epochs")
    done, total = progress.get("done") or 0, progress.get("total") or 0
    return {
        "phase": PHASES.get(phase, phase or ""),
        "in_batches": phase in BATCH_PHASES,  # counted in batches of photos, not epochs
        "epoch": epoch,
        "epochs": epochs,
        "done": done,
        "total": total,
        "percent": _percent(phase, epoch, epochs, done, total),
        "loss": progress.get("loss"),
        "accuracy": progress.get("accuracy"),
        "test_loss": progress.get("test_loss"),
        "test_accuracy": progress.get("test_accuracy"),
        "elapsed": duration(elapsed),
        "remaining": duration(_remaining(version, now, phase, epoch, epochs, done, total)),
    }


def _remaining(version, now, phase, epoch, epochs, done, total) -> float | None:
    phase_started = (version.progress or {}).get("phase_started")
    if version.status != ModelVersion.Status.RUNNING or not phase_started:
        return None
    in_phase = (now - datetime.fromisoformat(phase_started)).total_seconds()
    if phase == "training" and epoch and epochs:
        return in_phase / epoch * (epochs - epoch)
    if phase in BATCH_PHASES and done and total:
        return in_phase / done * (total - done)
    return None


def _percent(phase, epoch, epochs, done, total) -> float | None:
    if phase in BATCH_PHASES and total:
        return 100 * done / total
    if phase == "training" and epochs:
        return 100 * epoch / epochs
    return None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def progress_summary(version: ModelVersion, now: datetime | None = None) -> str:
    """The version list's one line about a version: its status, and how far its training is or why it
    ended."""
    status = version.get_status_display()
    if version.status == ModelVersion.Status.RUNNING:
        progress = training_progress(version, now)
        step = f"epoch {progress['epoch']} of {progress['epochs']}" if progress["epoch"] else progress["phase"]
        return f"{status}: {step}, {progress['remaining']} left" if progress["remaining"] else f"{status}: {step}"
    if version.status in (ModelVersion.Status.FAILED, ModelVersion.Status.CANCELLED) and version.error:
        return f"{status}: {version.error}"
    return f"{status}, active" if version.is_active else status


@dataclass
class Setting:
    name: str
    value: object


def settings_rows(params: dict) -> list[Setting]:
    """A version's training settings, sorted by name, each value as a person reads it (augmentation by its
    name in the training form, also for versions stored under the older words)."""
    rows = []
    for name, value in sorted(params.items()):
        if name == "augmentation":
            value = FORMER_AUGMENTATIONS.get(value, value)
        rows.append(Setting(name, value))
    return rows


def version_report(version: ModelVersion) -> dict:
    """The finished parts of a version's page: curves, per-class scores and the confusion matrix."""
    metrics = version.metrics or {}
    history = metrics.get("history") or (version.progress or {}).get("history") or {}
    matrix = metrics.get("confusion_matrix")
    return {
        "loss_chart": line_chart({key: history.get(key, []) for key in ("loss", "test_loss")}, y_min=0),
        "accuracy_chart": line_chart({key: history.get(key, []) for key in ("accuracy", "test_accuracy")}, y_max=1),
        "per_class": metrics.get("per_class") or {},
        "confusion": confusion_rows(matrix, version.class_names) if matrix else None,
    }


def dataset_report(dataset: Dataset) -> dict:
    """A checked dataset's report: images per class with samples, and whether a worker is still on it."""
    report = dataset.report or {}
    total = report.get("total") or 0
    samples: dict[str, list[DatasetImage]] = {}
    for image in dataset.images.exclude(thumbnail=""):
        samples.setdefault(image.label, []).append(image)
    rows = [
        {"label": label, "count": count, "percent": 100 * count / total, "samples": samples.get(label, [])}
        for label, count in report.get("counts", {}).items()
    ]
    return {"report": report, "class_rows": rows, "checking": is_being_checked(dataset)}


def is_being_checked(dataset: Dataset) -> bool:
    return dataset.status in (Dataset.Status.PENDING, Dataset.Status.PROCESSING)


def lineage_report(dataset: Dataset) -> dict:
    """Where a dataset stands in its lineage: the chain from the root to it, the versions made from it (all of
    the lineage's, on a root), what a version added and left out, and its frozen test split per class."""
    chain = dataset.lineage
    is_version = dataset.source == Dataset.Source.VERSION
    test_counts = dict(
        dataset.images.filter(split="test").values_list("label").annotate(n=Count("id")).order_by("label")
    )
    added = dataset.added or {}
    return {
        "is_version": is_version,
        "lineage": chain,
        "lineage_root": chain[0],
        "children": list(dataset.children.select_related("created_by").order_by("created_at", "id")),
        "lineage_versions": _versions_of(dataset) if not is_version else [],
        "added_rows": [
            {"label": label, "count": count, "of": (dataset.report or {}).get("counts", {}).get(label)}
            for label, count in sorted((added.get("counts") or {}).items())
        ],
        "added_total": sum((added.get("counts") or {}).values()),
        "added_origins": added.get("origins") or [],
        "left_out": added.get("left_out") or [],
        "test_rows": [{"label": label, "count": test_counts.get(label, 0)} for label in dataset.class_names],
        "test_total": sum(test_counts.values()),
        "test_sha256": frozen_test_sha256(dataset) if test_counts else "",
    }


def _versions_of(root: Dataset) -> list[Dataset]:
    """Every version made in the lineage that starts at `root`, oldest first (each knows its parent)."""
    versions = list(Dataset.objects.filter(source=Dataset.Source.VERSION).select_related("parent", "created_by"))
    parent_of = {version.pk: version.parent_id for version in versions}

    def root_of(pk: int) -> int:
        while pk in parent_of:
            pk = parent_of[pk]
        return pk

    return sorted((v for v in versions if root_of(v.pk) == root.pk), key=lambda v: (v.created_at, v.pk))
