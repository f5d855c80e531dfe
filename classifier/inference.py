"""Classifying photos with a trained model version, in the prediction worker, without TensorFlow.

A version is served from the files exported from its `.keras` when it was trained (trainer/ml/export.py,
one trainer.models.ModelExport row each, verified against Keras on its test photos): the served model, run
by the engine settings.CATDOG_ENGINE names (trainer/engines/), and its head's weights for the heatmaps. Each
worker process loads a version once, warms it up and then reuses it for every photo. The runtime is
imported by the first classification, never at import time: the web process imports this module too.
"""

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from django.conf import settings
from django.db import connection

from trainer.files import ChecksumMismatch, copy_verified
from trainer.images import decode_for_model
from trainer.ml import DEFAULT_OPERATING_POINT
from trainer.ml.heatmaps import DenseLayer, class_activation_maps, load_head

if TYPE_CHECKING:
    from trainer.engines import Engine
    from trainer.ml.verdicts import Calibration
    from trainer.models import ModelExport, ModelVersion

logger = logging.getLogger(__name__)

# A worker keeps the models of this many versions; activating a new one must not make the
# process grow with every version it has ever answered with.
MAX_LOADED_VERSIONS = 2
BATCH_SIZE = 32

# Keyed by version id, file hashes and engine: a test database can give a new version an old version's id.
_loaded: "OrderedDict[tuple[int, str, str, str], LoadedModel]" = OrderedDict()
_lock = threading.Lock()


@dataclass
class Outputs:
    """What one call of the served model gives for a batch of photos (trainer/ml/serving.py)."""

    probabilities: np.ndarray  # (n, classes)
    features: np.ndarray  # (n, k): the pooled features the head reads
    feature_maps: np.ndarray  # (n, h, w, k): the last convolutional maps, before pooling


@dataclass
class Classification:
    label: str  # the top class, whatever the verdict
    confidence: float
    probabilities: dict[str, float]
    inference_ms: float  # decoding, resizing, the model and the verdict, for this photo
    # A class name, "unsure" or "other" (trainer/ml/verdicts.py); the top class for an uncalibrated version.
    verdict: str
    heatmap: np.ndarray  # (h, w) in 0..1: where the model looked for the top class (trainer/ml/heatmaps.py)
    # The photo's (width, height) as shown, EXIF orientation applied: the heatmap is drawn to its proportions.
    upright_size: tuple[int, int] | None = None


class ModelUnavailable(Exception):
    """The version's model cannot be loaded: a fault of the service, never of a photo.

    `transient` when trying again later may help (storage unreachable, a disk error); otherwise an
    administrator must act (the file is missing, damaged or not the one that was registered).
    """

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ModelFileError(ModelUnavailable):
    """The version's model file is missing, is not the file that was registered, or does not fit its record."""


def load_model(version: "ModelVersion") -> "LoadedModel":
    """The model of `version`, loaded on the first call in this process; raises ModelUnavailable."""
    return _model_for(version)


def classify(version: "ModelVersion", source: str | Path | BinaryIO) -> Classification:
    """The class and verdict of one photo, a file object or a path, by `version` at its operating point.

    Raises ModelUnavailable when the model cannot be loaded, then PIL.UnidentifiedImageError or OSError
    when the photo cannot be decoded.
    """
    return _model_for(version).classify(source, version.operating_point)


class LoadedModel:
    """A version ready to answer: its served model loaded in an engine and warmed up, its head's weights for
    the heatmaps, and its calibration, if it has one."""

    def __init__(
        self,
        engine: "Engine",
        head: list[DenseLayer],
        class_names: list[str],
        image_size: int,
        calibration: "Calibration | None" = None,
    ):
        self.engine = engine
        self.head = head
        self.class_names = list(class_names)
        self.image_size = image_size
        self.calibration = calibration
        # The first call is slow (the engine plans its work); it also shows a file that does not fit its version.
        probabilities = self.run(np.zeros((1, image_size, image_size, 3), dtype=np.uint8)).probabilities
        if probabilities.shape != (1, len(class_names)) or head[-1].kernel.shape[1] != len(class_names):
            raise ModelFileError(
                f"{engine.path} gives {probabilities.shape[-1]} classes and its head "
                f"{head[-1].kernel.shape[1]}; the version expects {len(class_names)} classes."
            )

    def run(self, pixels: np.ndarray) -> Outputs:
        """The one engine call: probabilities, pooled features and feature maps of a batch of uint8 pixels."""
        outputs = self.engine.run(pixels)
        return Outputs(outputs["probabilities"], outputs["features"], outputs["feature_maps"])

    def decode(self, source) -> "Decoded":
        """A photo as the model's input, and what decoding it took; raises what trainer/images.py raises for a
        file that is not a photo it can read (PIL.UnidentifiedImageError, OSError…)."""
        started = time.perf_counter()
        pixels, upright_size = decode_for_model(source, (self.image_size, self.image_size))
        return Decoded(pixels, (time.perf_counter() - started) * 1000, upright_size)

    def _answers(self, outputs: Outputs, operating_point: str) -> list[tuple[int, str, np.ndarray]]:
        """Each photo's top class, verdict and heatmap."""
        best = outputs.probabilities.argmax(axis=1)
        if self.calibration is None:
            verdicts = [self.class_names[i] for i in best]
        else:
            verdicts = self.calibration.verdicts(outputs.probabilities, outputs.features, operating_point)
        heatmaps = class_activation_maps(outputs.feature_maps, outputs.features, self.head, best)
        return list(zip(best, verdicts, heatmaps, strict=True))

    def _classification(self, probabilities, answer, photo: "Decoded", shared_ms: float) -> Classification:
        best, verdict, heatmap = answer
        return Classification(
            label=self.class_names[best],
            confidence=float(probabilities[best]),
            probabilities={name: float(p) for name, p in zip(self.class_names, probabilities, strict=True)},
            inference_ms=photo.decode_ms + shared_ms,
            verdict=verdict,
            heatmap=heatmap,
            upright_size=photo.upright_size,
        )

    def classify(self, source, operating_point: str = DEFAULT_OPERATING_POINT) -> Classification:
        (result,) = self.answer([self.decode(source)], operating_point)
        return result

    def classify_batch(self, sources: Iterable, operating_point: str = DEFAULT_OPERATING_POINT) -> list[Classification]:
        """Many photos at a time, for throughput; each `inference_ms` is its decoding plus its share of the rest."""
        return self.answer([self.decode(source) for source in sources], operating_point)

    def answer(self, photos: list["Decoded"], operating_point: str = DEFAULT_OPERATING_POINT) -> list[Classification]:
        """The answers to decoded photos, BATCH_SIZE of them to an engine call; each `inference_ms` is the
        photo's decoding plus its share of the rest."""
        results = []
        for start in range(0, len(photos), BATCH_SIZE):
            batch = photos[start : start + BATCH_SIZE]
            started = time.perf_counter()
            outputs = self.run(np.stack([photo.pixels for photo in batch]))
            answers = self._answers(outputs, operating_point)
            shared_ms = (time.perf_counter() - started) * 1000 / len(batch)
            results += [
                self._classification(p, answer, photo, shared_ms)
                for p, answer, photo in zip(outputs.probabilities, answers, batch, strict=True)
            ]
        return results


@dataclass
class Decoded:
    pixels: np.ndarray  # (size, size, 3) uint8
    decode_ms: float
    upright_size: tuple[int, int]  # the photo's (width, height) as shown


def _model_for(version: "ModelVersion") -> LoadedModel:
    key = (version.pk, version.file_sha256, version.calibration_sha256, settings.CATDOG_ENGINE)
    with _lock:
        model = _loaded.get(key)
        if model is None:
            started = time.perf_counter()
            model = _load(version)
            logger.info("Loaded model version %s in %.1f s", version, time.perf_counter() - started)
            _loaded[key] = model
            while len(_loaded) > MAX_LOADED_VERSIONS:
                _loaded.popitem(last=False)
        _loaded.move_to_end(key)
        return model


def load_files(
    model: Path,
    head: Path,
    class_names: list[str],
    image_size: int,
    calibration: "Calibration | None" = None,
    engine: str | None = None,
) -> LoadedModel:
    """Serving files on this machine loaded in `engine` (default: settings.CATDOG_ENGINE), for scripts and
    benchmarks; a worker loads a version's through load_model. Raises EngineUnavailable, or what the engine
    raises for a file it refuses."""
    from trainer.engines import engine_class

    threads = settings.CATDOG_ENGINE_THREADS or len(os.sched_getaffinity(0))
    loaded = engine_class(engine or settings.CATDOG_ENGINE)(model, threads)
    return LoadedModel(loaded, load_head(head), class_names, image_size, calibration)


def _load(version: "ModelVersion") -> LoadedModel:
    from trainer.engines import EngineUnavailable, engine_class

    try:
        kind = engine_class(settings.CATDOG_ENGINE).kind
    except EngineUnavailable as error:  # a setting or an installation to fix: trying again will not help
        raise ModelUnavailable(str(error)) from error
    model_path = _local_export_path(version, kind)
    head_path = _local_export_path(version, SERVING_HEAD)
    calibration = _load_calibration(version)
    try:
        return load_files(model_path, head_path, version.class_names, version.image_size, calibration)
    except ModelUnavailable:
        raise
    except OSError as error:  # the disk failed while the engine read the file: it may work again
        message = f"Reading the serving files of version {version} failed: {error}"
        raise ModelUnavailable(message, transient=True) from error
    except Exception as error:  # the engine refused the file: damaged, or not what the version says
        raise ModelFileError(
            f"The serving files of version {version} ({model_path.name}, {head_path.name}) cannot be loaded "
            f"by {settings.CATDOG_ENGINE}: {error}"
        ) from error


def _load_calibration(version: "ModelVersion") -> "Calibration | None":
    """The version's "none of these" and "not sure" rule; None when it was trained without one."""
    if not version.calibration.name:
        return None
    from trainer.ml.verdicts import Calibration, CalibrationError

    path = _local_path(version, version.calibration, version.calibration_sha256, "calibration file", ".npz")
    try:
        return Calibration.load(path)
    except OSError as error:
        raise ModelUnavailable(f"Reading the calibration file {path} failed: {error}", transient=True) from error
    except CalibrationError as error:
        raise ModelFileError(f"The calibration file {path} cannot be used: {error}") from error


def preload_active_model() -> None:
    """Load the active version now, so that the first photo does not wait for the engine and the model.
    A task that arrives meanwhile waits on the same lock, then reuses it."""
    from trainer.models import ModelVersion

    try:
        version = ModelVersion.objects.filter(is_active=True).first()
        if version is not None:
            _model_for(version)
    except Exception:
        # Not fatal: the first task loads it, or fails with the reason on its prediction.
        logger.exception("Could not preload the active model")


def start_preloading() -> None:
    """Preload in a thread of its own: Celery gives a starting pool process only seconds (see
    classifier/tasks.py, which calls this when CATDOG_PRELOAD_MODEL is on)."""

    def preload():
        try:
            preload_active_model()
        finally:
            connection.close()  # this thread's own connection

    threading.Thread(target=preload, name="preload-model", daemon=True).start()


SERVING_HEAD = "serving_head"
# The serving files in words, for the administrators who read why a version cannot serve.
_IN_WORDS = {"serving_onnx": "ONNX", "serving_tflite": "TFLite", SERVING_HEAD: "heatmap head"}


def _local_export_path(version: "ModelVersion", kind: str) -> Path:
    """The version's verified serving file of `kind` on this machine; ModelFileError saying what to do if none."""
    export = _export(version, kind)
    what = f"{_IN_WORDS.get(kind, kind)} serving file"
    if export is None:
        raise ModelFileError(f"Version {version} has no verified {what}; run manage.py export_version {version.pk}.")
    if export.status != export.Status.VERIFIED:
        raise ModelFileError(
            f"The {what} of version {version} failed its check against Keras: {export.error or 'no reason given'} "
            f"Run manage.py export_version {version.pk} again once its cause is fixed."
        )
    return _local_path(version, export.file, export.sha256, what, Path(export.file.name).suffix)


def _export(version: "ModelVersion", kind: str) -> "ModelExport | None":
    from trainer.models import ModelExport

    return ModelExport.objects.filter(version_id=version.pk, kind=kind).first()


def _local_path(version: "ModelVersion", field_file, sha256: str, what: str, suffix: str) -> Path:
    """One of the version's files on this machine: in place on local storage, else a verified copy in the cache."""
    if not field_file.name:
        raise _missing(version, field_file, what)
    try:
        path = Path(field_file.path)
    except NotImplementedError:  # remote storage such as S3 has no local path
        pass
    else:
        if not path.is_file():
            raise _missing(version, field_file, what)
        return path
    local = Path(settings.CATDOG_MODEL_CACHE_DIR) / f"{sha256 or f'version-{version.pk}'}{suffix}"
    if local.exists():
        return local
    try:
        return copy_verified(field_file.storage, field_file.name, local, sha256)
    except ChecksumMismatch:
        raise ModelFileError(
            f"The stored {what} of model version {version} does not match its recorded SHA-256."
        ) from None
    except FileNotFoundError:
        raise _missing(version, field_file, what) from None
    except Exception as error:  # storage unreachable or failing (S3 errors are not all OSErrors)
        raise ModelUnavailable(f"Fetching the {what} of version {version} failed: {error}", transient=True) from error


def _missing(version: "ModelVersion", field_file, what: str) -> ModelFileError:
    return ModelFileError(f"The {what} of version {version} ({field_file.name or 'none'}) is missing.")
