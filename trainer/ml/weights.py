"""Where MobileNetV2's ImageNet weights come from (CATDOG_MOBILENET_WEIGHTS), checked without TensorFlow.

Three sources: a saved catdog model (`.keras`) whose frozen backbone is copied layer by layer (the
default is the shipped model, which the repository carries, so training needs no download); a Keras
weights file (`.h5`); or "imagenet", which Keras downloads.
"""

from pathlib import Path

IMAGENET = "imagenet"


class WeightsUnavailable(Exception):
    """MobileNetV2 cannot get its weights; the message says what to change, in words an admin can act on."""


def is_saved_model(weights: str) -> bool:
    return str(weights).endswith(".keras")


def check_weights(weights: str) -> None:
    """Raise WeightsUnavailable if `weights` names a file that is not here (a download is tried later)."""
    if weights == IMAGENET:
        return
    if not Path(weights).is_file():
        raise WeightsUnavailable(
            f"The MobileNetV2 weights file {weights} (CATDOG_MOBILENET_WEIGHTS) is not on this machine. "
            "Unset CATDOG_MOBILENET_WEIGHTS to start from the backbone of the shipped model, or set it to a "
            "weights file that exists here."
        )
