"""Heatmaps as pictures: the model's coarse grid (7x7 for MobileNetV2) as a grayscale PNG over the upright
photo, and the coloured, see-through version the detail page lays over the photo. Pillow and NumPy only:
the web process colours the stored grayscale on request.

The model sees the whole upright photo squashed to a square (trainer/images.py `load_for_model`), so cell
(i, j) of the grid covers the same share of the photo however wide it is: stretching the grid to the
photo's own proportions puts every cell back over the part of the photo it came from.
"""

import io
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image

# Long enough to follow a subject's outline once smoothed, small enough to cost a few milliseconds and a
# few kilobytes; a smaller photo keeps its own size.
LONG_SIDE = 512

# EXIF orientations that turn the photo a quarter (ImageOps.exif_transpose swaps its sides for these).
_QUARTER_TURNS = {5, 6, 7, 8}

# Matplotlib's "inferno" at nine even steps: perceptually uniform, dark to bright, and readable by the
# colour-blind and in grayscale print. Interpolated linearly into a 256-entry table.
_INFERNO = np.array(
    [
        (0, 0, 4),
        (31, 12, 72),
        (85, 15, 109),
        (136, 34, 106),
        (186, 54, 85),
        (227, 89, 51),
        (249, 140, 10),
        (249, 201, 50),
        (252, 255, 164),
    ],
    dtype=np.float64,
)
# The overlay hides little of the photo where the model did not look and tints it strongly where it did.
_ALPHA_RANGE = (0.15, 0.7)


def _colour_table() -> np.ndarray:
    steps = np.linspace(0.0, 1.0, len(_INFERNO))
    levels = np.linspace(0.0, 1.0, 256)
    rgb = np.stack([np.interp(levels, steps, _INFERNO[:, channel]) for channel in range(3)], axis=1)
    alpha = 255 * (_ALPHA_RANGE[0] + (_ALPHA_RANGE[1] - _ALPHA_RANGE[0]) * levels)
    return np.rint(np.column_stack([rgb, alpha])).astype(np.uint8)


_COLOURS = _colour_table()  # (256, 4) RGBA


def upright_size(photo: BinaryIO) -> tuple[int, int]:
    """(width, height) of the photo as people see it, EXIF orientation applied, from its header alone.

    Prediction.width/height are the stored file's own, before any turn (trainer/images.py `check_image`).
    """
    with Image.open(photo) as image:
        width, height = image.size
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def heatmap_size(photo_size: tuple[int, int], long_side: int = LONG_SIDE) -> tuple[int, int]:
    """The picture's (width, height): the photo's proportions, its long side at most `long_side`."""
    width, height = photo_size
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_grayscale(heatmap: np.ndarray, photo_size: tuple[int, int]) -> bytes:
    """A PNG of the (h, w) 0..1 map stretched over the upright photo's `photo_size`; brighter = weighed more.

    Bicubic upsampling from the cell centres: the blocky grid would suggest edges the model never saw.
    """
    grid = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"A heatmap is a non-empty 2-D grid; this one has shape {grid.shape}.")
    smooth = Image.fromarray(grid).resize(heatmap_size(photo_size), Image.Resampling.BICUBIC)
    # Bicubic overshoots a little around sharp peaks: clipped back to the grid's range.
    levels = np.rint(np.clip(np.asarray(smooth), 0.0, 1.0) * 255).astype(np.uint8)
    return _png(Image.fromarray(levels))


def render_overlay(grayscale_png: BinaryIO) -> bytes:
    """The stored grayscale heatmap in colour (inferno), with an alpha that grows with the weight, as a PNG.

    A palette image with an alpha per entry: the 256 levels map to 256 colours exactly, for a quarter of the
    pixels of RGBA to compress (bench/bench_heatmap.py). The web process makes it on every request; the
    browser keeps it an hour.
    """
    with Image.open(grayscale_png) as image:
        overlay = image.convert("L")
    overlay.putpalette(_COLOURS[:, :3].tobytes(), rawmode="RGB")  # the levels become the palette's indices
    overlay.info["transparency"] = _COLOURS[:, 3].tobytes()
    return _png(overlay)


def _png(image: Image.Image) -> bytes:
    # zlib's fastest level: a third to a fifth of the time of its default (6) for files about 1.5x larger, some
    # 30 to 50 KiB at 512x384 (bench/bench_heatmap.py); the worker makes one after every answer, the web
    # one for every detail page.
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1, transparency=image.info.get("transparency"))
    return out.getvalue()
