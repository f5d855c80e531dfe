"""The files of a zip archive or a server folder, labelled by where they are: a class folder
(cat/1.jpg) or Kaggle's flat names (cat.0.jpg), under any folders that only wrap the data."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from .. import zipfiles
from .collection import Collection, DatasetRefused

# Kaggle's flat layout: cat.0.jpg, dog.12.png.
_KAGGLE_NAME = re.compile(r"(?P<label>[^.]+)\.\d+\.\w+")


@dataclass(frozen=True)
class File:
    """A file of a zip or a folder, before it is read: where it is, how large it says it is, how to read it."""

    parts: tuple[str, ...]
    size: int
    read: Callable[[int], bytes]  # reads at most that many bytes

    @property
    def origin(self) -> str:
        return "/".join(self.parts)


def check_totals(count: int, size: int, what: str) -> None:
    """Refuse `what` (an archive or a folder) if it holds more files or bytes than the limits allow."""
    try:
        zipfiles.check_totals(
            count,
            size,
            what,
            max_files=settings.CATDOG_DATASET_MAX_FILES,
            max_bytes=settings.CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES,
        )
    except zipfiles.ArchiveRefused as refused:
        raise DatasetRefused(str(refused)) from None


def add_files(collection: Collection, files: list[File]) -> None:
    """Read each file and add it to `collection` under the class its place names; skip what has none."""
    files = sorted(files, key=lambda f: f.parts)  # the same archive gives the same first copy of a duplicate
    depth = _wrapping_depth([f.parts for f in files])
    limit = settings.CATDOG_MAX_UPLOAD_BYTES
    for f in files:
        label = _label_of(f.parts[depth:])
        if not label:
            collection.skip(f.origin, "skipped: not in a class folder, nor named <class>.<n>.<ext>")
        elif f.size > limit:
            collection.skip(f.origin, f"skipped: {filesizeformat(f.size)}; the limit is {filesizeformat(limit)}")
        else:
            try:
                data = f.read(limit + 1)
            except zipfiles.READ_ERRORS as error:
                collection.skip(f.origin, f"skipped: it cannot be unpacked ({error})")
            else:
                collection.add(f.origin, label, data)


def _wrapping_depth(paths: list[tuple[str, ...]]) -> int:
    """How many leading folders every path shares that only wrap the data: "pets/" in pets/cat/1.jpg,
    "train/" in Kaggle's train/cat.0.jpg. A lone class folder (cat/1.jpg) is not a wrapper."""
    depth = 0
    while paths:
        rest = [path[depth:] for path in paths]
        if len({path[0] for path in rest}) != 1 or any(len(path) < 2 for path in rest):
            return depth
        if not any(len(path) >= 3 or _KAGGLE_NAME.fullmatch(path[-1]) for path in rest):
            return depth
        depth += 1
    return depth


def _label_of(parts: tuple[str, ...]) -> str:
    if len(parts) >= 2:
        return parts[0]  # class folders; images in sub-folders of a class still belong to it
    match = _KAGGLE_NAME.fullmatch(parts[0])
    return match["label"] if match else ""
