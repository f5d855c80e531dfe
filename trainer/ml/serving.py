"""The served model: one call gives everything the answers need.

`serving_model` turns a trained classifier (model.make_model's four parts) into a model from uint8
pixels to three outputs, computed in the same pass:

- "probabilities": each class's probability, exactly as the trained model gives them;
- "features": the pooled encoder features the head reads (the "none of these" rule, trainer/ml/verdicts.py);
- "feature_maps": the last convolutional maps before pooling (the heatmap, trainer/ml/heatmaps.py).

`head_layers` gives the head's dense layers as arrays, so that the heatmap needs no gradients and no
TensorFlow. Both run where TensorFlow does: in the training worker and in the prediction worker.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .heatmaps import DenseLayer

OUTPUTS = ("probabilities", "features", "feature_maps")


def serving_model(model: keras.Model) -> keras.Model:
    """`model` as a model from (batch, size, size, 3) pixels 0..255 to {"probabilities", "features", "feature_maps"}.

    The augmentation part is left out (it is the identity at inference). The encoder must end with a
    global average pooling, as both of catdog's architectures do, directly or inside its backbone.
    """
    rescaling, encoder, head = model.get_layer("rescaling"), model.get_layer("encoder"), model.get_layer("head")
    pixels = keras.Input(model.input_shape[1:], name="pixels")
    maps = rescaling(pixels)
    for layer in _layers_to_maps(encoder):
        maps = layer(maps)
    features = layers.GlobalAveragePooling2D(name="features")(maps)
    probabilities = head(features, training=False)
    return keras.Model(pixels, {"probabilities": probabilities, "features": features, "feature_maps": maps})


def pixels_function(served: keras.Model) -> tf.types.experimental.GenericFunction:
    """`served` (from `serving_model`) as one traced function of uint8 pixels named "pixels", for any batch size:
    what the engines' files are converted from (trainer/ml/export.py), and how the training worker runs it."""

    @tf.function(input_signature=[tf.TensorSpec([None, *served.input_shape[1:]], tf.uint8, name="pixels")])
    def outputs(pixels):
        return served(tf.cast(pixels, tf.float32), training=False)

    return outputs


def _layers_to_maps(encoder: keras.Sequential) -> list:
    """The encoder's layers up to, not including, its final global average pooling."""
    last = encoder.layers[-1]
    if isinstance(last, layers.GlobalAveragePooling2D):
        return encoder.layers[:-1]
    if isinstance(last, keras.Model) and isinstance(last.layers[-1], layers.GlobalAveragePooling2D):
        # A backbone built with pooling="avg": the same network, stopped before its pooling.
        return [*encoder.layers[:-1], keras.Model(last.inputs, last.layers[-2].output, name=f"{last.name}_maps")]
    raise ValueError(f"The encoder ends with {last.name}, not a global average pooling: no feature maps to serve.")


def head_layers(model: keras.Model) -> list[DenseLayer]:
    """The head's dense layers in order, as arrays (dropout does nothing at inference)."""
    dense = []
    for layer in model.get_layer("head").layers:
        if isinstance(layer, layers.Dense):
            kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
            dense.append(DenseLayer(kernel, bias, keras.activations.serialize(layer.activation)))
        elif not isinstance(layer, layers.Dropout):
            raise ValueError(f"The head holds a {type(layer).__name__} layer; only Dense and Dropout are understood.")
    return dense
