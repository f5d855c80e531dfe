"""Content hashes, copying a stored file to local disk with its hash checked, serving a stored file to
the person allowed to see it, and deleting stored files that no row names (no TensorFlow here)."""

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.utils.http import content_disposition_header

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


def serve_file(file: FieldFile, *, content_type: str, download_name: str, as_attachment: bool = False):
    """A stored file, for a request its caller has already allowed: from local storage as a private,
    cacheable response; from remote storage (S3) as a redirect to a short-lived signed URL whose answer
    carries the same headers (S3's response-content-* overrides). Http404 when there is none."""
    if not file.name:
        raise Http404("No such file.")
    storage = file.storage
    try:
        storage.path(file.name)
    except NotImplementedError:
        headers = {
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition_header(as_attachment, download_name),
        }
        return HttpResponseRedirect(storage.url(file.name, parameters=headers))
    try:
        f = storage.open(file.name, "rb")
    except FileNotFoundError:
        raise Http404("The file is no longer in storage.") from None
    response = FileResponse(f, as_attachment=as_attachment, filename=download_name, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def delete_files(names: Iterable[str]) -> None:
    """Delete files that were stored for rows that were never committed (a rolled-back upload, a dataset
    check whose result was dropped). A deleted row's files need no call: they go once the deletion
    commits (django-cleanup; dataset images in trainer/models/datasets.py)."""
    for name in names:
        if name:
            default_storage.delete(name)
