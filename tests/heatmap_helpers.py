"""Reading the heatmaps the tests get back, and making the heatmap file of an answer from before grids were
stored with the answer."""

import io

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from classifier.heatmaps import render_grayscale
from classifier.models import Prediction


def stored_heatmap(prediction: Prediction) -> np.ndarray:
    """The stored heatmap file's pixels, (height, width)."""
    with prediction.heatmap.open("rb") as f, Image.open(f) as image:
        assert (image.format, image.mode) == ("PNG", "L")
        return np.asarray(image)


def png_pixels(data: bytes, mode: str = "L") -> np.ndarray:
    """A PNG's pixels in `mode`: "L" for the grayscale heatmap, "RGBA" for the overlay (a palette PNG)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert(mode))


def as_answered_before_grids(prediction: Prediction, grid: list[list[int]] | None = None) -> Prediction:
    """The prediction as an answer from before the grid was stored left it: its heatmap a grayscale PNG file
    (drawn from `grid`, else its own grid), no grid and no upright size."""
    png = render_grayscale(grid or prediction.heatmap_grid, prediction.upright_size)
    prediction.heatmap.save("heatmap.png", ContentFile(png), save=False)
    Prediction.objects.filter(pk=prediction.pk).update(
        heatmap=prediction.heatmap.name, heatmap_grid=[], upright_width=None, upright_height=None
    )
    prediction.refresh_from_db()
    return prediction
