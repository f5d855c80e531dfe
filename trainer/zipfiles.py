"""Zip archives people upload, read safely: refused whole when they would unpack beyond the limits or hold a zip
bomb; entries that lead out of the archive (zip-slip), links and encrypted entries set aside, each with its reason;
system clutter (__MACOSX, dotfiles) ignored. Dataset archives (trainer/datasets/zips.py) and the API's batches of
photos (classifier/validation.py, check_zip_upload) are both read through it, each with its own limits."""

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field

from django.template.defaultfilters import filesizeformat

# What reading a damaged entry raises (a bad CRC, a truncated stream, a method zipfile lacks...).
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)
# Below this size an entry cannot be a zip bomb however well it compresses (a flat-colour BMP does).
_BOMB_MIN_BYTES = 1024 * 1024
_OUT_OF_THE_ARCHIVE = "refused: an absolute path or one leading out of the archive (..)"


class ArchiveRefused(ValueError):
    """The whole archive is refused; the message says why, for the person who sent it."""


@dataclass
class ZipContents:
    """An archive's entries: those that may be read (with their path's parts), those set aside (name, reason), and
    how many were ignored as clutter."""

    entries: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = field(default_factory=list)
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0


def open_zip(file) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ArchiveRefused("The uploaded file is not a zip archive, or it is damaged.") from None


def check_totals(count: int, size: int, what: str, *, max_files: int, max_bytes: int) -> None:
    """Refuse `what` (an archive or a folder) if it holds more files or bytes than the limits allow."""
    if count > max_files:
        raise ArchiveRefused(f"{what} holds more than {max_files} files.")
    if size > max_bytes:
        raise ArchiveRefused(f"{what} holds {filesizeformat(size)} of files; the limit is {filesizeformat(max_bytes)}.")


def zip_contents(archive: zipfile.ZipFile, *, max_files: int, max_bytes: int, max_ratio: int) -> ZipContents:
    """The archive's entries sorted out; ArchiveRefused if one is a zip bomb, or if those to read are more files or
    unpack to more bytes than the limits."""
    contents = ZipContents()
    for info in archive.infolist():
        if info.is_dir():
            continue
        # The sizes in the directory are what zipfile enforces while reading (it stops at file_size and
        # checks the CRC), so checking them here bounds what reading can unpack.
        if info.file_size > _BOMB_MIN_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            raise ArchiveRefused(
                f"{info.filename} unpacks {info.file_size / max(info.compress_size, 1):.0f} times larger than "
                f"it is stored (the limit is {max_ratio}): that is a zip bomb, not photos. The archive is refused."
            )
        name = info.filename.replace("\\", "/")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts or not parts:
            contents.set_aside.append((info.filename, _OUT_OF_THE_ARCHIVE))
        elif stat.S_ISLNK(info.external_attr >> 16):
            contents.set_aside.append((info.filename, "refused: a symbolic link"))
        elif parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            contents.ignored += 1
        elif info.flag_bits & 0x1:
            contents.set_aside.append((info.filename, "skipped: the entry is encrypted"))
        else:
            contents.entries.append((tuple(parts), info))
    size = sum(info.file_size for _, info in contents.entries)
    check_totals(len(contents.entries), size, "The archive", max_files=max_files, max_bytes=max_bytes)
    return contents


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as f:
        return f.read(limit)
