"""Classifying photos with a trained model version, in the prediction worker.

TensorFlow is imported by the first classification, never at import time: the web process imports
this module (through classifier.tasks) and must stay free of it. Each worker process loads a model
version once, freezes it into a single graph, warms it up and then reuses it for every photo.
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
from trainer.images import load_for_model
from trainer.ml import DEFAULT_OPERATING_POINT
from trainer.ml.heatmaps import class_activation_maps

if TYPE_CHECKING:
    from trainer.ml.verdicts import Calibration
    from trainer.models import ModelVersion

logger = logging.getLogger(__name__)

# A worker keeps the models of this many versions; activating a new one must not make the
# process grow with every version it has ever answered with.
MAX_LOADED_VERSIONS = 2
BATCH_SIZE = 32

# Keyed by version id and file hash: a test database can give a new version an old version's id.
_loaded: "OrderedDict[tuple[int, str, str], LoadedModel]" = OrderedDict()
_lock = threading.Lock()
_tensorflow = None


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
    """A `.keras` classifier ready to answer: its served model (trainer/ml/serving.py) frozen into one graph
    and warmed up, its head's weights for the heatmaps, and its calibration, if it has one."""

    def __init__(self, path: Path, class_names: list[str], image_size: int, calibration: "Calibration | None" = None):
        tf = _import_tensorflow()
        import keras
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        from trainer.ml.serving import head_layers, serving_model

        model = keras.saving.load_model(path, compile=False)
        expected_input = (None, image_size, image_size, 3)
        if tuple(model.input_shape) != expected_input or model.output_shape[-1] != len(class_names):
            raise ModelFileError(
                f"{path} takes {model.input_shape} and gives {model.output_shape[-1]} classes; the version "
                f"expects {expected_input} and {len(class_names)} classes."
            )
        self.class_names = list(class_names)
        self.image_size = image_size
        self.calibration = calibration
        self.head = head_layers(model)
        served = serving_model(model)

        # A fixed signature traces once for every batch size. Freezing the weights into constants
        # lets TensorFlow fold each BatchNormalization into its convolution: MobileNetV2 at 224x224
        # takes 16 ms instead of 18.5 on two cores, which keeps a photo within 20 ms decoding
        # included, for about 110 MB more memory. TensorFlow has no public name for the freezing
        # function: requirements/worker.txt pins the version this was checked with.
        @tf.function(input_signature=[tf.TensorSpec([None, image_size, image_size, 3], tf.uint8)])
        def predict(pixels):
            outputs = served(tf.cast(pixels, tf.float32), training=False)
            return [outputs[name] for name in ("probabilities", "features", "feature_maps")]

        self._predict = convert_variables_to_constants_v2(predict.get_concrete_function())
        self._to_tensor = tf.convert_to_tensor  # the frozen function takes tensors, not arrays
        self.run(np.zeros((1, image_size, image_size, 3), dtype=np.uint8))  # the first call is slow

    def run(self, pixels: np.ndarray) -> Outputs:
        """The one engine call: probabilities, pooled features and feature maps of a batch of pixels."""
        probabilities, features, feature_maps = self._predict(self._to_tensor(pixels))
        return Outputs(probabilities.numpy(), features.numpy(), feature_maps.numpy())

    def _decode(self, source) -> np.ndarray:
        return load_for_model(source, (self.image_size, self.image_size))

    def _answers(self, outputs: Outputs, operating_point: str) -> list[tuple[int, str, np.ndarray]]:
        """Each photo's top class, verdict and heatmap."""
        best = outputs.probabilities.argmax(axis=1)
        if self.calibration is None:
            verdicts = [self.class_names[i] for i in best]
        else:
            verdicts = self.calibration.verdicts(outputs.probabilities, outputs.features, operating_point)
        heatmaps = class_activation_maps(outputs.feature_maps, outputs.features, self.head, best)
        return list(zip(best, verdicts, heatmaps, strict=True))

    def _classification(self, probabilities, answer, inference_ms: float) -> Classification:
        best, verdict, heatmap = answer
        return Classification(
            label=self.class_names[best],
            confidence=float(probabilities[best]),
            probabilities={name: float(p) for name, p in zip(self.class_names, probabilities, strict=True)},
            inference_ms=inference_ms,
            verdict=verdict,
            heatmap=heatmap,
        )

    def classify(self, source, operating_point: str = DEFAULT_OPERATING_POINT) -> Classification:
        started = time.perf_counter()
        outputs = self.run(self._decode(source)[np.newaxis])
        (answer,) = self._answers(outputs, operating_point)
        return self._classification(outputs.probabilities[0], answer, (time.perf_counter() - started) * 1000)

    def classify_batch(self, sources: Iterable, operating_point: str = DEFAULT_OPERATING_POINT) -> list[Classification]:
        """Many photos at a time, for throughput; each `inference_ms` is its decoding plus its share of the rest."""
        sources = list(sources)
        results = []
        for start in range(0, len(sources), BATCH_SIZE):
            decode_ms, pixels = [], []
            for source in sources[start : start + BATCH_SIZE]:
                started = time.perf_counter()
                pixels.append(self._decode(source))
                decode_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            outputs = self.run(np.stack(pixels))
            answers = self._answers(outputs, operating_point)
            shared_ms = (time.perf_counter() - started) * 1000 / len(pixels)
            results += [
                self._classification(p, answer, ms + shared_ms)
                for p, answer, ms in zip(outputs.probabilities, answers, decode_ms, strict=True)
            ]
        return results


def _model_for(version: "ModelVersion") -> LoadedModel:
    key = (version.pk, version.file_sha256, version.calibration_sha256)
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


def _load(version: "ModelVersion") -> LoadedModel:
    path = _local_model_path(version)
    calibration = _load_calibration(version)
    try:
        return LoadedModel(path, version.class_names, version.image_size, calibration)
    except ModelUnavailable:
        raise
    except OSError as error:  # the disk failed while Keras read the file: it may work again
        raise ModelUnavailable(f"Reading the model file {path} failed: {error}", transient=True) from error
    except Exception as error:  # Keras refused the file: damaged, or not a Keras model
        raise ModelFileError(f"The model file {path} cannot be loaded by Keras: {error}") from error


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
    """Load the active version now, so that the first photo does not wait for TensorFlow and the model
    (about 6 s on two cores). A task that arrives meanwhile waits on the same lock, then reuses it."""
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


def _local_model_path(version: "ModelVersion") -> Path:
    """The model file on this machine: in place on local storage, else a verified copy in the cache."""
    return _local_path(version, version.file, version.file_sha256, "model file", ".keras")


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


def _import_tensorflow():
    """TensorFlow, with its threads set for a small CPU box, on the first call in this process."""
    global _tensorflow
    if _tensorflow is None:
        import tensorflow as tf

        try:
            # Measured on 2 cores: one operation at a time using every core is fastest for one photo;
            # parallel operations only fight over the same cores.
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            tf.config.threading.set_intra_op_parallelism_threads(cores)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            logger.info("TensorFlow was already running in this process; its thread settings stay as they were.")
        _tensorflow = tf
    return _tensorflow
