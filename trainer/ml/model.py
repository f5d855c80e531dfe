"""The two networks: a small CNN trained from scratch, and a frozen ImageNet MobileNetV2 with a new head.

Both take (height, width, 3) float pixel values 0..255, as `images.load_for_model` decodes them, and
rescale inside the model, so serving feeds decoded pixels and nothing else. Each model is four
named parts, applied in order: `rescaling`, `augmentation` (random, and only in training), `encoder`
(image to a feature vector) and `head` (features to class probabilities). Training MobileNetV2 runs
the parts separately; the saved model is the whole.
"""

import keras
from keras import layers

from . import AUGMENTATIONS, MOBILENET_V2, SIMPLE_CNN

ARCHITECTURES = (MOBILENET_V2, SIMPLE_CNN)


def make_augmentation(level: str, seed: int, noise_stddev: float) -> keras.Sequential:
    """Random changes a photo could have had anyway; identity at inference.

    "full" moves, turns, zooms, shears, flips and adds noise; "flip" only mirrors left to right
    (gentler, for features that a flip barely changes). Runs after rescaling, so `noise_stddev` is in
    the rescaled units.
    """
    if level not in AUGMENTATIONS[1:]:
        raise ValueError(f"Unknown augmentation {level!r}; choose one of {AUGMENTATIONS}.")
    augmentation = [layers.RandomFlip("horizontal", seed=seed)]
    if level == "full":
        augmentation += [
            layers.RandomTranslation(0.1, 0.1, seed=seed + 1),
            layers.RandomRotation(0.05, seed=seed + 2),  # up to 18 degrees either way
            layers.RandomZoom(0.15, seed=seed + 3),
            # A (0, 0.1) range, not 0.1: Keras 3.15 saves 0.1 as (-0.1, 0.1), which it then refuses
            # to load (keras-team/keras#21110). The layer flips the sign at random either way.
            layers.RandomShear(x_factor=(0.0, 0.1), y_factor=(0.0, 0.1), seed=seed + 4),
            layers.GaussianNoise(noise_stddev, seed=seed + 5),
        ]
    return keras.Sequential(augmentation, name="augmentation")


def make_simple_cnn_parts(
    num_classes: int, dropout: float, conv_filters=(32, 64, 128, 256), dense_units=(128,)
) -> tuple[keras.Sequential, keras.Sequential]:
    """The original design: Conv2D + MaxPooling blocks, global pooling, ReLU dense layers, softmax."""
    encoder = []
    for filters in conv_filters:
        encoder += [layers.Conv2D(filters, 3, padding="same", activation="relu"), layers.MaxPooling2D()]
    encoder.append(layers.GlobalAveragePooling2D())
    head = [layers.Dense(units, activation="relu") for units in dense_units]
    head += [layers.Dropout(dropout), layers.Dense(num_classes, activation="softmax", name="predictions")]
    return keras.Sequential(encoder, name="encoder"), keras.Sequential(head, name="head")


def make_mobilenet_v2_parts(
    input_shape: tuple[int, int, int], num_classes: int, dropout: float, weights: str | None
) -> tuple[keras.Sequential, keras.Sequential]:
    """ImageNet MobileNetV2, frozen, average-pooled to 1,280 features; a softmax layer on top.

    `weights` is a Keras weights file, "imagenet" (Keras downloads them) or None (random, for tests).
    """
    backbone = keras.applications.MobileNetV2(
        input_shape=input_shape, include_top=False, weights=weights, pooling="avg", name="mobilenet_v2_imagenet"
    )
    # Frozen, and in Keras 3 that also keeps its BatchNormalization layers in inference mode.
    backbone.trainable = False
    encoder = keras.Sequential([backbone], name="encoder")
    head = keras.Sequential(
        [layers.Dropout(dropout), layers.Dense(num_classes, activation="softmax", name="predictions")], name="head"
    )
    return encoder, head


def make_model(
    architecture: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    dropout: float = 0.2,
    augmentation: str = "full",
    weights: str | None = None,
    seed: int = 1337,
) -> keras.Model:
    """A classifier from pixel values 0..255 to class probabilities; `weights` only for mobilenet_v2.

    `augmentation` is one of AUGMENTATIONS; with "none" the model has no `augmentation` part.
    """
    if architecture == MOBILENET_V2:
        # MobileNetV2 was trained on pixels scaled to [-1, 1].
        rescaling = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")
        encoder, head = make_mobilenet_v2_parts(input_shape, num_classes, dropout, weights)
    elif architecture == SIMPLE_CNN:
        rescaling = layers.Rescaling(1.0 / 255, name="rescaling")
        encoder, head = make_simple_cnn_parts(num_classes, dropout)
    else:
        raise ValueError(f"Unknown architecture {architecture!r}; choose one of {ARCHITECTURES}.")

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = rescaling(inputs)
    if augmentation != "none":
        # Noise of 1.5% of the value range, whichever range the architecture rescales to.
        x = make_augmentation(augmentation, seed, noise_stddev=0.015 * rescaling.scale * 255)(x)
    outputs = head(encoder(x))
    # str(): a Django TextChoices member would reach the saved file's HDF5 attributes, which refuse it.
    return keras.Model(inputs, outputs, name=str(architecture))


def summary_text(model: keras.Model) -> str:
    """model.summary() of the whole and of each part (MobileNetV2's 150 layers stay one line)."""
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            layer.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)
