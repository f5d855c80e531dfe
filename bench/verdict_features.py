"""The shipped model's outputs (probabilities and pooled features) for folders of photos, cached under var/.

Used by bench/bench_verdict.py; extracting the 3,600 photos of the cat/dog and outlier sets takes a few
minutes on two cores, rereading the cache a second.
"""

import hashlib
import os
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = BASE_DIR / "trainer" / "shipped" / "catdog.keras"
CACHE_DIR = BASE_DIR / "var" / "bench-verdict"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}
BATCH = 32


def photos_by_class(folder: Path, class_names: list[str]) -> tuple[list[Path], np.ndarray]:
    """The photos of a folder with one sub-folder per class, and each photo's class index."""
    paths, labels = [], []
    for index, name in enumerate(class_names):
        found = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += found
        labels += [index] * len(found)
    return paths, np.array(labels, dtype=np.int64)


def photos_in(folder: Path) -> list[Path]:
    """Every photo under `folder`, at any depth, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class Extractor:
    """The shipped model served as the prediction worker serves it, loaded on first use."""

    def __init__(self, model_path: Path = SHIPPED_MODEL, image_size: int = 224):
        self.model_path = model_path
        self.image_size = image_size
        self._served = None

    def _serving(self):
        if self._served is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import keras

            from trainer.ml.serving import serving_model

            self._served = serving_model(keras.saving.load_model(self.model_path, compile=False))
        return self._served

    def outputs(self, paths: list[Path], cache_name: str) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, features) of `paths`, from the cache when the same files were extracted before."""
        listing = "\n".join(f"{p} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in paths)
        key = hashlib.sha256(self.model_path.read_bytes() + listing.encode()).hexdigest()
        cache = CACHE_DIR / f"{cache_name}-{key[:16]}.npz"
        if cache.exists():
            with np.load(cache) as stored:
                return stored["probabilities"], stored["features"]
        from trainer.images import load_for_model

        size = (self.image_size, self.image_size)
        probabilities, features = [], []
        for start in range(0, len(paths), BATCH):
            pixels = np.stack([load_for_model(str(p), size) for p in paths[start : start + BATCH]])
            out = self._serving()(pixels.astype(np.float32), training=False)
            probabilities.append(np.asarray(out["probabilities"]))
            features.append(np.asarray(out["features"]))
        probabilities, features = np.concatenate(probabilities), np.concatenate(features)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.savez(cache, probabilities=probabilities, features=features)
        return probabilities, features
