"""What a model is fed while it trains: for MobileNetV2, the frozen encoder's features of every photo, computed
once (`features_for_head`); for the simple CNN, the photos decoded from disk a batch at a time (`PhotoStream`).

Imports TensorFlow: the training worker only.
"""

from collections.abc import Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .data import Datasets, image_batches, load_images
from .progress import CancelCheck, ProgressCallback, StepProgress, TrainingCancelled


def features_for_head(
    model,
    datasets: Datasets,
    *,
    image_size: int,
    batch_size: int,
    copies: int,
    progress_callback: ProgressCallback | None,
    should_cancel: CancelCheck | None,
):
    """The head alone, with the frozen encoder's features of the training and test photos.

    On two CPU cores the encoder is nearly all the cost of an epoch; computing its features once,
    augmented copies included, makes each epoch a fraction of a second. Only the features (1,280
    numbers a photo) are kept; the photos are decoded from disk batch by batch.
    """
    # `copies`: randomly augmented copies of each training photo (0 without augmentation; train.py with_defaults).
    batches = -(-len(datasets.train_paths) // batch_size) * (1 + copies)
    batches += -(-len(datasets.test_paths) // batch_size)
    done = 0

    def after_batch() -> bool:
        nonlocal done
        done += 1
        if progress_callback is not None:
            progress_callback(StepProgress("features", done, batches))
        return should_cancel is not None and should_cancel()

    def features_of(paths, augment):
        photos = image_batches(paths, image_size, batch_size)
        return extract_features(model, photos, augment, after_batch)

    train_parts = [features_of(datasets.train_paths, False)]
    for _ in range(copies):
        train_parts.append(features_of(datasets.train_paths, True))
    x_test = features_of(datasets.test_paths, False)
    y_train = np.concatenate([datasets.y_train] * (1 + copies))
    return model.get_layer("head"), np.concatenate(train_parts), y_train, x_test


def extract_features(
    model: keras.Model, batches: Iterable[np.ndarray], augment: bool, should_cancel: CancelCheck | None = None
) -> np.ndarray:
    """The encoder's output for batches of uint8 photos, after the model's rescaling and, if `augment`,
    augmentation; `should_cancel` is asked after every batch."""
    rescaling, encoder = model.get_layer("rescaling"), model.get_layer("encoder")
    augmentation = model.get_layer("augmentation") if augment else None

    # One traced graph for every batch size: the last batch is usually smaller.
    @tf.function(input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.uint8)])
    def features(pixels):
        x = rescaling(tf.cast(pixels, tf.float32))
        if augmentation is not None:
            x = augmentation(x, training=True)
        return encoder(x, training=False)

    parts = []
    for batch in batches:
        parts.append(features(batch).numpy())
        if should_cancel is not None and should_cancel():
            raise TrainingCancelled
    return np.concatenate(parts)


class PhotoStream(keras.utils.PyDataset):
    """Labelled photos decoded from disk a batch at a time, by the same function serving uses; with a
    `seed`, in a new seeded order every epoch (training), else in their order (testing)."""

    def __init__(self, paths: list[Path], labels: np.ndarray, image_size: int, batch_size: int, seed=None):
        super().__init__()
        self.paths, self.labels = paths, labels
        self.image_size, self.batch_size = image_size, batch_size
        self.order = np.arange(len(paths))
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-len(self.paths) // self.batch_size)

    def __getitem__(self, index: int):
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return load_images([self.paths[i] for i in chosen], self.image_size), self.labels[chosen]

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.rng.shuffle(self.order)
