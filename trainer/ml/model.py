"""The two networks: a small CNN trained from scratch, and a frozen ImageNet MobileNetV2 with a new head.

Both take (height, width, 3) float pixel values 0..255, as trainer/images.py's `load_for_model` decodes them, and
rescale inside the model, so serving feeds decoded pixels and nothing else. Each model is four
named parts, applied in order: `rescaling`, `augmentation` (random, and only in training), `encoder`
(image to a feature vector) and `head` (features to class probabilities). Training MobileNetV2 runs
the parts separately; the saved model is the whole.
"""

import keras
from keras import layers

from . import ARCHITECTURES, AUGMENTATIONS, MOBILENET_V2, SIMPLE_CNN
from .weights import IMAGENET, WeightsUnavailable, check_weights, is_saved_model

BACKBONE = "mobilenet_v2_imagenet"  # its name inside the encoder, which saved models keep
# MobileNetV2's layers after this one (block_16 and Conv_1, on 7x7 maps) may be fine-tuned with the head;
# those up to it stay frozen, so that their output is computed once per photo (trainer/ml/inputs.py).
TUNED_AFTER = "block_15_add"


def make_augmentation(level: str, seed: int, noise_stddev: float) -> keras.Sequential:
    """Random changes a photo could have had anyway; identity at inference.

    "strong" moves, turns, zooms, shears, flips and adds noise; "light" only mirrors left to right
    (gentler, for features that a flip barely changes). Runs after rescaling, so `noise_stddev` is in
    the rescaled units.
    """
    if level not in AUGMENTATIONS[1:]:
        raise ValueError(f"Unknown augmentation {level!r}; choose one of {AUGMENTATIONS}.")
    augmentation = [layers.RandomFlip("horizontal", seed=seed)]
    if level == "strong":
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


def make_simple_cnn_parts(num_classes: int, dropout: float) -> tuple[keras.Sequential, keras.Sequential]:
    """The original design: four Conv2D + MaxPooling blocks, global pooling, a ReLU dense layer, softmax."""
    encoder = []
    for filters in (32, 64, 128, 256):
        encoder += [layers.Conv2D(filters, 3, padding="same", activation="relu"), layers.MaxPooling2D()]
    encoder.append(layers.GlobalAveragePooling2D())
    head = [
        layers.Dense(128, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(encoder, name="encoder"), keras.Sequential(head, name="head")


def make_mobilenet_v2_parts(
    input_shape: tuple[int, int, int], num_classes: int, dropout: float, weights: str | None
) -> tuple[keras.Sequential, keras.Sequential]:
    """ImageNet MobileNetV2, frozen, average-pooled to 1,280 features; a softmax layer on top.

    `weights`: see trainer/ml/weights.py; None gives random weights (tests).
    """
    backbone = make_mobilenet_v2_backbone(input_shape, weights)
    # Frozen, and in Keras 3 that also keeps its BatchNormalization layers in inference mode.
    backbone.trainable = False
    encoder = keras.Sequential([backbone], name="encoder")
    head = keras.Sequential(
        [layers.Dropout(dropout), layers.Dense(num_classes, activation="softmax", name="predictions")], name="head"
    )
    return encoder, head


def make_mobilenet_v2_backbone(input_shape: tuple[int, int, int], weights: str | None) -> keras.Model:
    """MobileNetV2 without its top, at any input size, with the weights `weights` names.

    A saved model's backbone is copied layer by layer: convolution and batch normalisation weights do
    not depend on the input size, so a 224x224 backbone serves at 96x96 too.
    """

    def build(source):
        return keras.applications.MobileNetV2(
            input_shape=input_shape, include_top=False, weights=source, pooling="avg", name=BACKBONE
        )

    if weights is None:
        return build(None)
    check_weights(weights)
    if is_saved_model(weights):
        backbone = build(None)
        copy_weights_by_layer_name(saved_backbone(weights), backbone)
        return backbone
    try:
        return build(weights)
    # Keras raises a bare Exception when it cannot download ("URL fetch failure"), ValueError or
    # OSError when a weights file does not fit or cannot be read.
    except Exception as error:
        what_to_do = (
            "This machine may have no internet: unset CATDOG_MOBILENET_WEIGHTS to start from the backbone of "
            "the shipped model."
            if weights == IMAGENET
            else "Give a MobileNetV2 (alpha 1.0, no top) Keras weights file, or unset the setting."
        )
        raise WeightsUnavailable(
            f"MobileNetV2 could not load its weights from {weights} (CATDOG_MOBILENET_WEIGHTS): {error}. {what_to_do}"
        ) from error


def split_backbone(backbone: keras.Model) -> tuple[keras.Model, keras.Model]:
    """`backbone` (make_mobilenet_v2_backbone) as two models sharing its layers: the front, from its input to
    TUNED_AFTER's 7x7 maps, and the tail, from those maps to the pooled features. Training the tail trains
    the backbone. After TUNED_AFTER, MobileNetV2 is a chain: each layer reads the one before."""
    cut = backbone.get_layer(TUNED_AFTER)
    front = keras.Model(backbone.input, cut.output, name=f"{backbone.name}_front")
    x = maps = keras.Input(cut.output.shape[1:], name="maps")
    for layer in backbone.layers[backbone.layers.index(cut) + 1 :]:
        x = layer(x)
    return front, keras.Model(maps, x, name=f"{backbone.name}_tail")


def set_tail_trainable(backbone: keras.Model, trainable: bool) -> None:
    """Let the convolutions after TUNED_AFTER learn, or freeze the whole backbone again. Batch normalisation
    stays frozen, so in inference mode: its statistics are ImageNet's, not those of a few hundred photos."""
    backbone.trainable = False
    if trainable:
        cut = backbone.layers.index(backbone.get_layer(TUNED_AFTER))
        for layer in backbone.layers[cut + 1 :]:
            layer.trainable = not isinstance(layer, layers.BatchNormalization)


def saved_backbone(path: str) -> keras.Model:
    """The MobileNetV2 backbone inside a saved catdog model (`make_model`'s encoder)."""
    try:
        model = keras.saving.load_model(path, compile=False)
    except (OSError, ValueError) as error:
        raise WeightsUnavailable(f"The model {path} (CATDOG_MOBILENET_WEIGHTS) cannot be loaded: {error}") from error
    try:
        return model.get_layer("encoder").get_layer(BACKBONE)
    except ValueError:
        raise WeightsUnavailable(
            f"The model {path} (CATDOG_MOBILENET_WEIGHTS) holds no MobileNetV2 backbone; name a MobileNetV2 "
            "model version's .keras file or a weights file."
        ) from None


def copy_weights_by_layer_name(source: keras.Model, target: keras.Model) -> None:
    """Give every layer of `target` the weights of `source`'s layer of the same name, refusing any mismatch."""
    sources = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        found = sources.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if found is None or [tuple(w.shape) for w in found.weights] != shapes:
            raise WeightsUnavailable(
                f"The backbone given by CATDOG_MOBILENET_WEIGHTS does not match MobileNetV2 at layer {layer.name}; "
                "name a MobileNetV2 (alpha 1.0) model or weights file."
            )
        layer.set_weights(found.get_weights())


def make_model(
    architecture: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    dropout: float = 0.2,
    augmentation: str = "strong",
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
