"""Content hashes, copying a stored file to local disk with its hash checked, and deleting stored files
that no row names (no TensorFlow here)."""

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import Storage, default_storage

_CHUNK = 1 << 20


def _sha256_of(stream: BinaryIO, copy_to: BinaryIO | None = None) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return _sha256_of(f)


class ChecksumMismatch(ValueError):
    """A stored file is not the file that was recorded."""


def copy_verified(storage: Storage, name: str, target: Path, sha256: str) -> Path:
    """Copy `name` from `storage` to `target`, hashing on the way; raise ChecksumMismatch on damage.

    Written beside the target and renamed, so that another process never sees half a file and a
    damaged copy never stays behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with storage.open(name, "rb") as source, tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as part:
        actual = _sha256_of(source, copy_to=part)
    if sha256 and actual != sha256:
        os.unlink(part.name)
        raise ChecksumMismatch(f"{name} does not match its recorded SHA-256.")
    os.replace(part.name, target)
    return target


def delete_files(names: Iterable[str]) -> None:
    """Delete files that were stored for rows that were never committed (a rolled-back upload, a dataset
    check whose result was dropped). A deleted row's files need no call: they go once the deletion
    commits (django-cleanup; dataset images in trainer/models.py)."""
    for name in names:
        if name:
            default_storage.delete(name)
