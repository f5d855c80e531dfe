"""Training from a labelled folder to a saved `.keras` model with its test metrics: `run_training`.

Imports TensorFlow: call it from the training worker or a management command's `handle()`, never at
import time of anything the web process loads.
"""

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from . import (
    ARCHITECTURE_DEFAULTS,
    AUGMENTATIONS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_SEED,
    DEFAULT_TEST_SPLIT,
    MOBILENET_V2,
    MOBILENET_V2_ONLY,
)
from .calibrate import Photos, calibrate
from .data import Datasets, SkippedFile, class_weights, make_datasets, readable_images
from .evaluate import TestAnswer, evaluate
from .inputs import PhotoStream, frozen_outputs
from .model import BACKBONE, make_model, set_tail_trainable, split_backbone, summary_text
from .progress import CancelCheck, EpochProgress, ProgressCallback, StepProgress, TrainingCancelled
from .weights import IMAGENET, check_weights

logger = logging.getLogger(__name__)

LEAKAGE_LIST_LIMIT = 500  # training photos dropped as near-duplicates of test photos, named in the metrics


@dataclass
class TrainingConfig:
    train_dir: Path
    output_path: Path  # where the `.keras` file is written
    test_dir: Path | None = None  # None: hold out `test_split` of train_dir, stratified and seeded
    architecture: str = MOBILENET_V2
    image_size: int | None = None
    epochs: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate: float | None = None
    test_split: float = DEFAULT_TEST_SPLIT
    seed: int = DEFAULT_SEED
    augmentation: str | None = None  # one of AUGMENTATIONS, see model.make_augmentation
    # mobilenet_v2 with augmentation: the head learns from the features of the photos plus this many
    # randomly augmented copies of them, each computed once (the frozen backbone's features of a
    # given image never change).
    augment_copies: int = 1
    # mobilenet_v2: the head (and the tail) also learn from each training photo's left-right mirror image,
    # whose maps are computed with the photo's.
    mirror: bool | None = None
    # mobilenet_v2: after the head's `epochs`, the backbone's last block and last convolution (the layers after
    # model.TUNED_AFTER, batch normalisation aside) learn with the head for this many epochs, from the frozen
    # front's maps computed once; 0: the head alone learns.
    fine_tune_epochs: int | None = None
    fine_tune_learning_rate: float | None = None
    dropout: float | None = None
    # mobilenet_v2: a saved model to take the backbone from, a Keras weights file, or "imagenet" to
    # download them (trainer/ml/weights.py); the task and the command pass CATDOG_MOBILENET_WEIGHTS.
    weights: str | None = IMAGENET
    # Photos of none of the classes, in any folders: the calibration's "none of these" is measured on them.
    outlier_dir: Path | None = None


@dataclass
class TrainingResult:
    model_path: Path
    architecture: str
    class_names: list[str]
    image_size: int
    params: dict  # every setting, defaults resolved, seed included
    metrics: dict  # accuracy, loss, per_class, confusion_matrix, history, counts, leakage_dropped and leakage
    summary: str
    skipped_files: list[SkippedFile]
    test_paths: list[Path]  # the test photos that were measured
    calibration_path: Path | None  # the verdict rule (trainer/ml/verdicts.py), None when it could not be fitted
    calibration_report: dict  # what it does on the test (and outlier) photos, or {"error": why there is none}
    test_answers: list[TestAnswer]  # every test photo's answer, verdict and heatmap
    train_sha256s: list[str]  # the SHA-256 of every photo it was trained on (trainer.TrainedPhoto)


def with_defaults(config: TrainingConfig) -> TrainingConfig:
    """`config` with every unset setting filled in from its architecture's defaults."""
    if config.architecture not in ARCHITECTURE_DEFAULTS:
        raise ValueError(f"Unknown architecture {config.architecture!r}; choose one of {list(ARCHITECTURE_DEFAULTS)}.")
    defaults = ARCHITECTURE_DEFAULTS[config.architecture]
    config = dataclasses.replace(
        config, **{name: value for name, value in defaults.items() if getattr(config, name) is None}
    )
    if config.augmentation not in AUGMENTATIONS:
        raise ValueError(f"Unknown augmentation {config.augmentation!r}; choose one of {AUGMENTATIONS}.")
    if config.architecture != MOBILENET_V2:
        return dataclasses.replace(config, **MOBILENET_V2_ONLY)
    if config.augmentation == "none":
        config.augment_copies = 0  # the feature-caching path only copies augmented photos
    return config


def run_training(
    config: TrainingConfig,
    progress_callback: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> TrainingResult:
    """Read the folders, train, measure on the test photos and save the model to `config.output_path`.

    `progress_callback` hears about the phases and every epoch; `should_cancel` is asked after every
    batch, and a True answer raises TrainingCancelled.
    """
    config = with_defaults(config)
    started = time.monotonic()
    if config.architecture == MOBILENET_V2 and config.weights is not None:
        check_weights(config.weights)  # before reading thousands of photos
    keras.utils.set_random_seed(config.seed)
    size = config.image_size

    def on_checked(done: int, total: int) -> None:
        if progress_callback is not None:
            progress_callback(StepProgress("loading", done, total))

    on_checked(0, 1)
    datasets = make_datasets(config.train_dir, config.test_dir, size, config.test_split, config.seed, on_checked)
    num_classes = len(datasets.class_names)
    model = make_model(
        config.architecture,
        (size, size, 3),
        num_classes,
        dropout=config.dropout,
        augmentation=config.augmentation,
        weights=config.weights if config.architecture == MOBILENET_V2 else None,
        seed=config.seed,
    )
    history, probabilities, train_features = train(model, datasets, config, progress_callback, should_cancel)

    metrics = evaluate(datasets.y_test, probabilities, datasets.class_names)
    metrics["history"] = history
    metrics["num_train"] = len(datasets.y_train)
    metrics["class_weights"] = {
        datasets.class_names[i]: weight for i, weight in class_weights(datasets.y_train, num_classes).items()
    }
    metrics["skipped_files"] = len(datasets.skipped)
    # Training photos left out as near-duplicates of test photos (train/test leakage), by their class/file names.
    metrics["leakage_dropped"] = len(datasets.leaked)
    metrics["leakage"] = [
        {"photo": _name(leaked.path), "test_photo": _name(leaked.test_path), "distance": leaked.distance}
        for leaked in datasets.leaked[:LEAKAGE_LIST_LIMIT]
    ]
    metrics["training_seconds"] = round(time.monotonic() - started, 1)

    calibrating = time.monotonic()
    calibrated = _calibrate(model, datasets, config, train_features, progress_callback, should_cancel)
    metrics["calibration_seconds"] = round(time.monotonic() - calibrating, 1)
    output_path = Path(config.output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(output_path)
    calibration_path = None
    if calibrated.calibration is not None:
        calibration_path = output_path.with_suffix(".calibration.npz")
        calibrated.calibration.save(calibration_path)
    return TrainingResult(
        model_path=output_path,
        architecture=config.architecture,
        class_names=datasets.class_names,
        image_size=size,
        params=_recorded_params(config),
        metrics=metrics,
        summary=summary_text(model),
        skipped_files=datasets.skipped,
        test_paths=datasets.test_paths,
        calibration_path=calibration_path,
        calibration_report=calibrated.report,
        test_answers=calibrated.answers,
        train_sha256s=[hashlib.sha256(path.read_bytes()).hexdigest() for path in datasets.train_paths],
    )


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _calibrate(model, datasets: Datasets, config: TrainingConfig, train_features, progress_callback, should_cancel):
    """The verdict rule, fitted on the training photos as the served model sees them (never augmented);
    `train_features`, when the training already computed them, spare a second pass over those photos."""
    outlier_paths = []
    if config.outlier_dir is not None:
        outlier_paths = readable_images(Path(config.outlier_dir), config.image_size)

    def after_batch(done: int, total: int) -> None:
        if progress_callback is not None:
            progress_callback(StepProgress("calibrating", done, total))
        if should_cancel is not None and should_cancel():
            raise TrainingCancelled

    photos = Photos(
        datasets.train_paths, datasets.y_train, datasets.test_paths, datasets.y_test, outlier_paths, train_features
    )
    return calibrate(
        model, datasets.class_names, photos, batch_size=config.batch_size, seed=config.seed, after_batch=after_batch
    )


def _recorded_params(config: TrainingConfig) -> dict:
    """Every setting the training ran with, as JSON, as a person reads them on the version's page: no
    folders of this machine (where the photos were is the dataset's business), the weights by their
    file's name, and nothing the training did not use."""
    params = {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config)
        if field.name not in ("output_path", "train_dir", "test_dir", "outlier_dir")
    }
    if params.get("weights") not in (None, IMAGENET):
        params["weights"] = Path(params["weights"]).name
    if config.test_dir is not None:
        params["test_split"] = None  # not used: the test photos came from test_dir
    if config.architecture != MOBILENET_V2:  # only the feature-caching path uses them
        for name in ("weights", *MOBILENET_V2_ONLY):
            del params[name]
    return params


def train(
    model: keras.Model,
    datasets: Datasets,
    config: TrainingConfig,
    progress_callback: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """Fit `model` on the training photos; returns the per-epoch history, the test probabilities and, for
    MobileNetV2, the trained model's pooled features of the training photos as they are (not augmented).

    The test photos give the per-epoch test curves, nothing more: no choice (epoch, weights) is made
    on them, so the final test accuracy stays an honest measure.
    """
    reporter = EpochReporter(config.epochs + config.fine_tune_epochs, progress_callback, should_cancel)
    fitting = _Fitting(config.batch_size, reporter, class_weights(datasets.y_train, len(datasets.class_names)))
    if config.architecture == MOBILENET_V2:
        return _train_mobilenet_v2(model, datasets, config, fitting, progress_callback, should_cancel)
    # Photos stream from disk, decoded a batch at a time, in a new seeded order every epoch. The encoder
    # learns: its features change with every epoch, so the calibration computes them from the saved model.
    size, batch_size = config.image_size, config.batch_size
    train_data = {"x": PhotoStream(datasets.train_paths, datasets.y_train, size, batch_size, seed=config.seed)}
    test_data = PhotoStream(datasets.test_paths, datasets.y_test, size, batch_size)
    history = fitting.fit(model, train_data, test_data, len(datasets.y_train), config.epochs, config.learning_rate)
    return history, model.predict(test_data, verbose=0), None


def _train_mobilenet_v2(model, datasets: Datasets, config: TrainingConfig, fitting: "_Fitting", progress, cancel):
    """The head on the pooled features of the frozen backbone, computed once; with `fine_tune_epochs`, then the
    backbone's tail with it, on the maps of the frozen front computed once (model.split_backbone)."""
    encoder = model.get_layer("encoder")
    backbone = encoder.get_layer(BACKBONE)
    front, tail = split_backbone(backbone)
    # Only what the training needs is kept: the maps (31 kB a photo at 224x224) only when the tail learns.
    x_train, y_train, x_test = frozen_outputs(
        model,
        front if config.fine_tune_epochs else encoder,
        datasets,
        image_size=config.image_size,
        batch_size=config.batch_size,
        mirror=config.mirror,
        copies=config.augment_copies,
        progress_callback=progress,
        should_cancel=cancel,
    )
    head, photos = model.get_layer("head"), len(datasets.train_paths)  # the photos themselves come first
    pooled_train, pooled_test = x_train, x_test
    if config.fine_tune_epochs:
        pooled_train, pooled_test = fitting.predict(tail, x_train), fitting.predict(tail, x_test)
    train_data = {"x": pooled_train, "y": y_train, "batch_size": config.batch_size, "shuffle": True}
    test_data = (pooled_test, datasets.y_test)
    history = fitting.fit(head, train_data, test_data, len(y_train), config.epochs, config.learning_rate)
    if not config.fine_tune_epochs:
        return history, fitting.predict(head, pooled_test), pooled_train[:photos]

    tuned = keras.Sequential([tail, head], name="tail_and_head")
    set_tail_trainable(backbone, True)
    try:
        fitting.reporter.first_epoch = config.epochs
        train_data = {"x": x_train, "y": y_train, "batch_size": config.batch_size, "shuffle": True}
        more = fitting.fit(
            tuned,
            train_data,
            (x_test, datasets.y_test),
            len(y_train),
            config.fine_tune_epochs,
            config.fine_tune_learning_rate,
        )
    finally:
        set_tail_trainable(backbone, False)  # the saved model is frozen again, as a weights source wants it
    history = {key: values + more[key] for key, values in history.items()}
    # The tail learned: the calibration needs its features of the photos, cheap from their maps.
    return history, fitting.predict(tuned, x_test), fitting.predict(tail, x_train[:photos])


@dataclass
class _Fitting:
    """How every stage of a training fits and predicts: Adam with cosine decay, class weights, progress and
    cancelling through `reporter`."""

    batch_size: int
    reporter: "EpochReporter"
    class_weight: dict[int, float]

    def fit(self, fit_model: keras.Model, train_data: dict, test_data, samples: int, epochs: int, learning_rate):
        """Fit `fit_model` for `epochs`; the history by the names the version's page shows."""
        # Cosine decay to zero: the weights settle by the last epoch. At a constant rate they were still
        # moving, and the accuracy swung by several tenths of a point from one epoch to the next.
        steps = epochs * -(-samples // self.batch_size)
        fit_model.compile(
            optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        fit = fit_model.fit(
            **train_data,
            epochs=epochs,
            validation_data=test_data,
            class_weight=self.class_weight,
            callbacks=[self.reporter],
            verbose=0,
        )
        if self.reporter.cancelled:
            raise TrainingCancelled
        names = {"loss": "loss", "accuracy": "accuracy", "val_loss": "test_loss", "val_accuracy": "test_accuracy"}
        return {names[key]: [float(v) for v in values] for key, values in fit.history.items() if key in names}

    def predict(self, predict_model: keras.Model, x: np.ndarray) -> np.ndarray:
        outputs = predict_model.predict(x, batch_size=self.batch_size, callbacks=[self.reporter], verbose=0)
        if self.reporter.cancelled:
            raise TrainingCancelled
        return outputs


class EpochReporter(keras.callbacks.Callback):
    def __init__(self, epochs: int, progress_callback: ProgressCallback | None, should_cancel: CancelCheck | None):
        super().__init__()
        self.epochs = epochs
        self.first_epoch = 0  # the epochs of the stages before this one (MobileNetV2's head, then its tail)
        self.progress_callback = progress_callback
        self.should_cancel = should_cancel
        self.cancelled = False

    def on_train_batch_end(self, batch, logs=None):
        # An epoch of simple_cnn takes half a minute or more on two cores: stop after this batch.
        if self.should_cancel is not None and self.should_cancel():
            self.cancelled = True
            self.model.stop_training = True

    def on_predict_batch_end(self, batch, logs=None):
        if self.should_cancel is not None and self.should_cancel():
            self.cancelled = True
            self.model.stop_predicting = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.progress_callback is not None:
            self.progress_callback(
                EpochProgress(
                    epoch=self.first_epoch + epoch + 1,
                    epochs=self.epochs,
                    loss=float(logs["loss"]),
                    accuracy=float(logs["accuracy"]),
                    test_loss=_optional_float(logs.get("val_loss")),
                    test_accuracy=_optional_float(logs.get("val_accuracy")),
                )
            )
        if self.cancelled or (self.should_cancel is not None and self.should_cancel()):
            # Stop cleanly; train() raises once fit() has returned.
            self.cancelled = True
            self.model.stop_training = True


def _optional_float(value) -> float | None:
    return None if value is None else float(value)
