"""Reading a ready dataset back out of storage, as the folder tree training reads."""

from pathlib import Path, PurePosixPath

from ..files import ChecksumMismatch, copy_verified
from ..models import Dataset
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


def frozen_test_sha256(dataset: Dataset) -> str:
    """The hash of a dataset version's frozen test split, by `content_hash` as a training's test_sha256 is made:
    every version trained in the lineage measured on those photos carries it. "" for a dataset without one."""
    pairs = list(dataset.images.filter(split="test").values_list("label", "sha256"))
    return content_hash(pairs) if pairs else ""
