"""Labelled image folders into lists of photos: one sub-folder per class, class names in sorted order.

NumPy and Pillow only (through trainer/images.py's `load_for_model`, the same decoding serving uses). Photos stay
on disk: every file is decoded once up front to find the unreadable ones, then again batch by batch
as training needs it (`image_batches`), so memory does not grow with the dataset (50,000 photos at
224x224 would take 7.5 GB as one array).
"""

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..images import load_for_model
from ..near_duplicates import Fingerprints, fingerprint_of_file, near_pairs
from . import VERDICT_WORDS

logger = logging.getLogger(__name__)


class DatasetError(ValueError):
    """The folder cannot be trained on; the message says why, in words a user can act on."""


def reserved_class_problem(class_names: list[str]) -> str:
    """Why these classes cannot be trained, if one of them is named "unsure" or "other" (in any case); or "".

    A calibrated version answers those words when it cannot tell which class a photo shows, or when it shows
    none of them (trainer/ml/verdicts.py): a class of the same name could not be told from those answers.
    """
    reserved = [name for name in class_names if name.strip().lower() in VERDICT_WORDS]
    if not reserved:
        return ""
    named = " and ".join(f"“{name}”" for name in reserved)
    return (
        f"A class cannot be named {named}: “{VERDICT_WORDS[0]}” and “{VERDICT_WORDS[1]}” are the answers a model "
        "gives when it cannot tell which of its classes a photo shows, or when the photo shows none of them."
    )


@dataclass
class SkippedFile:
    path: Path
    reason: str


@dataclass
class LeakedPhoto:
    """A training photo left out as a near-duplicate of a test photo (trainer/near_duplicates.py)."""

    path: Path
    test_path: Path
    distance: int  # bits apart, of the fingerprint's 192


@dataclass
class Datasets:
    class_names: list[str]
    train_paths: list[Path]  # readable photos only, near-duplicates of test photos left out
    y_train: np.ndarray  # (n,) int class indices, in train_paths' order
    test_paths: list[Path]
    y_test: np.ndarray
    skipped: list[SkippedFile] = field(default_factory=list)
    leaked: list[LeakedPhoto] = field(default_factory=list)


# Pillow decodes and resizes without holding the GIL, so threads use every core.
_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
# How many photos are checked between two progress reports.
_CHECK_CHUNK = 256
CheckProgress = Callable[[int, int], None]  # photos checked, photos in all


def list_class_folder(folder: Path, class_names: list[str] | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """The files under `folder`, their class indices and the class names (sorted sub-folder names).

    With `class_names` (a test folder), the sub-folders must be exactly those classes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder.")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_names is None:
        if len(found) < 2:
            raise DatasetError(f"{folder} needs one sub-folder per class and at least two classes; found {found}.")
        reserved = reserved_class_problem(found)
        if reserved:
            raise DatasetError(
                f"{reserved} Rename that sub-folder of {folder} after what its photos show, and train again."
            )
        class_names = found
    elif found != class_names:
        raise DatasetError(f"The classes of {folder} are {found}, but the training folder's are {class_names}.")

    paths, labels = [], []
    for index, name in enumerate(class_names):
        files = sorted(p for p in (folder / name).iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DatasetError(f"The class folder {folder / name} has no files.")
        paths += files
        labels += [index] * len(files)
    return paths, np.array(labels, dtype=np.int64), class_names


def _problem(path: Path, image_size: int) -> str | None:
    """Why `path` cannot be trained on, or None if it decodes."""
    try:
        load_for_model(path, (image_size, image_size))
    # What Pillow raises on files that are not images, truncated or corrupt (SyntaxError from
    # some format parsers), or absurdly large: one bad photo must not end a long training.
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        logger.warning("Skipping %s: %s", path, error)
        return str(error) or type(error).__name__
    return None


def check_images(
    paths: list[Path], image_size: int, progress: CheckProgress | None = None
) -> tuple[np.ndarray, list[SkippedFile]]:
    """Decode every file once, keeping nothing: a mask of the readable ones, and why the others are not."""
    readable = np.zeros(len(paths), dtype=bool)
    skipped = []
    with ThreadPoolExecutor(_THREADS) as pool:
        for start in range(0, len(paths), _CHECK_CHUNK):
            chunk = paths[start : start + _CHECK_CHUNK]
            for i, problem in enumerate(pool.map(_problem, chunk, [image_size] * len(chunk)), start):
                if problem is None:
                    readable[i] = True
                else:
                    skipped.append(SkippedFile(paths[i], problem))
            if progress is not None:
                progress(start + len(chunk), len(paths))
    return readable, skipped


def readable_images(folder: Path, image_size: int) -> list[Path]:
    """Every image under `folder`, whatever its sub-folders, that decodes; in a stable order."""
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    readable, _ = check_images(files, image_size)
    return [path for path, ok in zip(files, readable, strict=True) if ok]


def load_images(paths: list[Path], image_size: int) -> np.ndarray:
    """The photos as one (n, image_size, image_size, 3) uint8 array; for a batch, not a whole dataset."""
    with ThreadPoolExecutor(_THREADS) as pool:
        return np.stack(list(pool.map(load_for_model, paths, [(image_size, image_size)] * len(paths))))


def image_batches(paths: list[Path], image_size: int, batch_size: int) -> Iterator[np.ndarray]:
    """The photos decoded `batch_size` at a time, in order; the next batch decodes while the caller works."""
    size = (image_size, image_size)
    with ThreadPoolExecutor(_THREADS) as pool:

        def submit(start):
            return [pool.submit(load_for_model, path, size) for path in paths[start : start + batch_size]]

        pending = submit(0)
        for start in range(0, len(paths), batch_size):
            batch = np.stack([future.result() for future in pending])
            pending = submit(start + batch_size)
            yield batch


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/test split that keeps each class's share; the same seed, the same split.

    Every class keeps at least one photo on each side, so each class is both learned and measured.
    """
    if not 0 < test_fraction < 1:
        raise DatasetError(f"The test fraction must be between 0 and 1, not {test_fraction}.")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        n_test = min(max(round(len(members) * test_fraction), 1), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Weights that make every class count as much as the others in the loss, however many photos it has."""
    counts = np.bincount(labels, minlength=num_classes)
    return {i: float(len(labels) / (num_classes * count)) for i, count in enumerate(counts) if count}


def _read_class_folder(
    folder: Path, image_size: int, class_names: list[str] | None = None, progress: CheckProgress | None = None
):
    paths, labels, class_names = list_class_folder(folder, class_names)
    readable, skipped = check_images(paths, image_size, progress)
    labels = labels[readable]
    paths = [path for path, ok in zip(paths, readable, strict=True) if ok]
    counts = np.bincount(labels, minlength=len(class_names))
    for name, count in zip(class_names, counts, strict=True):
        if count == 0:
            raise DatasetError(f"The class folder {Path(folder) / name} has no readable images.")
    return paths, labels, class_names, skipped


def make_datasets(
    train_dir: Path,
    test_dir: Path | None,
    image_size: int,
    test_split: float = 0.2,
    seed: int = 1337,
    progress: CheckProgress | None = None,
) -> Datasets:
    """Train and test photos: from two folders, or from one split by a seeded, stratified draw; the training
    photos that are near-duplicates of test photos are left out, whichever way the test photos came.

    `progress` hears how many photos of each folder have been checked.
    """
    paths, labels, class_names, skipped = _read_class_folder(train_dir, image_size, progress=progress)
    if test_dir is not None:
        test_paths, y_test, _, test_skipped = _read_class_folder(test_dir, image_size, class_names, progress)
        return without_leakage(Datasets(class_names, paths, labels, test_paths, y_test, skipped + test_skipped))

    for name, count in zip(class_names, np.bincount(labels), strict=True):
        if count < 2:
            raise DatasetError(
                f"The class {name!r} has {count} readable image: at least 2 are needed to keep one for "
                "testing, or give a separate test folder."
            )
    train, test = stratified_split(labels, test_split, seed)
    return without_leakage(
        Datasets(class_names, [paths[i] for i in train], labels[train], [paths[i] for i in test], labels[test], skipped)
    )


def without_leakage(datasets: Datasets) -> Datasets:
    """`datasets` without the training photos that are near-duplicates of a test photo: a model that trained
    on a copy of a test photo would be measured on what it learnt by heart (train/test leakage).

    Refused when that would leave a class without a training photo.
    """
    train_paths, test_paths = datasets.train_paths, datasets.test_paths
    with ThreadPoolExecutor(_THREADS) as pool:
        found = list(pool.map(fingerprint_of_file, train_paths + test_paths))
    closest: dict[int, tuple[int, int]] = {}  # training photo: (distance, test photo)
    for i, j, distance in near_pairs(
        Fingerprints.of(found[: len(train_paths)]), Fingerprints.of(found[len(train_paths) :])
    ):
        closest[i] = min(closest.get(i, (distance, j)), (distance, j))
    if not closest:
        return datasets
    kept = np.ones(len(train_paths), dtype=bool)
    kept[list(closest)] = False
    for index, name in enumerate(datasets.class_names):
        if not np.any(datasets.y_train[kept] == index):
            raise DatasetError(
                f"Every training photo of the class {name!r} is a near-duplicate of a test photo (the same "
                "picture resized, re-encoded, mirrored or slightly cropped): nothing of it would be left to train "
                "on. Use a test set of other photos."
            )
    datasets.leaked = [
        LeakedPhoto(train_paths[i], test_paths[j], distance) for i, (distance, j) in sorted(closest.items())
    ]
    datasets.train_paths = [path for path, keep in zip(train_paths, kept, strict=True) if keep]
    datasets.y_train = datasets.y_train[kept]
    return datasets
