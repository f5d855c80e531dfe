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


def png_pixels(data: bytes, mode: str = "L") -> np.ndarray:
    """A PNG's pixels in `mode`: "L" for the grayscale heatmap, "RGBA" for the overlay (a palette PNG)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert(mode))
