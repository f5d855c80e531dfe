"""What one run of the ingestion task gathers (a Collection), the report the admin page shows of it,
and the content hash that tells two datasets of the same images apart from different ones."""

import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..files import file_sha256
from ..images import ImageRefused, check_image
from ..models import Dataset, DatasetImage
from ..near_duplicates import fingerprint_of_file

SAMPLES_PER_CLASS = 8  # images per class that get a thumbnail, for the admin page
IMBALANCE_RATIO = 1.5  # the largest class over the smallest one, from which the report warns
REPORT_LIST_LIMIT = 500  # skipped files and duplicates listed in the report; the counts stay exact

# Class names become folder names in storage and in training: word characters, spaces, ".", "+", "-",
# starting and ending with a word character (so never "..", a hidden folder or a path).
_LABEL = re.compile(r"\w(?:[\w .+-]{0,62}\w)?")


class DatasetRefused(Exception):
    """The dataset as a whole cannot be used; the message says why, in words an admin can act on."""


def label_problem(label: str) -> str:
    """Why `label` cannot name a class, or "" if it can."""
    if _LABEL.fullmatch(label):
        return ""
    return (
        f"the class name {label!r} is not usable: use up to 64 letters, digits, spaces, '_', '.', '+' or '-', "
        "starting and ending with a letter or digit"
    )


def content_hash(pairs: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the sorted (label, image SHA-256) pairs: the same images in the same classes give the
    same hash, whatever order or source they came in."""
    digest = hashlib.sha256()
    for label, sha256 in sorted(pairs):
        digest.update(f"{label}\t{sha256}\n".encode())
    return digest.hexdigest()


def folder_images_sha256(paths: Iterable[Path]) -> str:
    """`content_hash` of image files laid out as <class>/<file>: for the photos a model was measured on,
    so that two versions measured on the same photos can be compared (trainer/actions.py)."""
    return content_hash((Path(path).parent.name, file_sha256(Path(path))) for path in paths)


class Collection:
    """What one run of the ingestion task has gathered: accepted images (stored, rows not yet saved),
    what was skipped and why, duplicates, and every storage name it used (for the clean-up)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.images: dict[str, DatasetImage] = {}  # by content SHA-256
        self.per_class: Counter[str] = Counter()
        self.skipped: list[dict] = []
        self.duplicates: list[dict] = []
        self.ignored = 0  # __MACOSX folders and dotfiles: system clutter, not worth a line each
        self.url_results: list[dict] = []
        self.stored: set[str] = set()

    def skip(self, origin: str, reason: str) -> tuple[str, str]:
        self.skipped.append({"file": origin, "reason": reason})
        return "skipped", reason

    def add(self, origin: str, label: str, data: bytes) -> tuple[str, str]:
        """Check, deduplicate and store one image; returns the outcome ("added", "duplicate" or
        "skipped") and a line saying what became of it."""
        problem = label_problem(label)
        if problem:
            return self.skip(origin, problem)
        try:
            checked = check_image(io.BytesIO(data), PurePosixPath(origin).name or "the file", len(data))
        except ImageRefused as refused:
            return self.skip(origin, str(refused))
        sha256 = hashlib.sha256(data).hexdigest()
        first = self.images.get(sha256)
        if first is not None:
            self.duplicates.append(
                {"file": origin, "label": label, "same_as": first.origin, "same_as_label": first.label}
            )
            other_class = f" (filed under {first.label})" if first.label != label else ""
            return "duplicate", f"the same image as {first.origin}{other_class}; kept once"
        stem = f"datasets/{self.dataset.pk}/{label}/{sha256}"
        # Decoded once more, at 1/8 scale for most JPEGs: a few milliseconds, for the near-duplicate report.
        found = fingerprint_of_file(io.BytesIO(data))
        image = DatasetImage(
            dataset=self.dataset,
            label=label,
            sha256=sha256,
            width=checked.width,
            height=checked.height,
            origin=origin,
            phash=found.phash,
            phash_mirror=found.phash_mirror,
            dhash=found.dhash,
            dhash_mirror=found.dhash_mirror,
        )
        image.file.name = self._store(f"{stem}.{checked.extension}", data)
        if self.per_class[label] < SAMPLES_PER_CLASS:
            image.thumbnail.name = self._store(f"{stem}.thumb.jpg", checked.thumbnail)
        self.per_class[label] += 1
        self.images[sha256] = image
        return "added", f"added to {label} ({checked.width}×{checked.height})"

    def _store(self, name: str, data: bytes) -> str:
        # Names are content hashes: a file already there (left by an earlier delivery of the task) holds
        # these very bytes, and saving again would only make a second copy under a mangled name.
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(data))
        self.stored.add(name)
        return name

    @property
    def class_names(self) -> list[str]:
        return sorted(self.per_class)

    @property
    def content_sha256(self) -> str:
        return content_hash((image.label, sha256) for sha256, image in self.images.items())

    def report(self) -> dict:
        counts = {label: self.per_class[label] for label in self.class_names}
        report = {
            "counts": counts,
            "total": sum(counts.values()),
            "skipped": self.skipped[:REPORT_LIST_LIMIT],
            "skipped_count": len(self.skipped),
            "duplicates": self.duplicates[:REPORT_LIST_LIMIT],
            "duplicate_count": len(self.duplicates),
            "ignored": self.ignored,
            "imbalance": imbalance_warning(counts),
        }
        if self.dataset.source == Dataset.Source.URLS:
            report["urls"] = self.url_results
        return report


def imbalance_warning(counts: dict[str, int]) -> str:
    if len(counts) < 2:
        return ""
    largest = max(counts, key=counts.__getitem__)
    smallest = min(counts, key=counts.__getitem__)
    ratio = counts[largest] / counts[smallest]
    if ratio < IMBALANCE_RATIO:
        return ""
    return (
        f"The classes are unbalanced: {largest} has {counts[largest]} images and {smallest} only "
        f"{counts[smallest]} ({ratio:.1f}×). Training weighs the classes equally, but more {smallest} "
        "images would help the model most."
    )
