"""A stored heatmap drawn as an image (Pillow and NumPy only: the web process renders these, and it never
loads TensorFlow).

A heatmap is a class activation map a few cells a side (7x7 for MobileNetV2), stored as rows of whole
numbers from 0 to 255, brighter meaning more important. The model saw the upright photo squashed to a square,
so the grid covers the whole photo whatever its shape: stretching it to the photo's width and height puts
each cell back over the part of the photo it stands for. The stretch is bicubic, so that the image shows a
smooth map rather than a board of squares that would suggest a precision the grid does not have.
"""

import io

import numpy as np
from PIL import Image

# Matplotlib's "inferno" colormap (CC0; by Nathaniel Smith and Stefan van der Walt): every 16th of its 256
# colours, and its last. Perceptually uniform (equal steps in value look like equal steps in colour), dark to
# bright, and still readable in grayscale and by people with the common colour-vision deficiencies; a
# rainbow ("jet") draws edges that are not in the data. Linear steps between these stay within 7/255 of it.
_INFERNO_ANCHORS = np.array(
    [
        [0, 0, 4], [11, 7, 36], [33, 12, 74], [61, 9, 101], [87, 16, 110], [113, 25, 110],
        [138, 34, 106], [163, 44, 97], [188, 55, 84], [210, 70, 68], [228, 90, 49], [241, 115, 29],
        [249, 142, 9], [252, 172, 17], [249, 203, 53], [242, 234, 105], [252, 255, 164],
    ],
    dtype=np.float64,
)  # fmt: skip
_ANCHOR_AT = np.array([*range(0, 256, 16), 255], dtype=np.float64)
# One colour per heatmap value (256 x RGB): COLORMAP[values] colours an array of them.
COLORMAP = (
    np.stack([np.interp(np.arange(256), _ANCHOR_AT, _INFERNO_ANCHORS[:, channel]) for channel in range(3)], axis=1)
    .round()
    .astype(np.uint8)
)

# The overlay's opacity runs from the first (value 0) to the second (value 255): the coldest parts are
# dimmed a little, so the hot ones stand out, and even the hottest leave the photo visible underneath.
OPACITY = (0.25, 0.7)
_OVERLAY_PALETTE = np.column_stack(
    [COLORMAP, np.rint(255 * np.linspace(OPACITY[0], OPACITY[1], 256)).astype(np.uint8)]
).tobytes()  # RGBA for each value 0..255
MAX_SIDE = 4096  # pixels a side at most: the images are for pages, and a bigger one only costs memory


class HeatmapError(ValueError):
    """A stored heatmap, or a size, that cannot be drawn; the message says why."""


def heatmap_array(grid) -> np.ndarray:
    """`grid` (rows of whole numbers from 0 to 255, all of the same length) as a 2-D uint8 array."""
    try:
        values = np.asarray(grid)
    except ValueError:  # rows of different lengths
        raise HeatmapError("A heatmap's rows must all have the same length.") from None
    if values.ndim != 2 or values.size == 0:
        raise HeatmapError("A heatmap is a non-empty list of rows of numbers.")
    if values.dtype.kind not in "iu":
        raise HeatmapError("A heatmap holds whole numbers from 0 to 255.")
    if values.min() < 0 or values.max() > 255:
        raise HeatmapError(f"A heatmap holds whole numbers from 0 to 255, not {values.min()} to {values.max()}.")
    return values.astype(np.uint8)


def upsampled(grid, width: int, height: int) -> np.ndarray:
    """The heatmap stretched to `width` x `height` pixels (bicubic), as a (height, width) uint8 array."""
    values = heatmap_array(grid)
    for name, side in (("width", width), ("height", height)):
        if not isinstance(side, int) or not 1 <= side <= MAX_SIDE:
            raise HeatmapError(f"A heatmap image's {name} must be a whole number from 1 to {MAX_SIDE}, not {side!r}.")
    image = Image.fromarray(values).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image)


def grayscale_png(grid, width: int, height: int) -> bytes:
    """A grayscale PNG (mode L) of `width` x `height`: the heatmap stretched over the photo's shape,
    brighter where it mattered more. Raises HeatmapError for a grid or size it cannot draw."""
    return _png(Image.fromarray(upsampled(grid, width, height)))


def overlay_png(grid, width: int, height: int) -> bytes:
    """A coloured, partly transparent PNG of `width` x `height` to lay over the photo shown at any size with
    the same shape: each pixel coloured by the inferno colormap from its heatmap value (dark purple for
    little, yellow for much), and more opaque the higher the value (OPACITY). Raises HeatmapError for a
    grid or size it cannot draw.

    A value has one colour and one opacity, so the PNG is a palette of 256 RGBA entries (PLTE and tRNS)
    and one byte a pixel: browsers and Pillow's convert("RGBA") read it as RGBA, at under half the size of
    a four-byte RGBA PNG (39 KB against 89 KB at 320x240) and in less time (3.4 ms against 4.5 ms here).
    """
    return coloured_png(upsampled(grid, width, height))


def coloured_png(levels: np.ndarray) -> bytes:
    """The overlay PNG (see overlay_png) of a (height, width) uint8 array of heatmap values already at size."""
    height, width = levels.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(levels, dtype=np.uint8).tobytes())
    image.putpalette(_OVERLAY_PALETTE, rawmode="RGBA")
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # The least compression: made on every request, in half the time of Pillow's default level, for a
    # file about a tenth bigger.
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()
