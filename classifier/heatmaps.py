"""Heatmaps as pictures: the model's coarse grid (7x7 for MobileNetV2), stored with the answer, drawn on request
as a grayscale PNG over the upright photo, or as the coloured, see-through version the detail page lays over
the photo. Pillow and NumPy only: the web process draws them, the prediction worker only stores the grid.

The model sees the whole upright photo squashed to a square (trainer/images.py `load_for_model`), so cell
(i, j) of the grid covers the same share of the photo however wide it is: stretching the grid to the
photo's own proportions puts every cell back over the part of the photo it came from.
"""

from typing import BinaryIO

import numpy as np
from PIL import Image

from trainer.heatmap_images import coloured_png, grayscale_png, overlay_png
from trainer.ml.heatmaps import to_bytes

# Long enough to follow a subject's outline once smoothed, small enough to cost a few milliseconds and a
# few kilobytes; a smaller photo keeps its own size.
LONG_SIDE = 512


def heatmap_size(photo_size: tuple[int, int], long_side: int = LONG_SIDE) -> tuple[int, int]:
    """The picture's (width, height): the photo's proportions, its long side at most `long_side`."""
    width, height = photo_size
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def stored_grid(heatmap: np.ndarray | None) -> list[list[int]]:
    """The (h, w) 0..1 map as a prediction stores it: rows of whole numbers from 0 to 255, a few dozen bytes;
    an empty list for an answer without one."""
    if heatmap is None:
        return []
    grid = np.asarray(heatmap, dtype=np.float32)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"A heatmap is a non-empty 2-D grid; this one has shape {grid.shape}.")
    return to_bytes(grid)


def render_grayscale(grid: list[list[int]], photo_size: tuple[int, int]) -> bytes:
    """A PNG of the stored grid stretched over the upright photo's `photo_size`; brighter = weighed more.

    Bicubic upsampling (trainer/heatmap_images.py, which also draws the test photos' heatmaps in the admin): the
    blocky grid would suggest edges the model never saw. Raises HeatmapError for a grid it cannot draw.
    """
    return grayscale_png(grid, *heatmap_size(photo_size))


def render_overlay(grid: list[list[int]], photo_size: tuple[int, int]) -> bytes:
    """The stored grid in colour (inferno), more opaque where it weighed more, as a PNG of the grayscale's size.

    A palette image with an alpha per entry (trainer/heatmap_images.py): the 256 levels map to 256 colours
    exactly, for a quarter of the pixels of RGBA to compress.
    """
    return overlay_png(grid, *heatmap_size(photo_size))


def render_overlay_of_file(grayscale: BinaryIO) -> bytes:
    """The overlay of an answer from before grids were stored, from its stored grayscale PNG."""
    with Image.open(grayscale) as image:
        return coloured_png(np.asarray(image.convert("L")))
