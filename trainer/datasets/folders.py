"""A dataset from a folder on the server: only under the roots CATDOG_DATASET_FOLDER_ROOTS names, and
never through a symbolic link."""

import os
from functools import partial
from pathlib import Path

from django.conf import settings

from ..models import Dataset
from .collection import Collection, DatasetRefused
from .labelled_files import File, add_files, check_totals


def check_server_folder(path: str) -> Path:
    """The real folder `path` names, if datasets may come from it; DatasetRefused otherwise."""
    folder = Path(path)
    if not folder.is_absolute():
        raise DatasetRefused(f"{path} is not an absolute path.")
    real = folder.resolve()  # links resolved first, so that a link cannot lead out of the allowed roots
    roots = [Path(root).resolve() for root in settings.CATDOG_DATASET_FOLDER_ROOTS]
    if not any(real.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots) or "none"
        raise DatasetRefused(
            f"{path} is outside the folders datasets may come from ({allowed}); "
            "the setting CATDOG_DATASET_FOLDER_ROOTS names them."
        )
    if not real.is_dir():
        raise DatasetRefused(f"{path} is not a folder on the server.")
    return real


def collect_folder(dataset: Dataset, collection: Collection) -> None:
    folder = check_server_folder(dataset.path)
    files, total_size = [], 0
    # followlinks=False: a link to a folder is listed, never entered, so nothing outside is read.
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise_unreadable):
        base = Path(dirpath)
        for name in sorted(dirnames):
            if name.startswith("."):
                collection.ignored += 1
                dirnames.remove(name)
            elif (base / name).is_symlink():
                collection.skip(str((base / name).relative_to(folder)), "refused: a symbolic link")
                dirnames.remove(name)
        for name in filenames:
            path = base / name
            relative = path.relative_to(folder)
            if name.startswith("."):
                collection.ignored += 1
            elif path.is_symlink():
                collection.skip(str(relative), "refused: a symbolic link")
            else:
                size = path.stat().st_size
                files.append(File(relative.parts, size, partial(_read_path, path)))
                total_size += size
        check_totals(len(files), total_size, "The folder")  # as it goes: a huge folder is refused early
    add_files(collection, files)


def _raise_unreadable(error: OSError) -> None:
    raise DatasetRefused(f"The folder cannot be read: {error.strerror} ({error.filename}).")


def _read_path(path: Path, limit: int) -> bytes:
    # O_NOFOLLOW: a file swapped for a link after the listing is still not followed.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)
