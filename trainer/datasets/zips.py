"""A dataset from an uploaded zip archive: refused whole if it is too large or a zip bomb; entries
that lead out of the archive, links and encrypted entries are skipped, each with its reason (trainer/zipfiles.py)."""

import tempfile
import zipfile
from functools import partial

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from ..models import Dataset
from ..zipfiles import ArchiveRefused, open_zip, read_entry, zip_contents
from .collection import Collection, DatasetRefused
from .labelled_files import File, add_files


def collect_zip(dataset: Dataset, collection: Collection) -> None:
    if not dataset.archive:
        raise DatasetRefused("The dataset has no archive.")
    with tempfile.TemporaryFile() as local:
        # A local copy: zipfile needs to seek, and remote storage (S3) is read best in one stream.
        try:
            with dataset.archive.storage.open(dataset.archive.name, "rb") as stored:
                for chunk in iter(lambda: stored.read(1 << 20), b""):
                    local.write(chunk)
                    if local.tell() > settings.CATDOG_DATASET_MAX_ZIP_BYTES:
                        raise DatasetRefused(
                            f"The archive is larger than {filesizeformat(settings.CATDOG_DATASET_MAX_ZIP_BYTES)}."
                        )
        except FileNotFoundError:
            raise DatasetRefused("The archive is no longer in storage; upload it again.") from None
        try:
            archive = open_zip(local)
        except ArchiveRefused as refused:
            raise DatasetRefused(str(refused)) from None
        with archive:
            add_files(collection, _zip_files(archive, collection))


def _zip_files(archive: zipfile.ZipFile, collection: Collection) -> list[File]:
    """The archive's entries that may be read; refuses the archive if it would unpack beyond the limits."""
    try:
        contents = zip_contents(
            archive,
            max_files=settings.CATDOG_DATASET_MAX_FILES,
            max_bytes=settings.CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES,
            max_ratio=settings.CATDOG_DATASET_MAX_COMPRESSION_RATIO,
        )
    except ArchiveRefused as refused:
        raise DatasetRefused(str(refused)) from None
    for name, reason in contents.set_aside:
        collection.skip(name, reason)
    collection.ignored += contents.ignored
    return [File(parts, info.file_size, partial(read_entry, archive, info)) for parts, info in contents.entries]
