"""Upload checks by content, never by file name: shared by the upload form and the REST API.

The web process checks every photo in full (format, size, pixel count from the header, every byte of
compressed data decoded so that a truncated or corrupt file is refused, a thumbnail made) but decodes a
JPEG at a reduced scale: libjpeg still reads and entropy-decodes all of it, and skips the full-size
pixels nobody here looks at. Pillow's own decompression-bomb guard stays on.
"""

import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from PIL import Image

from trainer.ml.images import ACCEPTED_FORMATS, to_rgb

THUMBNAIL_SIZE = (320, 320)

# Pillow's format names, as file extensions users know and as the Content-Type the photo is served with.
# A table of our own: Pillow's Image.MIME fills only once a process has opened an image.
_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "MPO": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "GIF": ("gif", "image/gif"),
}


def content_type_of(image_format: str) -> str:
    """The Content-Type of a photo whose Pillow format is `image_format`."""
    return _FORMATS.get(image_format, ("bin", "application/octet-stream"))[1]


@dataclass
class CheckedImage:
    upload: UploadedFile
    format: str
    width: int
    height: int
    thumbnail: bytes  # JPEG, upright, no EXIF: safe to show and cheap to list

    @property
    def extension(self) -> str:
        return _FORMATS[self.format][0]


def check_image_upload(upload: UploadedFile) -> CheckedImage:
    """Return the decoded facts of an uploaded photo, or raise ValidationError saying what is wrong."""
    name = upload.name or "the file"
    limit = settings.CATDOG_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise ValidationError(
            f"{name} is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}.",
            code="too_large",
        )
    if upload.size == 0:
        raise ValidationError(f"{name} is empty.", code="empty")
    upload.seek(0)
    try:
        image = Image.open(upload)
        image_format = image.format
        width, height = image.size
    except Image.DecompressionBombError as error:  # Pillow's own guard, left on: it refuses before we can
        raise _too_many_pixels(name, _size_in(error)) from None
    except (OSError, SyntaxError, ValueError):
        raise ValidationError(
            f"{name} is not an image we can read. Upload a JPEG, PNG, WebP, BMP or GIF photo.", code="not_an_image"
        ) from None
    if image_format not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"{name} is a {image_format} image; upload a JPEG, PNG, WebP, BMP or GIF photo.", code="bad_format"
        )
    # Checked from the header, before any pixel is decoded: a small file can unpack to gigabytes.
    if width * height > settings.CATDOG_MAX_IMAGE_PIXELS:
        raise _too_many_pixels(name, f"is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels)")
    try:
        # Decoding all the data is the only way to find a truncated or corrupt file. A JPEG is decoded
        # at the smallest scale (1/2 to 1/8) that still covers the thumbnail: every byte is read and
        # entropy-decoded all the same. The box is square so that an EXIF rotation cannot shrink it.
        side = max(THUMBNAIL_SIZE)
        image.draft("RGB", (side, side))
        image.load()
        thumbnail = _make_thumbnail(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(f"{name} is damaged or incomplete and cannot be decoded.", code="corrupt") from None
    finally:
        upload.seek(0)
    return CheckedImage(upload=upload, format=image_format, width=width, height=height, thumbnail=thumbnail)


def _too_many_pixels(name: str, size: str) -> ValidationError:
    limit = settings.CATDOG_MAX_IMAGE_PIXELS / 1e6
    return ValidationError(f"{name} {size}; the limit is {limit:.0f} megapixels.", code="too_many_pixels")


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
