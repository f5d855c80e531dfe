"""Where the model looked: class activation maps from one forward pass, with NumPy only.

The served model (trainer/ml/serving.py) gives the last feature maps A (h, w, k) and their average
f (k), which the head's dense layers turn into class scores. Grad-CAM weighs each map by the gradient
of the class's score with respect to it: with a global average pooling in between, that is the
gradient with respect to f divided by h * w, the same for every cell. For a head of dense layers
that gradient is a product of their kernels (ReLU layers gated where they were active), so it is
computed here exactly, without TensorFlow or any engine's gradients. For a head of one softmax
layer, as MobileNetV2's, it is the class's kernel column: Grad-CAM is then exactly CAM (Zhou et al.,
2016). The map keeps the positive part and is scaled to 0..1 by its largest cell.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class DenseLayer:
    kernel: np.ndarray  # (inputs, outputs)
    bias: np.ndarray  # (outputs,)
    activation: str  # Keras's name: "relu", "softmax", "linear"…


def class_activation_maps(
    feature_maps: np.ndarray, features: np.ndarray, head: list[DenseLayer], classes: np.ndarray
) -> np.ndarray:
    """The (n, h, w) maps in 0..1 of class `classes[i]` for photo i, from (n, h, w, k) maps and (n, k) features."""
    feature_maps = np.asarray(feature_maps, dtype=np.float32)
    weights = np.stack([_score_gradient(f, head, int(c)) for f, c in zip(features, classes, strict=True)])
    maps = np.maximum(np.einsum("nhwk,nk->nhw", feature_maps, weights), 0.0)
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    return maps / np.where(peaks > 0, peaks, 1.0)[:, np.newaxis, np.newaxis]


def _score_gradient(features: np.ndarray, head: list[DenseLayer], target: int) -> np.ndarray:
    """d(score of `target`)/d(features), the score being the last layer's input to its softmax."""
    gates = []
    x = np.asarray(features, dtype=np.float32)
    for layer in head[:-1]:
        x = x @ layer.kernel + layer.bias
        if layer.activation == "relu":
            gates.append(x > 0)
            x = np.maximum(x, 0.0)
        elif layer.activation == "linear":
            gates.append(np.ones_like(x, dtype=bool))
        else:
            raise ValueError(f"A hidden {layer.activation} layer is not supported by the heatmap.")
    gradient = head[-1].kernel[:, target]
    for layer, gate in zip(reversed(head[:-1]), reversed(gates), strict=True):
        gradient = layer.kernel @ (gradient * gate)
    return gradient


def to_bytes(heatmap: np.ndarray) -> list[list[int]]:
    """A 0..1 map as rows of 0..255 integers, for storing beside a test photo's answer."""
    return np.rint(np.clip(heatmap, 0.0, 1.0) * 255).astype(int).tolist()


def save_head(head: list[DenseLayer], path) -> None:
    """The head's dense layers as a NumPy archive: the file prediction workers read beside an engine's model."""
    arrays = {f"kernel_{i}": layer.kernel for i, layer in enumerate(head)}
    arrays |= {f"bias_{i}": layer.bias for i, layer in enumerate(head)}
    np.savez(path, activations=np.array([layer.activation for layer in head]), **arrays)


def load_head(path) -> list[DenseLayer]:
    """The dense layers `save_head` wrote."""
    with np.load(path, allow_pickle=False) as archive:
        activations = [str(name) for name in archive["activations"]]
        return [
            DenseLayer(archive[f"kernel_{i}"], archive[f"bias_{i}"], activation)
            for i, activation in enumerate(activations)
        ]
