"""Decoding photos into model input, shared by training and serving so that the two cannot drift.

Pillow and NumPy only: the web process imports this module to validate uploads, and it must never
pull in TensorFlow.
"""

from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

# Formats a phone or a browser produces that Pillow decodes; MPO is how Pillow names many phone JPEGs.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF"}


def to_rgb(image: Image.Image) -> Image.Image:
    """An upright 8-bit RGB copy of any still image: EXIF orientation applied, transparency on white.

    Handles grayscale (L, I;16, I, F), palette, CMYK, LA/RGBA/PA and the first frame of a GIF.
    """
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and 32-bit grayscale: scale to 8 bits by the real range of the format, not by clipping.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array * (255.0 / top), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, CMYK (Pillow inverts Adobe CMYK JPEGs), YCbCr, LAB, HSV
    return image


def load_for_model(source: str | BinaryIO | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Decode a photo into a (height, width, 3) uint8 array of the model's input size.

    The model itself rescales pixel values, so this is the whole of serving's preprocessing.
    """
    image = source if isinstance(source, Image.Image) else Image.open(source)
    height, width = size
    if image.format in ("JPEG", "MPO"):
        # Let libjpeg decode at a reduced scale (1/2 to 1/8): much faster for large photos, at no
        # cost in quality since we shrink below the reduced size anyway. The box is square so that
        # an EXIF rotation applied afterwards cannot leave either side too small.
        side = 2 * max(height, width)
        image.draft("RGB", (side, side))
    image = to_rgb(image)
    image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)
