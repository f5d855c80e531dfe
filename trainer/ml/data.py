"""Labelled image folders into arrays: one sub-folder per class, class names in sorted order.

NumPy and Pillow only (through `images.load_for_model`, the same decoding serving uses). The whole
dataset is held in memory as uint8 at the model's input size: 2,000 photos at 224x224 take 300 MB,
which suits the folders this app trains on (thousands of photos, not millions).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .images import load_for_model

logger = logging.getLogger(__name__)


class DatasetError(ValueError):
    """The folder cannot be trained on; the message says why, in words a user can act on."""


@dataclass
class SkippedFile:
    path: Path
    reason: str


@dataclass
class Datasets:
    class_names: list[str]
    x_train: np.ndarray  # (n, height, width, 3) uint8
    y_train: np.ndarray  # (n,) int class indices
    x_test: np.ndarray
    y_test: np.ndarray
    skipped: list[SkippedFile] = field(default_factory=list)
    test_paths: list[Path] = field(default_factory=list)  # the files x_test came from, in its order


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


def load_images(paths: list[Path], image_size: int) -> tuple[np.ndarray, np.ndarray, list[SkippedFile]]:
    """Decode every readable file; returns the images, a mask of which paths they are, and the rest."""
    images = np.empty((len(paths), image_size, image_size, 3), dtype=np.uint8)
    readable = np.zeros(len(paths), dtype=bool)
    skipped = []
    for i, path in enumerate(paths):
        try:
            images[i] = load_for_model(path, (image_size, image_size))
        # What Pillow raises on files that are not images, truncated or corrupt (SyntaxError from
        # some format parsers), or absurdly large: one bad photo must not end a long training.
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            logger.warning("Skipping %s: %s", path, error)
            skipped.append(SkippedFile(path, str(error) or type(error).__name__))
        else:
            readable[i] = True
    return images[readable], readable, skipped


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


def _load_class_folder(folder: Path, image_size: int, class_names: list[str] | None = None):
    paths, labels, class_names = list_class_folder(folder, class_names)
    images, readable, skipped = load_images(paths, image_size)
    labels = labels[readable]
    paths = [path for path, ok in zip(paths, readable, strict=True) if ok]
    counts = np.bincount(labels, minlength=len(class_names))
    for name, count in zip(class_names, counts, strict=True):
        if count == 0:
            raise DatasetError(f"The class folder {Path(folder) / name} has no readable images.")
    return images, labels, class_names, skipped, paths


def make_datasets(
    train_dir: Path, test_dir: Path | None, image_size: int, test_split: float = 0.2, seed: int = 1337
) -> Datasets:
    """Train and test arrays: from two folders, or from one split by a seeded, stratified draw."""
    images, labels, class_names, skipped, paths = _load_class_folder(train_dir, image_size)
    if test_dir is not None:
        x_test, y_test, _, test_skipped, test_paths = _load_class_folder(test_dir, image_size, class_names)
        return Datasets(class_names, images, labels, x_test, y_test, skipped + test_skipped, test_paths)

    for name, count in zip(class_names, np.bincount(labels), strict=True):
        if count < 2:
            raise DatasetError(
                f"The class {name!r} has {count} readable image: at least 2 are needed to keep one for "
                "testing, or give a separate test folder."
            )
    train, test = stratified_split(labels, test_split, seed)
    test_paths = [paths[i] for i in test]
    return Datasets(class_names, images[train], labels[train], images[test], labels[test], skipped, test_paths)
