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

if TYPE_CHECKING:
    from trainer.models import ModelVersion

logger = logging.getLogger(__name__)

# A worker keeps the models of this many versions; activating a new one must not make the
# process grow with every version it has ever answered with.
MAX_LOADED_VERSIONS = 2
BATCH_SIZE = 32

# Keyed by version id and file hash: a test database can give a new version an old version's id.
_loaded: "OrderedDict[tuple[int, str], LoadedModel]" = OrderedDict()
_lock = threading.Lock()
_tensorflow = None


@dataclass
class Classification:
    label: str
    confidence: float
    probabilities: dict[str, float]
    inference_ms: float  # decoding, resizing and the model, for this photo


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
    """The class of one photo, a file object or a path, by `version`.

    Raises ModelUnavailable when the model cannot be loaded, then PIL.UnidentifiedImageError or OSError
    when the photo cannot be decoded.
    """
    return _model_for(version).classify(source)


class LoadedModel:
    """A `.keras` classifier ready to answer: frozen into one graph and warmed up."""

    def __init__(self, path: Path, class_names: list[str], image_size: int):
        tf = _import_tensorflow()
        import keras
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        model = keras.saving.load_model(path, compile=False)
        expected_input = (None, image_size, image_size, 3)
        if tuple(model.input_shape) != expected_input or model.output_shape[-1] != len(class_names):
            raise ModelFileError(
                f"{path} takes {model.input_shape} and gives {model.output_shape[-1]} classes; the version "
                f"expects {expected_input} and {len(class_names)} classes."
            )
        self.class_names = list(class_names)
        self.image_size = image_size

        # A fixed signature traces once for every batch size. Freezing the weights into constants
        # lets TensorFlow fold each BatchNormalization into its convolution: MobileNetV2 at 224x224
        # takes 16 ms instead of 18.5 on two cores, which keeps a photo within 20 ms decoding
        # included, for about 110 MB more memory. TensorFlow has no public name for the freezing
        # function: requirements/worker.txt pins the version this was checked with.
        @tf.function(input_signature=[tf.TensorSpec([None, image_size, image_size, 3], tf.uint8)])
        def predict(pixels):
            return model(tf.cast(pixels, tf.float32), training=False)

        self._predict = convert_variables_to_constants_v2(predict.get_concrete_function())
        self._to_tensor = tf.convert_to_tensor  # the frozen function takes tensors, not arrays
        self._run(np.zeros((1, image_size, image_size, 3), dtype=np.uint8))  # the first call is slow

    def _run(self, pixels: np.ndarray) -> np.ndarray:
        (probabilities,) = self._predict(self._to_tensor(pixels))
        return probabilities.numpy()

    def _decode(self, source) -> np.ndarray:
        return load_for_model(source, (self.image_size, self.image_size))

    def _classification(self, probabilities: np.ndarray, inference_ms: float) -> Classification:
        best = int(np.argmax(probabilities))
        return Classification(
            label=self.class_names[best],
            confidence=float(probabilities[best]),
            probabilities={name: float(p) for name, p in zip(self.class_names, probabilities, strict=True)},
            inference_ms=inference_ms,
        )

    def classify(self, source) -> Classification:
        started = time.perf_counter()
        probabilities = self._run(self._decode(source)[np.newaxis])[0]
        return self._classification(probabilities, (time.perf_counter() - started) * 1000)

    def classify_batch(self, sources: Iterable) -> list[Classification]:
        """Many photos at a time, for throughput; each `inference_ms` is its decoding plus its share of the model."""
        sources = list(sources)
        results = []
        for start in range(0, len(sources), BATCH_SIZE):
            decode_ms, pixels = [], []
            for source in sources[start : start + BATCH_SIZE]:
                started = time.perf_counter()
                pixels.append(self._decode(source))
                decode_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            probabilities = self._run(np.stack(pixels))
            model_ms = (time.perf_counter() - started) * 1000 / len(pixels)
            results += [self._classification(p, ms + model_ms) for p, ms in zip(probabilities, decode_ms, strict=True)]
        return results


def _model_for(version: "ModelVersion") -> LoadedModel:
    key = (version.pk, version.file_sha256)
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
    try:
        return LoadedModel(path, version.class_names, version.image_size)
    except ModelUnavailable:
        raise
    except OSError as error:  # the disk failed while Keras read the file: it may work again
        raise ModelUnavailable(f"Reading the model file {path} failed: {error}", transient=True) from error
    except Exception as error:  # Keras refused the file: damaged, or not a Keras model
        raise ModelFileError(f"The model file {path} cannot be loaded by Keras: {error}") from error


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
    if not version.file.name:
        raise _missing(version)
    try:
        path = Path(version.file.path)
    except NotImplementedError:  # remote storage such as S3 has no local path
        pass
    else:
        if not path.is_file():
            raise _missing(version)
        return path
    local = Path(settings.CATDOG_MODEL_CACHE_DIR) / f"{version.file_sha256 or f'version-{version.pk}'}.keras"
    if local.exists():
        return local
    try:
        return copy_verified(version.file.storage, version.file.name, local, version.file_sha256)
    except ChecksumMismatch:
        raise ModelFileError(
            f"The stored file of model version {version} does not match its recorded SHA-256."
        ) from None
    except FileNotFoundError:
        raise _missing(version) from None
    except Exception as error:  # storage unreachable or failing (S3 errors are not all OSErrors)
        raise ModelUnavailable(
            f"Fetching the model file of version {version} failed: {error}", transient=True
        ) from error


def _missing(version: "ModelVersion") -> ModelFileError:
    return ModelFileError(f"The model file of version {version} ({version.file.name or 'none'}) is missing.")


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
