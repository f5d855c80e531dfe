"""Building tiny datasets for the tests/test_datasets_*.py files: photos, zips, folders."""

import io
import random
import stat
import zipfile
from pathlib import Path

from PIL import Image

from trainer.models import Dataset

from .conftest import image_bytes


def photo(n: int, fmt: str = "PNG", size=(32, 24)) -> bytes:
    """A small image whose content differs for every n (so that only deliberate copies are duplicates)."""
    return image_bytes(fmt, size=size, color=(n * 53 % 256, n * 101 % 256, (n * 29 + 77) % 256))


def noise_photo(seed: int | str, side: int = 512) -> bytes:
    """A PNG of random pixels: about 0.8 MB at 512 px that no zip can compress."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG")
    return out.getvalue()


# Far apart, so that a tiny model tells the classes of coloured_photo apart after an epoch or two.
CLASS_COLOURS = {"cat": (230, 120, 30), "dog": (30, 90, 220)}


def coloured_photo(label: str, seed: int | str) -> bytes:
    """A photo of its class's colour under random noise, each seed a different one: the classes a
    tiny training learns for certain, so that what its model answers is known."""
    noise = Image.frombytes("RGB", (64, 48), random.Random(seed).randbytes(64 * 48 * 3))
    out = io.BytesIO()
    Image.blend(Image.new("RGB", (64, 48), CLASS_COLOURS[label]), noise, 0.3).save(out, format="PNG")
    return out.getvalue()


def zip_bytes(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix, where the mode bits say "symbolic link"
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return out.getvalue()


def class_folders(counts: dict[str, int], start: int = 0) -> dict[str, bytes]:
    """{"cat/0.png": ..., "dog/3.png": ...}: counts[label] distinct photos per class."""
    entries, n = {}, start
    for label, count in counts.items():
        for _ in range(count):
            entries[f"{label}/{n}.png"] = photo(n)
            n += 1
    return entries


def write_tree(root: Path, entries: dict[str, bytes]) -> Path:
    for name, data in entries.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def media_files(settings) -> set[str]:
    """Every file in storage, relative to MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def skipped(dataset: Dataset) -> dict[str, str]:
    return {row["file"]: row["reason"] for row in dataset.report["skipped"]}
