"""Heatmaps as pictures: the model's coarse grid (7x7 for MobileNetV2) as a grayscale PNG over the upright
photo, and the coloured, see-through version the detail page lays over the photo. Pillow and NumPy only:
the web process colours the stored grayscale on request.

The model sees the whole upright photo squashed to a square (trainer/images.py `load_for_model`), so cell
(i, j) of the grid covers the same share of the photo however wide it is: stretching the grid to the
photo's own proportions puts every cell back over the part of the photo it came from.
"""

from typing import BinaryIO

import numpy as np
from PIL import Image

from trainer.heatmap_images import coloured_png, grayscale_png
from trainer.ml.heatmaps import to_bytes

# Long enough to follow a subject's outline once smoothed, small enough to cost a few milliseconds and a
# few kilobytes; a smaller photo keeps its own size.
LONG_SIDE = 512


def heatmap_size(photo_size: tuple[int, int], long_side: int = LONG_SIDE) -> tuple[int, int]:
    """The picture's (width, height): the photo's proportions, its long side at most `long_side`."""
    width, height = photo_size
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_grayscale(heatmap: np.ndarray, photo_size: tuple[int, int]) -> bytes:
    """A PNG of the (h, w) 0..1 map stretched over the upright photo's `photo_size`; brighter = weighed more.

    Bicubic upsampling (trainer/heatmap_images.py, which also draws the test photos' heatmaps in the admin): the
    blocky grid would suggest edges the model never saw.
    """
    grid = np.asarray(heatmap, dtype=np.float32)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"A heatmap is a non-empty 2-D grid; this one has shape {grid.shape}.")
    return grayscale_png(to_bytes(grid), *heatmap_size(photo_size))


def render_overlay(grayscale: BinaryIO) -> bytes:
    """The stored grayscale heatmap in colour (inferno), more opaque where it weighed more, as a PNG.

    A palette image with an alpha per entry (trainer/heatmap_images.py): the 256 levels map to 256 colours
    exactly, for a quarter of the pixels of RGBA to compress. The web process makes it on every request; the
    browser keeps it an hour.
    """
    with Image.open(grayscale) as image:
        return coloured_png(np.asarray(image.convert("L")))
