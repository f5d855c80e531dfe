"""Datasets: created and sent to a worker, claimed and finished or failed by the check, and failed by the
sweep when no worker is on them any more."""

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..datasets import INGEST_TIME_LIMIT_SECONDS, Collection, DatasetRefused
from ..datasets.collection import content_hash, imbalance_warning
from ..files import delete_files
from ..ml import DEFAULT_SEED, DEFAULT_TEST_SPLIT
from ..ml.data import stratified_split
from ..models import Dataset, DatasetImage
from .enqueue import enqueue

# What a dataset version is, for a change refused on one.
FROZEN_VERSION = (
    "The dataset {dataset} is a frozen version: its images never change, so that every model trained on it stays "
    "comparable. To add photos, make a new version of it from the review queue."
)
_NAMES_PER_QUERY = 500  # storage names in one IN (...) query, well under SQLite's limit on parameters


def _enqueue_ingestion(dataset_id: int) -> None:
    enqueue("ingest_dataset", dataset_id)


def do_create_dataset(dataset: Dataset, *, archive: UploadedFile | None = None) -> Dataset:
    """Save a new dataset, its archive (for a zip) in storage, and ask a worker to check it once the row
    is committed. `dataset` names its source: `archive` for a zip, `path` for a folder, `urls` for URLs."""
    given = {
        Dataset.Source.ZIP: archive is not None,
        Dataset.Source.FOLDER: bool(dataset.path),
        Dataset.Source.URLS: bool(dataset.urls),
    }
    if [source for source, present in given.items() if present] != [dataset.source]:
        raise ValueError(f"A {dataset.get_source_display().lower()} dataset needs that source, and no other.")
    try:
        with transaction.atomic():
            dataset.save()
            if archive is not None:
                dataset.archive.save("archive.zip", archive)
            transaction.on_commit(lambda: _enqueue_ingestion(dataset.pk))
    except BaseException:
        delete_files([dataset.archive.name])  # the row was rolled back: no orphan
        raise
    return dataset


def do_recheck_dataset(dataset: Dataset) -> bool:
    """Send a dataset back to a worker (its source may have changed, or the last check failed); False if a
    worker is checking it right now. Its images stay until the new check replaces them.

    Raises DatasetRefused for a dataset version: it has no source to read again, and it never changes.
    """
    if dataset.source == Dataset.Source.VERSION:
        raise DatasetRefused(FROZEN_VERSION.format(dataset=dataset))
    stuck = timezone.now() - timedelta(seconds=INGEST_TIME_LIMIT_SECONDS)
    recheckable = ~Q(status=Dataset.Status.PROCESSING) | Q(started_at__lt=stuck)
    with transaction.atomic():
        updated = Dataset.objects.filter(recheckable, pk=dataset.pk).update(
            status=Dataset.Status.PENDING, error="", attempts=0, started_at=None, finished_at=None
        )
        if updated:
            transaction.on_commit(lambda: _enqueue_ingestion(dataset.pk))
    return bool(updated)


def do_set_auto_promote(dataset: Dataset, enabled: bool) -> None:
    """Turn automatic promotion on or off for the lineage `dataset` is the root of (it is read on the root).

    Raises DatasetRefused for a dataset version, whose lineage's setting lives on its root."""
    if dataset.parent_id is not None:
        raise DatasetRefused(
            f"The dataset {dataset} is a version of {dataset.root}: automatic promotion is set for the whole "
            f"lineage, on {dataset.root}'s page."
        )
    Dataset.objects.filter(pk=dataset.pk).update(auto_promote=enabled)
    dataset.auto_promote = enabled


def _stuck_check_seconds() -> int:
    """A dataset still being checked after this long has no worker on it and none coming: its run hit the
    hard time limit, and the broker would have handed its message out again by now (a redelivery takes
    the check over, see trainer/tasks.py). Only a lost message or a hard kill leaves it so."""
    redelivered_after = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 0)
    return max(INGEST_TIME_LIMIT_SECONDS, redelivered_after) + 60


def do_fail_stuck_datasets() -> int:
    """Fail every dataset left being checked with no worker on it, saying why and what to do; returns how
    many. Failed rather than sent again: a check that ran into its hard time limit would run into it again."""
    seconds = _stuck_check_seconds()
    error = (
        f"The check stopped without a result: no worker has been on it for over {seconds // 60} minutes (its "
        "worker was stopped at the time limit, or the task was lost). Use “Check again” to send it once more."
    )
    stuck = Dataset.objects.filter(
        status=Dataset.Status.PROCESSING, started_at__lt=timezone.now() - timedelta(seconds=seconds)
    )
    # One at a time, each on its run's claim: a redelivery that took the check over meanwhile is left alone.
    return sum(do_fail_ingestion(dataset.pk, dataset.started_at, error, Collection(dataset)) for dataset in stuck)


def do_claim_ingestion(dataset_id: int) -> tuple[Dataset, datetime] | None:
    """Take a pending dataset, or one a lost run left being checked, for this run: the dataset and the
    time of the claim, which the run's final write is conditional on. None if there is nothing to check
    (deleted, or finished by an earlier delivery). Counts the attempt, so that a check that keeps killing
    its worker can be failed (trainer/tasks.py)."""
    claimed_at = timezone.now()
    claimed = Dataset.objects.filter(
        pk=dataset_id, status__in=[Dataset.Status.PENDING, Dataset.Status.PROCESSING]
    ).update(status=Dataset.Status.PROCESSING, started_at=claimed_at, attempts=F("attempts") + 1)
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if not claimed or dataset is None:
        return None
    return dataset, claimed_at


def do_finish_ingestion(dataset_id: int, claimed_at, collection: Collection) -> bool:
    """Make what `collection` gathered the dataset's content, if this run still holds the dataset
    (claimed at `claimed_at`); files of the previous content that are no longer used go after commit
    (trainer/models/datasets.py)."""
    with transaction.atomic():
        finished = Dataset.objects.filter(
            pk=dataset_id, status=Dataset.Status.PROCESSING, started_at=claimed_at
        ).update(
            status=Dataset.Status.READY,
            error="",
            class_names=collection.class_names,
            content_sha256=collection.content_sha256,
            report=collection.report(),
            finished_at=timezone.now(),
        )
        if not finished:
            return False
        _replace_images(dataset_id, list(collection.images.values()))
    return True


def do_fail_ingestion(dataset_id: int, claimed_at, error: str, collection: Collection) -> bool:
    """Record why the dataset cannot be used, if this run still holds it; a failed dataset holds no images."""
    with transaction.atomic():
        failed = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PROCESSING, started_at=claimed_at).update(
            status=Dataset.Status.FAILED,
            error=error,
            class_names=[],
            content_sha256="",
            report=collection.report(),
            finished_at=timezone.now(),
        )
        if not failed:
            return False
        _replace_images(dataset_id, [])
        # The old rows' files go with them; what this run stored was never given a row, but may be a file of
        # the old content, which the rows of the dataset's versions still name.
        transaction.on_commit(lambda: _delete_unnamed_files(collection.stored))
    return True


def do_drop_ingestion(dataset_id: int, collection: Collection) -> None:
    """A check whose result no row took (see do_finish_ingestion): if its dataset was deleted meanwhile,
    the files it stored go too, since nobody else can be using them; a run that took the dataset over
    may be using them, so they stay."""
    if not Dataset.objects.filter(pk=dataset_id).exists():
        _delete_unnamed_files(collection.stored)


def _delete_unnamed_files(names: set[str]) -> None:
    """Delete the files among `names` that no dataset image names (a version's images name its parent's files)."""
    names = sorted(set(names) - {""})
    named: set[str] = set()
    for start in range(0, len(names), _NAMES_PER_QUERY):
        chunk = names[start : start + _NAMES_PER_QUERY]
        rows = DatasetImage.objects.filter(Q(file__in=chunk) | Q(thumbnail__in=chunk)).values_list("file", "thumbnail")
        named.update(name for row in rows for name in row)
    delete_files(name for name in names if name not in named)


def _replace_images(dataset_id: int, images: list[DatasetImage]) -> None:
    """Swap the dataset's image rows for `images`. The new rows take over the files of the old rows of
    the same content; the other old files go after commit (trainer/models/datasets.py)."""
    DatasetImage.objects.filter(dataset_id=dataset_id).delete()
    DatasetImage.objects.bulk_create(images, batch_size=500)


@dataclass(frozen=True)
class NewImage:
    """A photo to add to a new dataset version: its class, the storage name of its file (it is copied, so the
    version keeps it whatever becomes of the original) and where it came from, in words."""

    label: str
    file_name: str
    origin: str


def lineage_test_split(images: list[DatasetImage], class_names: list[str]) -> set[str]:
    """The SHA-256s of the photos a dataset that is no version holds out for testing when it is first versioned.

    The same seeded draw training makes over the dataset with the default settings (trainer/ml/data.py
    `stratified_split` over the <label>/<file> tree `materialize` writes), so a version trained on the root with
    those settings was measured on exactly this split, and can be compared with the versions that follow.
    """
    ordered = sorted(images, key=lambda image: (image.label, PurePosixPath(image.file.name).name))
    labels = np.array([class_names.index(image.label) for image in ordered], dtype=np.int64)
    _, test = stratified_split(labels, DEFAULT_TEST_SPLIT, DEFAULT_SEED)
    return {ordered[i].sha256 for i in test}


def do_derive_dataset_version(parent: Dataset, additions: list[NewImage], *, by, name: str = "") -> Dataset:
    """A new frozen dataset version: `parent`'s images, with the lineage's test split (frozen now if `parent` is
    the lineage's first dataset, inherited unchanged otherwise), plus `additions`, which go to training, never to
    the test split. Each addition is checked and stored as a dataset's image is (trainer/datasets/collection.py);
    one already in `parent`, of another class, or unreadable is left out, and `added` says so.

    Raises DatasetRefused when `parent` is not ready or when nothing would be added.
    """
    if parent.status != Dataset.Status.READY:
        raise DatasetRefused(f"The dataset {parent} is {parent.get_status_display().lower()}, not ready.")
    parent_images = list(parent.images.all())
    known = {image.sha256 for image in parent_images}
    test = (
        {image.sha256 for image in parent_images if image.split == "test"}
        if any(image.split for image in parent_images)
        else lineage_test_split(parent_images, list(parent.class_names))
    )
    name = name or _next_version_name(parent)
    stored: set[str] = set()
    try:
        with transaction.atomic():
            dataset = _create_version(parent, name, by)
            collection = Collection(dataset)
            stored = collection.stored  # filled as it stores: what a failure leaves behind goes
            left_out = _add_photos(collection, additions, parent, known)
            if not collection.images:
                reasons = "; ".join(f"{item['origin']}: {item['reason']}" for item in left_out[:5])
                raise DatasetRefused(f"Nothing would be added to {parent}: {reasons or 'no photo was given'}.")
            _freeze(dataset, parent_images, test, collection, left_out)
    except BaseException:
        delete_files(stored)
        raise
    return dataset


def _create_version(parent: Dataset, name: str, by) -> Dataset:
    """The version's row, being made. The form checked its name, but a second click or another admin may have
    taken it since: that is refused in words, not left to fail on the unique name."""
    try:
        with transaction.atomic():
            return Dataset.objects.create(
                name=name,
                source=Dataset.Source.VERSION,
                parent=parent,
                status=Dataset.Status.PROCESSING,
                created_by=by,
                started_at=timezone.now(),
            )
    except IntegrityError:
        if not Dataset.objects.filter(name=name).exists():
            raise
        raise DatasetRefused(
            f"A dataset is already named “{name}” (made meanwhile): choose another name, or leave it empty."
        ) from None


def _add_photos(collection: Collection, additions: list[NewImage], parent: Dataset, known: set[str]) -> list[dict]:
    """Check and store each addition as a dataset's image; what was left out, and why."""
    left_out = []
    for addition in additions:
        if addition.label not in parent.class_names:
            left_out.append({"origin": addition.origin, "reason": f"{addition.label} is not a class of {parent}"})
            continue
        try:
            with default_storage.open(addition.file_name, "rb") as f:
                data = f.read()
        except FileNotFoundError:  # its prediction was deleted meanwhile
            left_out.append({"origin": addition.origin, "reason": "its photo is no longer in storage"})
            continue
        if hashlib.sha256(data).hexdigest() in known:
            left_out.append({"origin": addition.origin, "reason": f"already in {parent}"})
            continue
        outcome, words = collection.add(addition.origin, addition.label, data)
        if outcome != "added":
            left_out.append({"origin": addition.origin, "reason": words})
    return left_out


def _freeze(
    dataset: Dataset, parent_images: list[DatasetImage], test: set[str], collection: Collection, left_out: list[dict]
) -> None:
    """Save the version's rows (the parent's, naming the parent's files, with the split; the new ones for
    training), its content hash, what it added and its report, and make it ready."""
    new = list(collection.images.values())
    for image in new:
        image.split = "train"
    inherited = [
        DatasetImage(
            dataset=dataset,
            label=image.label,
            file=image.file.name,
            thumbnail=image.thumbnail.name,
            sha256=image.sha256,
            width=image.width,
            height=image.height,
            origin=image.origin,
            split="test" if image.sha256 in test else "train",
            phash=image.phash,
            phash_mirror=image.phash_mirror,
            dhash=image.dhash,
            dhash_mirror=image.dhash_mirror,
        )
        for image in parent_images
    ]
    DatasetImage.objects.bulk_create(inherited + new, batch_size=500)
    class_names = list(dataset.parent.class_names)
    counts = Counter(image.label for image in inherited + new)
    per_class = {label: counts[label] for label in class_names}
    dataset.status = Dataset.Status.READY
    dataset.class_names = class_names
    dataset.content_sha256 = content_hash((image.label, image.sha256) for image in inherited + new)
    dataset.added = {
        "counts": dict(sorted(Counter(image.label for image in new).items())),
        "origins": [image.origin for image in new],
        "left_out": left_out,
    }
    dataset.report = {
        "counts": per_class,
        "total": sum(per_class.values()),
        "test_count": sum(image.split == "test" for image in inherited),
        "skipped": [],
        "skipped_count": 0,
        "duplicates": [],
        "duplicate_count": 0,
        "ignored": 0,
        "imbalance": imbalance_warning(per_class),
    }
    dataset.finished_at = timezone.now()
    dataset.save()


def _next_version_name(parent: Dataset) -> str:
    root = parent.root
    taken = set(Dataset.objects.filter(name__startswith=f"{root.name} v").values_list("name", flat=True))
    number = 2
    while f"{root.name} v{number}" in taken:
        number += 1
    return f"{root.name} v{number}"
