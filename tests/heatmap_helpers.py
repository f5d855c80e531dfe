"""Reading the heatmaps the tests get back."""

import io

import numpy as np
from PIL import Image

from classifier.models import Prediction


def stored_heatmap(prediction: Prediction) -> np.ndarray:
    """The stored heatmap's pixels, (height, width)."""
    with prediction.heatmap.open("rb") as f, Image.open(f) as image:
        assert (image.format, image.mode) == ("PNG", "L")
        return np.asarray(image)


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image)
