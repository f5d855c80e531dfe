"""A dataset from an uploaded zip archive: refused whole if it is too large or a zip bomb; entries
that lead out of the archive, links and encrypted entries are skipped, each with its reason."""

import re
import stat
import tempfile
import zipfile
from functools import partial

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from ..models import Dataset
from .collection import Collection, DatasetRefused
from .labelled_files import File, add_files, check_totals

# Below this size an entry cannot be a zip bomb however well it compresses (a flat-colour BMP does).
_BOMB_MIN_BYTES = 1024 * 1024


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
            archive = zipfile.ZipFile(local)
        except (zipfile.BadZipFile, OSError, EOFError):
            raise DatasetRefused("The uploaded file is not a zip archive, or it is damaged.") from None
        with archive:
            add_files(collection, _zip_files(archive, collection))


def _zip_files(archive: zipfile.ZipFile, collection: Collection) -> list[File]:
    """The archive's entries that may be read; refuses the archive if it would unpack beyond the limits."""
    entries = [info for info in archive.infolist() if not info.is_dir()]
    check_totals(len(entries), sum(info.file_size for info in entries), "The archive")
    ratio = settings.CATDOG_DATASET_MAX_COMPRESSION_RATIO
    files = []
    for info in entries:
        # The sizes in the directory are what zipfile enforces while reading (it stops at file_size and
        # checks the CRC), so checking them here bounds what reading can unpack.
        if info.file_size > _BOMB_MIN_BYTES and info.file_size > ratio * max(info.compress_size, 1):
            raise DatasetRefused(
                f"{info.filename} unpacks {info.file_size / max(info.compress_size, 1):.0f} times larger than "
                f"it is stored (the limit is {ratio}): that is a zip bomb, not photos. The archive is refused."
            )
        name = info.filename.replace("\\", "/")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts or not parts:
            collection.skip(info.filename, "refused: an absolute path or one leading out of the archive (..)")
        elif stat.S_ISLNK(info.external_attr >> 16):
            collection.skip(info.filename, "refused: a symbolic link")
        elif parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            collection.ignored += 1
        elif info.flag_bits & 0x1:
            collection.skip(info.filename, "skipped: the entry is encrypted")
        else:
            files.append(File(tuple(parts), info.file_size, partial(_read_zip_entry, archive, info)))
    return files


def _read_zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as f:
        return f.read(limit)
