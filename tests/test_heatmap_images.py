"""A stored heatmap grid drawn as a PNG for the pages: stretched smoothly over the photo's shape, grayscale or
a coloured, partly transparent overlay; grids and sizes it cannot draw are refused with a sentence."""

import io

import numpy as np
import pytest
from PIL import Image

from trainer.heatmap_images import COLORMAP, HeatmapError, grayscale_png, overlay_png


def _grid(hot: tuple[int, int], side: int = 7) -> list[list[int]]:
    """A grid dark everywhere but one cell (row, column)."""
    return [[255 if (row, column) == hot else 0 for column in range(side)] for row in range(side)]


def _open(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image)


def test_the_grayscale_image_is_the_grid_stretched_over_the_photos_shape():
    pixels = _open(grayscale_png(_grid((0, 6)), 300, 120))
    assert pixels.shape == (120, 300)  # mode L, height x width
    row, column = np.unravel_index(pixels.argmax(), pixels.shape)
    # The top right cell covers the top right seventh of the photo, whatever its shape.
    assert row < 120 / 7 and column > 300 * 6 / 7
    assert pixels[-1, 0] == 0


def test_the_stretch_is_smooth_not_a_board_of_squares():
    pixels = _open(grayscale_png(_grid((3, 3)), 280, 280)).astype(int)
    middle_row = pixels[140]
    # Bicubic: the values fall off gradually from the hot cell, with many levels in between.
    assert len(np.unique(middle_row)) > 20
    assert np.abs(np.diff(middle_row)).max() < 40


def test_the_overlay_is_coloured_and_more_opaque_where_the_model_looked():
    png = overlay_png(_grid((3, 0)), 210, 140)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))  # as a browser reads it
    assert pixels.shape == (140, 210, 4)
    hot, cold = pixels[70, 2], pixels[70, -3]
    assert hot[3] > cold[3]  # alpha
    assert tuple(hot[:3]) == tuple(COLORMAP[255]) and tuple(cold[:3]) == tuple(COLORMAP[0])
    assert 0 < cold[3] < hot[3] < 255  # the photo always shows through, and its cold parts are dimmed


def test_the_colormap_gets_lighter_step_by_step():
    """A perceptual map: its lightness (CIE L*) rises with the value, so a bigger number always looks
    brighter (a rainbow map does not, and draws edges that are not in the data)."""
    assert COLORMAP.shape == (256, 3)
    srgb = COLORMAP / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    luminance = linear @ [0.2126, 0.7152, 0.0722]
    lightness = np.where(luminance > 216 / 24389, 116 * np.cbrt(luminance) - 16, luminance * 24389 / 27)
    assert np.all(np.diff(lightness) > 0)
    assert lightness[0] < 5 and lightness[-1] > 95


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ([[1, 2], [3]], "same length"),
        ([], "non-empty list of rows"),
        ([1, 2, 3], "non-empty list of rows"),
        ([[0.5, 1.0], [0.0, 0.2]], "whole numbers"),
        ([[0, 256], [0, 0]], "not 0 to 256"),
        ([[-1, 0], [0, 0]], "not -1 to 0"),
        ("not a grid", "non-empty list of rows"),
    ],
)
def test_a_grid_that_is_not_a_heatmap_is_refused(grid, message):
    for draw in (grayscale_png, overlay_png):
        with pytest.raises(HeatmapError, match=message):
            draw(grid, 10, 10)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, -1), (5000, 10), (10.5, 10), ("10", 10)])
def test_a_size_it_cannot_draw_is_refused(width, height):
    with pytest.raises(HeatmapError, match="must be a whole number from 1 to 4096"):
        overlay_png(_grid((0, 0)), width, height)
