"""Every kind of still image becomes the same upright 8-bit RGB before the model sees it."""

import io

import numpy as np
import pytest
from PIL import Image

from trainer.images import decode_for_model, load_for_model, to_rgb


def _reopen(image: Image.Image, fmt: str, **save_args) -> Image.Image:
    out = io.BytesIO()
    image.save(out, format=fmt, **save_args)
    out.seek(0)
    return Image.open(out)


def _pixel(image: Image.Image) -> tuple:
    return to_rgb(image).getpixel((0, 0))


def test_grayscale_becomes_equal_channels():
    assert _pixel(_reopen(Image.new("L", (4, 4), 77), "PNG")) == (77, 77, 77)


def test_16_bit_grayscale_is_scaled_not_clipped():
    image = Image.new("I;16", (2, 1))
    image.putpixel((0, 0), 65535)
    image.putpixel((1, 0), 32768)
    rgb = to_rgb(_reopen(image, "PNG"))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((1, 0)) == (127, 127, 127)


def test_cmyk_jpeg_keeps_its_colour():
    red = _pixel(_reopen(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100))
    assert red[0] > 230 and red[1] < 30 and red[2] < 30


def test_transparent_png_is_composited_on_white():
    image = Image.new("RGBA", (2, 1), (0, 0, 255, 255))
    image.putpixel((1, 0), (255, 0, 0, 0))  # fully transparent red
    rgb = to_rgb(_reopen(image, "PNG"))
    assert rgb.getpixel((0, 0)) == (0, 0, 255)
    assert rgb.getpixel((1, 0)) == (255, 255, 255)


def test_palette_image_with_a_transparent_colour_is_composited_on_white():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    rgb = to_rgb(_reopen(image, "PNG", transparency=0))
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((1, 0)) == (0, 200, 0)


def test_grayscale_with_alpha():
    rgb = to_rgb(_reopen(Image.new("LA", (1, 1), (10, 0)), "PNG"))
    assert rgb.getpixel((0, 0)) == (255, 255, 255)


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    out.seek(0)
    gif = Image.open(out)
    gif.seek(1)  # even if something moved it on
    r, g, b = to_rgb(gif).getpixel((0, 0))
    assert r > 200 and b < 50


@pytest.mark.parametrize(("orientation", "expected_size"), [(1, (40, 20)), (3, (40, 20)), (6, (20, 40)), (8, (20, 40))])
def test_exif_orientation_is_honoured(orientation, expected_size):
    # Left half black, right half white, as the camera stored it.
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright = to_rgb(_reopen(image, "JPEG", exif=exif, quality=100))
    assert upright.size == expected_size
    if orientation == 6:  # rotated 90° clockwise for display: the black half is now on top
        assert upright.getpixel((10, 5))[0] < 30 and upright.getpixel((10, 35))[0] > 220
    if orientation == 3:  # 180°: black half now on the right
        assert upright.getpixel((5, 10))[0] > 220 and upright.getpixel((35, 10))[0] < 30


def test_load_for_model_gives_the_model_size_in_uint8():
    source = io.BytesIO()
    Image.new("RGB", (1000, 500), (10, 20, 30)).save(source, format="JPEG", quality=95)
    source.seek(0)
    array = load_for_model(source, (224, 160))
    assert array.shape == (224, 160, 3)
    assert array.dtype == np.uint8
    assert np.abs(array.astype(int) - [10, 20, 30]).max() <= 3


def test_load_for_model_applies_exif_rotation_before_resizing():
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    array = load_for_model(_reopen(image, "JPEG", exif=exif, quality=100), (32, 32))
    assert array[4, 16].max() < 40  # top: black
    assert array[28, 16].min() > 215  # bottom: white


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [(None, (1600, 900)), (1, (1600, 900)), (3, (1600, 900)), (5, (900, 1600)), (6, (900, 1600)), (8, (900, 1600))],
)
def test_decoding_for_the_model_gives_the_upright_photos_full_size(orientation, upright):
    """The heatmap is drawn to it: the size as shown (EXIF applied), not the reduced scale libjpeg decoded at."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    source = _reopen(Image.new("RGB", (1600, 900), (90, 90, 90)), "JPEG", exif=exif)
    pixels, size = decode_for_model(source, (224, 224))
    assert pixels.shape == (224, 224, 3)
    assert size == upright


def test_decoding_a_png_gives_its_size():
    assert decode_for_model(_reopen(Image.new("RGBA", (30, 70)), "PNG"), (32, 32))[1] == (30, 70)
