"""Reading a ready dataset back out of storage, as the folder tree training reads."""

from pathlib import Path, PurePosixPath

from ..files import ChecksumMismatch, copy_verified
from ..models import Dataset
from .collection import DatasetRefused


def materialize(dataset: Dataset, folder: Path) -> list[str]:
    """Copy a ready dataset's images from storage into `folder` as <label>/<sha256>.<ext>, the
    class-per-folder tree trainer/ml/data.py trains on; returns the class names in sorted order.

    Every file is checked against its recorded SHA-256 on the way, so damage in storage cannot reach training.
    """
    if dataset.status != Dataset.Status.READY:
        raise DatasetRefused(f"The dataset {dataset} is {dataset.get_status_display().lower()}, not ready.")
    folder = Path(folder)
    for image in dataset.images.order_by("label", "id").iterator():
        target = folder / image.label / PurePosixPath(image.file.name).name
        try:
            copy_verified(image.file.storage, image.file.name, target, image.sha256)
        except ChecksumMismatch:
            raise DatasetRefused(f"{image.file.name} no longer matches its SHA-256; check the dataset again.") from None
    return list(dataset.class_names)
