"""Photos, by content and never by file name: checking one, and decoding one into model input.

Pillow and NumPy only, no TensorFlow: the web process checks uploads with it (classifier/validation.py),
dataset ingestion checks every image of a dataset with it (trainer/datasets/), and training
(trainer/ml/data.py) and serving (classifier/inference.py) decode with the same `load_for_model`, so that
the two cannot drift.

A check reads a photo in full (format, size, pixel count from the header, every byte of compressed data
decoded so that a truncated or corrupt file is refused, a thumbnail made) but decodes a JPEG at a reduced
scale: libjpeg still reads and entropy-decodes all of it, and skips the full-size pixels nobody here looks
at. Pillow's own decompression-bomb guard stays on.
"""

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from PIL import ExifTags, Image, ImageOps

THUMBNAIL_SIZE = (320, 320)

# Formats a phone or a browser produces that Pillow decodes (MPO is how Pillow names many phone JPEGs),
# as file extensions people know and as the Content-Type the photo is served with. A table of our own:
# Pillow's Image.MIME fills only once a process has opened an image.
_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "MPO": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "GIF": ("gif", "image/gif"),
}
ACCEPTED_FORMATS = frozenset(_FORMATS)
_ACCEPTED_IN_WORDS = "a JPEG, PNG, WebP, BMP or GIF photo"


def content_type_of(image_format: str) -> str:
    """The Content-Type of a photo whose Pillow format is `image_format`."""
    return _FORMATS.get(image_format, ("bin", "application/octet-stream"))[1]


def content_type_of_name(name: str) -> str:
    """The Content-Type of a photo catdog stored under `name`, from the extension it gave the file."""
    extension = name.rpartition(".")[2].lower()
    return next((kind for ext, kind in _FORMATS.values() if ext == extension), "application/octet-stream")


class ImageRefused(Exception):
    """A photo that cannot be used; the message says why, naming the file. `code` names the reason."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass
class ImageFacts:
    """What checking a photo found."""

    format: str
    width: int
    height: int
    thumbnail: bytes  # JPEG, upright, no EXIF: safe to show and cheap to list

    @property
    def extension(self) -> str:
        return _FORMATS[self.format][0]


def check_image(file: BinaryIO, name: str, size: int) -> ImageFacts:
    """The decoded facts of the photo `file` (of `size` bytes) holds, or ImageRefused saying what is wrong.

    Reads `file` from its start and leaves it there.
    """
    limit = settings.CATDOG_MAX_UPLOAD_BYTES
    if size > limit:
        raise ImageRefused(f"{name} is {filesizeformat(size)}; the limit is {filesizeformat(limit)}.", "too_large")
    if size == 0:
        raise ImageRefused(f"{name} is empty.", "empty")
    file.seek(0)
    try:
        image = _open(file, name)
        width, height = image.size
        # Decoding all the data is the only way to find a truncated or corrupt file. A JPEG is decoded
        # at the smallest scale (1/2 to 1/8) that still covers the thumbnail: every byte is read and
        # entropy-decoded all the same. The box is square so that an EXIF rotation cannot shrink it.
        side = max(THUMBNAIL_SIZE)
        image.draft("RGB", (side, side))
        image.load()
        thumbnail = _make_thumbnail(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRefused(f"{name} is damaged or incomplete and cannot be decoded.", "corrupt") from None
    finally:
        file.seek(0)
    return ImageFacts(format=image.format, width=width, height=height, thumbnail=thumbnail)


def _open(file: BinaryIO, name: str) -> Image.Image:
    """The photo opened, its header read and no pixel decoded; refused unless it is an accepted format
    within the pixel limit."""
    try:
        image = Image.open(file)
    except Image.DecompressionBombError as error:  # Pillow's own guard, left on: it refuses before we can
        raise _too_many_pixels(name, _size_in(error)) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageRefused(
            f"{name} is not an image we can read. Upload {_ACCEPTED_IN_WORDS}.", "not_an_image"
        ) from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRefused(f"{name} is a {image.format} image; upload {_ACCEPTED_IN_WORDS}.", "bad_format")
    # Checked from the header, before any pixel is decoded: a small file can unpack to gigabytes.
    width, height = image.size
    if width * height > settings.CATDOG_MAX_IMAGE_PIXELS:
        raise _too_many_pixels(name, f"is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels)")
    return image


def _too_many_pixels(name: str, size: str) -> ImageRefused:
    limit = settings.CATDOG_MAX_IMAGE_PIXELS / 1e6
    return ImageRefused(f"{name} {size}; the limit is {limit:.0f} megapixels.", "too_many_pixels")


def _size_in(error: Image.DecompressionBombError) -> str:
    """The size Pillow's message gives ("Image size (400000000 pixels) exceeds limit…")."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return f"is {int(found.group(1)) / 1e6:.0f} megapixels" if found else "has too many pixels"


def _make_thumbnail(image: Image.Image) -> bytes:
    picture = to_rgb(image)
    picture.thumbnail(THUMBNAIL_SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85, optimize=True)  # saved without any EXIF
    return out.getvalue()


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


# EXIF orientations that turn the photo a quarter: ImageOps.exif_transpose swaps its sides for these.
_QUARTER_TURNS = {5, 6, 7, 8}


def upright_size(file: BinaryIO) -> tuple[int, int]:
    """(width, height) of a photo as people (and the model) see it, EXIF orientation applied, from its header
    alone: the sizes catdog records are the file's own, before any turn (`check_image`)."""
    with Image.open(file) as image:
        return _upright(image.size, image)


def _upright(size: tuple[int, int], image: Image.Image) -> tuple[int, int]:
    """`size`, a (width, height) of `image` as stored, turned as its EXIF orientation turns the photo."""
    turned = image.getexif().get(ExifTags.Base.Orientation, 1) in _QUARTER_TURNS
    return (size[1], size[0]) if turned else size


def load_for_model(source: str | BinaryIO | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Decode a photo into a (height, width, 3) uint8 array of the model's input size: the whole of
    preprocessing for training and serving alike (the model itself rescales pixel values)."""
    return decode_for_model(source, size)[0]


def decode_for_model(source: str | BinaryIO | Image.Image, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """`load_for_model`'s pixels, and the photo's upright (width, height) at full size as `upright_size` gives
    it, from the same opening of the file: a prediction's heatmap is drawn to the upright photo's proportions."""
    image = source if isinstance(source, Image.Image) else Image.open(source)
    stored = image.size  # before `draft` shrinks it
    height, width = size
    if image.format in ("JPEG", "MPO"):
        # Let libjpeg decode at a reduced scale (1/2 to 1/8): much faster for large photos, at no
        # cost in quality since we shrink below the reduced size anyway. The box is square so that
        # an EXIF rotation applied afterwards cannot leave either side too small.
        side = 2 * max(height, width)
        image.draft("RGB", (side, side))
    upright = to_rgb(image).resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    # to_rgb read the orientation already (exif_transpose): Pillow keeps the parsed EXIF on the image.
    return np.asarray(upright, dtype=np.uint8), _upright(stored, image)
