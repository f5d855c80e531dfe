"""After training: the served model's answers on the training, test and outlier photos, the version's
calibration (trainer/ml/verdicts.py) fitted on the first and measured on the others, and every test photo's
answer with its heatmap, for the error analysis.

Imports TensorFlow, like train.py: the training worker and the management commands only.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from . import DEFAULT_OPERATING_POINT
from .data import image_batches
from .evaluate import TestAnswer
from .heatmaps import class_activation_maps, to_bytes
from .serving import head_layers, pixels_function, serving_model
from .verdicts import Calibration, CalibrationError, fit_calibration, measure

logger = logging.getLogger(__name__)

# Called after every batch with the batches done and the batches in all; it may raise to stop.
BatchCallback = Callable[[int, int], None]


@dataclass
class Calibrated:
    calibration: Calibration | None  # None when it could not be fitted: `report["error"]` says why
    report: dict  # verdicts.measure()'s figures, or {"error": …}
    answers: list[TestAnswer] = field(default_factory=list)


@dataclass
class Photos:
    """The photos a calibration reads: training (fitted on), test (measured on) and outliers (none of the classes)."""

    train_paths: list[Path]
    y_train: np.ndarray
    test_paths: list[Path]
    y_test: np.ndarray
    outlier_paths: list[Path] = field(default_factory=list)
    # The training photos' pooled features, when the training already computed them (MobileNetV2's frozen
    # encoder gives the served model's features): the calibration then does not read those photos again.
    train_features: np.ndarray | None = None

    @property
    def count(self) -> int:
        """The photos the served model must still read."""
        train = len(self.train_paths) if self.train_features is None else 0
        return train + len(self.test_paths) + len(self.outlier_paths)


def calibrate(
    model: keras.Model,
    class_names: list[str],
    photos: Photos,
    *,
    batch_size: int,
    seed: int,
    after_batch: BatchCallback | None = None,
) -> Calibrated:
    """Fit the version's verdict rule on its training photos and measure it on its test and outlier photos."""
    run = _ServedRun(model, batch_size, -(-photos.count // batch_size), after_batch)
    train_features = photos.train_features
    if train_features is None:
        train_features = run.features(photos.train_paths)
    test = run.answers(photos.test_paths)
    outliers = run.answers(photos.outlier_paths) if photos.outlier_paths else None
    try:
        calibration = fit_calibration(train_features, photos.y_train, class_names, seed=seed)
    except CalibrationError as error:
        logger.warning("No calibration: %s", error)
        calibration, report = None, {"error": str(error)}
        verdicts = [class_names[i] for i in test.probabilities.argmax(axis=1)]
    else:
        report = measure(
            calibration,
            test.probabilities,
            test.features,
            photos.y_test,
            outlier_probabilities=None if outliers is None else outliers.probabilities,
            outlier_features=None if outliers is None else outliers.features,
        )
        verdicts = calibration.verdicts(test.probabilities, test.features, DEFAULT_OPERATING_POINT)
    return Calibrated(calibration, report, _test_answers(class_names, photos.test_paths, photos.y_test, test, verdicts))


def _test_answers(class_names, paths, labels, answers: "_Answers", verdicts) -> list[TestAnswer]:
    return [
        TestAnswer(
            name=path.name,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            true_label=class_names[true],
            probabilities={name: float(p) for name, p in zip(class_names, probabilities, strict=True)},
            verdict=verdict,
            heatmap=heatmap,
        )
        for path, true, probabilities, verdict, heatmap in zip(
            paths, labels, answers.probabilities, verdicts, answers.heatmaps, strict=True
        )
    ]


def calibrate_saved(model_path: Path, class_names: list[str], photos: Photos, *, seed: int) -> Calibrated:
    """`calibrate` for a saved `.keras` model (a version trained before calibrations, the shipped model)."""
    model = keras.saving.load_model(model_path, compile=False)
    return calibrate(model, class_names, photos, batch_size=32, seed=seed)


def answer_saved(
    model_path: Path,
    class_names: list[str],
    paths: list[Path],
    labels: np.ndarray,
    *,
    calibration_path: Path | None = None,
    operating_point: str = DEFAULT_OPERATING_POINT,
    batch_size: int = 32,
) -> list[TestAnswer]:
    """A saved model's answer on each of `paths` (true classes: `labels`), with its verdict by its calibration
    when it has one: a version measured on a test set after its training (trainer.Measurement)."""
    model = keras.saving.load_model(model_path, compile=False)
    run = _ServedRun(model, batch_size, -(-len(paths) // batch_size), None)
    answers = run.answers(paths)
    if calibration_path is None:
        verdicts = [class_names[i] for i in answers.probabilities.argmax(axis=1)]
    else:
        calibration = Calibration.load(calibration_path)
        verdicts = calibration.verdicts(answers.probabilities, answers.features, operating_point)
    return _test_answers(class_names, paths, labels, answers, verdicts)


@dataclass
class _Answers:
    probabilities: np.ndarray
    features: np.ndarray
    heatmaps: list[list[list[int]]]


class _ServedRun:
    """The served model over lists of photos, a batch at a time, counting batches for the progress."""

    def __init__(self, model: keras.Model, batch_size: int, batches: int, after_batch: BatchCallback | None):
        self.outputs = pixels_function(serving_model(model))
        self.head = head_layers(model)
        self.image_size = model.input_shape[1]
        self.batch_size, self.batches, self.done = batch_size, batches, 0
        self.after_batch = after_batch

    def _batches(self, paths: list[Path]):
        for pixels in image_batches(paths, self.image_size, self.batch_size):
            yield {name: value.numpy() for name, value in self.outputs(pixels).items()}
            self.done += 1
            if self.after_batch is not None:
                self.after_batch(self.done, self.batches)

    def features(self, paths: list[Path]) -> np.ndarray:
        return np.concatenate([batch["features"] for batch in self._batches(paths)])

    def answers(self, paths: list[Path]) -> _Answers:
        probabilities, features, heatmaps = [], [], []
        for batch in self._batches(paths):
            probabilities.append(batch["probabilities"])
            features.append(batch["features"])
            maps = class_activation_maps(
                batch["feature_maps"], batch["features"], self.head, batch["probabilities"].argmax(axis=1)
            )
            heatmaps += [to_bytes(m) for m in maps]
        return _Answers(np.concatenate(probabilities), np.concatenate(features), heatmaps)
