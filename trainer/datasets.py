"""Bringing labelled images into a Dataset: from a zip archive, a folder on the server or a list of URLs.

Every source ends in `Collection.add`: the image is checked by content exactly as a user's upload is
(classifier/validation.py), kept once per content hash, stored through Django's storage API under
datasets/<dataset id>/<label>/<sha256>.<ext>, and counted in the report the admin page shows. Training
reads a ready dataset back with `materialize()`.

No TensorFlow here: the web process imports this module for the admin form's checks.
"""

import csv
import hashlib
import ipaddress
import os
import re
import socket
import stat
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from requests.adapters import HTTPAdapter

from classifier.validation import check_image_upload

from .files import ChecksumMismatch, copy_verified, file_sha256
from .models import Dataset, DatasetImage

# A worker that takes longer is stopped; only then may another delivery of the task take the dataset over.
INGEST_TIME_LIMIT_SECONDS = 50 * 60  # under the Redis visibility timeout (CATDOG_VISIBILITY_TIMEOUT, 1 h)
SAMPLES_PER_CLASS = 8  # images per class that get a thumbnail, for the admin page
IMBALANCE_RATIO = 1.5  # the largest class over the smallest one, from which the report warns
REPORT_LIST_LIMIT = 500  # skipped files and duplicates listed in the report; the counts stay exact
# Below this size an entry cannot be a zip bomb however well it compresses (a flat-colour BMP does).
_BOMB_MIN_BYTES = 1024 * 1024
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)

# Class names become folder names in storage and in training: word characters, spaces, ".", "+", "-",
# starting and ending with a word character (so never "..", a hidden folder or a path).
_LABEL = re.compile(r"\w(?:[\w .+-]{0,62}\w)?")
# Kaggle's flat layout: cat.0.jpg, dog.12.png.
_KAGGLE_NAME = re.compile(r"(?P<label>[^.]+)\.\d+\.\w+")


class DatasetRefused(Exception):
    """The dataset as a whole cannot be used; the message says why, in words an admin can act on."""


@dataclass(frozen=True)
class _File:
    """A file of a zip or a folder, before it is read: where it is, how large it says it is, how to read it."""

    parts: tuple[str, ...]
    size: int
    read: Callable[[int], bytes]  # reads at most that many bytes

    @property
    def origin(self) -> str:
        return "/".join(self.parts)


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
            checked = check_image_upload(SimpleUploadedFile(PurePosixPath(origin).name or "the file", data))
        except ValidationError as error:
            return self.skip(origin, error.messages[0])
        sha256 = hashlib.sha256(data).hexdigest()
        first = self.images.get(sha256)
        if first is not None:
            self.duplicates.append(
                {"file": origin, "label": label, "same_as": first.origin, "same_as_label": first.label}
            )
            other_class = f" (filed under {first.label})" if first.label != label else ""
            return "duplicate", f"the same image as {first.origin}{other_class}; kept once"
        stem = f"datasets/{self.dataset.pk}/{label}/{sha256}"
        image = DatasetImage(
            dataset=self.dataset, label=label, sha256=sha256, width=checked.width, height=checked.height, origin=origin
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


def collect(dataset: Dataset, collection: Collection) -> None:
    """Read the dataset's source into `collection`; raise DatasetRefused if the dataset cannot be used.

    Bad files never stop the run: they are skipped and listed. What `collection` stored stays in storage
    either way; the caller decides, with the outcome, what to keep.
    """
    readers = {
        Dataset.Source.ZIP: _collect_zip,
        Dataset.Source.FOLDER: _collect_folder,
        Dataset.Source.URLS: _collect_urls,
    }
    readers[dataset.source](dataset, collection)
    if not collection.per_class:
        raise DatasetRefused("No usable image was found; the report lists what was skipped and why.")
    if len(collection.per_class) < 2:
        [(label, count)] = collection.per_class.items()
        raise DatasetRefused(
            f"Training needs at least two classes, and this dataset has one: {label} ({count} images). "
            "Put each class in its own folder, or name the files <class>.<n>.jpg."
        )


# --- Zip archives and server folders -------------------------------------------------------------------


def _collect_zip(dataset: Dataset, collection: Collection) -> None:
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
            _add_files(collection, _zip_files(archive, collection))


def _zip_files(archive: zipfile.ZipFile, collection: Collection) -> list[_File]:
    """The archive's entries that may be read; refuses the archive if it would unpack beyond the limits."""
    entries = [info for info in archive.infolist() if not info.is_dir()]
    _check_totals(len(entries), sum(info.file_size for info in entries), "The archive")
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
            files.append(_File(tuple(parts), info.file_size, partial(_read_zip_entry, archive, info)))
    return files


def _read_zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as f:
        return f.read(limit)


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


def _collect_folder(dataset: Dataset, collection: Collection) -> None:
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
                files.append(_File(relative.parts, size, partial(_read_path, path)))
                total_size += size
        _check_totals(len(files), total_size, "The folder")  # as it goes: a huge folder is refused early
    _add_files(collection, files)


def _raise_unreadable(error: OSError) -> None:
    raise DatasetRefused(f"The folder cannot be read: {error.strerror} ({error.filename}).")


def _read_path(path: Path, limit: int) -> bytes:
    # O_NOFOLLOW: a file swapped for a link after the listing is still not followed.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def _check_totals(count: int, size: int, what: str) -> None:
    if count > settings.CATDOG_DATASET_MAX_FILES:
        raise DatasetRefused(f"{what} holds more than {settings.CATDOG_DATASET_MAX_FILES} files.")
    if size > settings.CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES:
        raise DatasetRefused(
            f"{what} holds {filesizeformat(size)} of files; the limit is "
            f"{filesizeformat(settings.CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES)}."
        )


def _add_files(collection: Collection, files: list[_File]) -> None:
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
            except _READ_ERRORS as error:
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


# --- Image URLs -----------------------------------------------------------------------------------------


class FetchError(Exception):
    """One URL could not be downloaded; the message says why."""


def parse_url_list(text: str) -> list[tuple[str, str]]:
    """(url, label) pairs from pasted lines or a CSV file: "url,label" or "url label" a line, an optional
    "url,label" header, blank lines and # comments ignored. Raises ValueError naming the bad lines."""
    pairs, problems = [], []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row if cell.strip()]
        if len(cells) == 1:
            cells = cells[0].split()
        if not cells or cells[0].startswith("#") or [cell.lower() for cell in cells] == ["url", "label"]:
            continue
        if len(cells) != 2:
            problems.append(f"line {number}: expected a URL and a class, found {len(cells)} values")
            continue
        url, label = cells
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"line {number}: {url} is not an http or https URL")
        elif problem := label_problem(label):
            problems.append(f"line {number}: {problem}")
        else:
            pairs.append((url, label))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"Some lines cannot be used: {shown}.")
    if not pairs:
        raise ValueError("No URL was given.")
    return pairs


def _collect_urls(dataset: Dataset, collection: Collection) -> None:
    for url, label in dataset.urls:
        try:
            data = fetch(url)
        except FetchError as error:
            outcome, detail = collection.skip(url, str(error))
        else:
            outcome, detail = collection.add(url, label, data)
        collection.url_results.append({"url": url, "label": label, "outcome": outcome, "detail": detail})


# IPv6 addresses that carry traffic to an IPv4 address in their last 32 bits: NAT64's well-known prefix
# (RFC 6052) and the deprecated IPv4-compatible ::a.b.c.d (6to4 and IPv4-mapped have ipaddress properties).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Every public IPv6 host is in global unicast; this leaves out what Python 3.11 still calls global although
# no public host lives there (NAT64 local use 64:ff9b:1::/48, site-local fec0::/10, multicast ff00::/8),
# and the documentation range newer than Python 3.11's tables (RFC 9637).
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_DOCUMENTATION = ipaddress.IPv6Network("3fff::/20")


def _destination(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a connection to `ip` reaches: the IPv4 address an IPv6 one embeds, else `ip` itself."""
    if ip.version == 4:
        return ip
    if embedded := ip.ipv4_mapped or ip.sixtofour:
        return embedded
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_allowed_address(address: str) -> bool:
    """Whether a download may connect to `address`: globally routable ones only, unless the setting allows
    the rest (loopback, private networks, shared address space and link-local, where cloud metadata
    services answer, documentation and reserved ranges). An IPv6 address that embeds an IPv4 one (6to4,
    NAT64, IPv4-mapped or -compatible) is judged by the IPv4 address it reaches."""
    if settings.CATDOG_FETCH_ALLOW_PRIVATE:
        return True
    ip = _destination(ipaddress.ip_address(address))
    if ip.version == 6 and (ip not in _GLOBAL_UNICAST or ip in _DOCUMENTATION):
        return False
    return ip.is_global and not ip.is_multicast


def fetch(url: str) -> bytes:
    """Download one image within the configured time, size and redirect limits, from allowed addresses only.

    Redirects are followed here, not by requests, so that every hop's address is checked.
    """
    deadline = time.monotonic() + settings.CATDOG_FETCH_TIMEOUT
    for _ in range(settings.CATDOG_FETCH_MAX_REDIRECTS + 1):
        response, adapter = _get(url, deadline)
        try:
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} {response.reason}".strip())
            return _read_body(response, deadline)
        finally:
            response.close()
            adapter.close()
    raise FetchError(f"more than {settings.CATDOG_FETCH_MAX_REDIRECTS} redirects")


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address that was checked rather than to whatever a second DNS lookup would give
    (DNS rebinding); TLS still verifies the certificate against the URL's host name."""

    def __init__(self, address: str, hostname: str):
        self._address, self._hostname = address, hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self._address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._hostname
            pool_kwargs["assert_hostname"] = self._hostname
        return host_params, pool_kwargs


def _get(url: str, deadline: float) -> tuple[requests.Response, HTTPAdapter]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url} is not an http or https URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise FetchError(f"the host {parts.hostname} cannot be found") from None
    addresses = [info[4][0] for info in infos]
    # Every address must pass: a name with one public and one private address could connect to either.
    refused = [address for address in addresses if not is_allowed_address(address)]
    if refused:
        raise FetchError(
            f"refused: {parts.hostname} is a private, loopback or reserved address ({refused[0]}); "
            "CATDOG_FETCH_ALLOW_PRIVATE allows them"
        )
    adapter = _PinnedAdapter(addresses[0], parts.hostname)
    request = requests.Request(
        "GET",
        url,
        headers={
            "Host": parts.netloc.rpartition("@")[2],
            "Accept": "image/*",
            "User-Agent": "catdog-dataset-fetcher",
        },
    ).prepare()
    try:
        # No session: no cookies, no proxies from the environment (they would connect where we did not check).
        response = adapter.send(request, stream=True, timeout=_remaining(deadline), proxies={})
    except requests.Timeout:
        adapter.close()
        raise FetchError(f"no answer within {settings.CATDOG_FETCH_TIMEOUT:g} s") from None
    except requests.RequestException as error:
        adapter.close()
        raise FetchError(f"the connection failed ({type(error).__name__})") from None
    return response, adapter


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"no answer within {settings.CATDOG_FETCH_TIMEOUT:g} s")
    return remaining


def _read_body(response: requests.Response, deadline: float) -> bytes:
    limit = settings.CATDOG_FETCH_MAX_BYTES
    too_large = f"larger than the limit of {filesizeformat(limit)}"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(too_large)
    chunks, size = [], 0
    try:
        # read1 returns what one socket read gives, so a server that trickles bytes meets the deadline.
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise FetchError(too_large)
            _remaining(deadline)
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise FetchError(f"the download broke off ({type(error).__name__})") from None
    return b"".join(chunks)


# --- Reading a ready dataset ----------------------------------------------------------------------------


def materialize(dataset: Dataset, folder: Path) -> list[str]:
    """Copy a ready dataset's images from storage into `folder` as <label>/<sha256>.<ext>, the
    class-per-folder tree trainer/ml/data.py trains on; returns the class names in sorted order.

    Every file is checked against its recorded SHA-256 on the way, so damage in storage cannot reach training.
    """
    if dataset.status != Dataset.Status.READY:
        raise DatasetRefused(f"The dataset {dataset} is {dataset.get_status_display().lower()}, not ready.")
    folder = Path(folder)
    for image in dataset.images.order_by("label", "id").iterator():
        target = folder / image.label / PurePosixPath(image.file.name).name
        try:
            copy_verified(image.file.storage, image.file.name, target, image.sha256)
        except ChecksumMismatch:
            raise DatasetRefused(f"{image.file.name} no longer matches its SHA-256; check the dataset again.") from None
    return list(dataset.class_names)
