"""Test photos as a trained version records them (tests/test_error_analysis.py and the browser's admin tests):
its answer for each photo, and the photo kept by a dataset under its content hash."""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from trainer.models import DatasetImage
from trainer.models import TestPhotoResult as Answer  # renamed: pytest would try to collect a class named Test*

# A heatmap lit in its left column only: the model looked at the photo's left edge.
LEFT = [[255, 0, 0, 0, 0, 0, 0] for _ in range(7)]


def keep_photo(
    dataset, label: str, data: bytes, *, thumbnail: bytes | None = None, size=(64, 48), extension="png"
) -> DatasetImage:
    """A photo kept by `dataset`, its files in storage as ingestion names them."""
    sha256 = hashlib.sha256(data).hexdigest()
    stem = f"datasets/{dataset.pk}/{label}/{sha256}"
    image = DatasetImage(dataset=dataset, label=label, sha256=sha256, width=size[0], height=size[1])
    image.file.name = default_storage.save(f"{stem}.{extension}", ContentFile(data))
    if thumbnail is not None:
        image.thumbnail.name = default_storage.save(f"{stem}.thumb.jpg", ContentFile(thumbnail))
    image.save()
    return image


def answer_row(version, true_label, predicted_label, confidence, *, sha256=None, name=None, **fields) -> Answer:
    other = next(label for label in version.class_names if label != predicted_label)
    defaults = {
        "sha256": sha256 or hashlib.sha256(f"{true_label}{predicted_label}{confidence}".encode()).hexdigest(),
        "name": name or f"{true_label}.{confidence}.jpg",
        "verdict": predicted_label,
        "probabilities": {predicted_label: confidence, other: round(1 - confidence, 6)},
        "heatmap": LEFT,
    }
    return Answer.objects.create(
        version=version, true_label=true_label, predicted_label=predicted_label, confidence=confidence,
        **{**defaults, **fields},
    )  # fmt: skip
