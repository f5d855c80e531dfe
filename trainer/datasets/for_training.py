"""Reading a ready dataset back out of storage, as the folder tree training reads."""

from pathlib import Path, PurePosixPath

from ..error_analysis import kept_photos, own_test_results
from ..files import ChecksumMismatch, copy_verified
from ..models import Dataset, ModelVersion
from .collection import DatasetRefused, content_hash


def materialize(dataset: Dataset, folder: Path, split: str | None = None) -> list[str]:
    """Copy a ready dataset's images from storage into `folder` as <label>/<sha256>.<ext>, the
    class-per-folder tree trainer/ml/data.py trains on; returns the class names in sorted order.

    `split` ("train" or "test") copies only that side of a dataset version's frozen split.
    Every file is checked against its recorded SHA-256 on the way, so damage in storage cannot reach training.
    """
    if dataset.status != Dataset.Status.READY:
        raise DatasetRefused(f"The dataset {dataset} is {dataset.get_status_display().lower()}, not ready.")
    folder = Path(folder)
    images = dataset.images.all() if split is None else dataset.images.filter(split=split)
    for image in images.order_by("label", "id").iterator():
        target = folder / image.label / PurePosixPath(image.file.name).name
        try:
            copy_verified(image.file.storage, image.file.name, target, image.sha256)
        except ChecksumMismatch:
            raise DatasetRefused(f"{image.file.name} no longer matches its SHA-256; check the dataset again.") from None
    return list(dataset.class_names)


def materialize_test_photos(version: ModelVersion, folder: Path) -> tuple[list[Path], int]:
    """Copy the version's own test photos that some dataset still keeps into `folder`, their hashes checked (to
    check an export on them); returns their paths and how many test photos the version's answers name."""
    sha256s = list(own_test_results(version).values_list("sha256", flat=True))
    photos = []
    for sha256, image in kept_photos(version, sha256s).items():
        target = folder / f"{sha256}{PurePosixPath(image.file.name).suffix}"
        try:
            photos.append(copy_verified(image.file.storage, image.file.name, target, sha256))
        except (OSError, ChecksumMismatch):
            continue  # a damaged or missing copy: the photo is not checked, and the count says so
    return sorted(photos), len(sha256s)


def frozen_test_sha256(dataset: Dataset) -> str:
    """The hash of a dataset version's frozen test split, by `content_hash` as a training's test_sha256 is made:
    every version trained in the lineage measured on those photos carries it. "" for a dataset without one."""
    pairs = list(dataset.images.filter(split="test").values_list("label", "sha256"))
    return content_hash(pairs) if pairs else ""
