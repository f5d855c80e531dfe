"""What a model is fed while it trains: for MobileNetV2, the outputs of its frozen part for every photo,
computed once (`frozen_outputs`); for the simple CNN, the photos decoded from disk a batch at a time
(`PhotoStream`).

Imports TensorFlow: the training worker only.
"""

from collections.abc import Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .data import Datasets, image_batches, load_images
from .progress import CancelCheck, ProgressCallback, StepProgress, TrainingCancelled


def frozen_outputs(
    model: keras.Model,
    frozen: keras.Model,
    datasets: Datasets,
    *,
    image_size: int,
    batch_size: int,
    mirror: bool,
    copies: int,
    progress_callback: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outputs of `frozen`, the part of the model that does not learn, for the training and test photos:
    x_train, y_train, x_test. `frozen` is the encoder when only the head learns (1,280 pooled features a
    photo), the backbone's front when its tail learns too (model.split_backbone: 7x7x160 maps at 224x224).

    On two CPU cores `frozen` is nearly all the cost of an epoch; computing its outputs once makes an epoch
    of what learns a fraction of a second (the head) or a few seconds (tail and head). x_train holds the
    photos' outputs, then, with `mirror`, their left-right mirror images' (from the same decoded batch),
    then `copies` randomly augmented copies' (0 without augmentation; train.py with_defaults). The photos
    are decoded from disk batch by batch.
    """
    per_pass = -(-len(datasets.train_paths) // batch_size)
    batches = per_pass * (1 + copies) + -(-len(datasets.test_paths) // batch_size)
    done = 0

    def after_batch() -> bool:
        nonlocal done
        done += 1
        if progress_callback is not None:
            progress_callback(StepProgress("features", done, batches))
        return should_cancel is not None and should_cancel()

    def outputs_of(paths, augment, mirror=False):
        photos = image_batches(paths, image_size, batch_size)
        return extract_outputs(model, frozen, photos, augment=augment, mirror=mirror, should_cancel=after_batch)

    train_parts = outputs_of(datasets.train_paths, False, mirror)
    for _ in range(copies):
        train_parts += outputs_of(datasets.train_paths, True)
    (x_test,) = outputs_of(datasets.test_paths, False)
    y_train = np.concatenate([datasets.y_train] * len(train_parts))
    return np.concatenate(train_parts), y_train, x_test


def extract_outputs(
    model: keras.Model,
    frozen: keras.Model,
    batches: Iterable[np.ndarray],
    *,
    augment: bool = False,
    mirror: bool = False,
    should_cancel: CancelCheck | None = None,
) -> list[np.ndarray]:
    """`frozen`'s output for batches of uint8 photos after the model's rescaling and, if `augment`,
    augmentation: [the photos'] or, with `mirror`, [the photos', their left-right mirror images'].
    `should_cancel` is asked after every batch."""
    rescaling = model.get_layer("rescaling")
    augmentation = model.get_layer("augmentation") if augment else None

    # One traced graph for every batch size: the last batch is usually smaller.
    @tf.function(input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.uint8)])
    def outputs(pixels):
        x = rescaling(tf.cast(pixels, tf.float32))
        if augmentation is not None:
            x = augmentation(x, training=True)
        if mirror:
            x = tf.concat([x, tf.reverse(x, axis=[2])], axis=0)
        return frozen(x, training=False)

    photos, mirrored = [], []
    for batch in batches:
        out = outputs(batch).numpy()
        photos.append(out[: len(batch)])
        mirrored.append(out[len(batch) :])
        if should_cancel is not None and should_cancel():
            raise TrainingCancelled
    return [np.concatenate(photos), np.concatenate(mirrored)] if mirror else [np.concatenate(photos)]


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
