"""Upload checks by content, never by file name: shared by the upload form and the REST API."""

import io
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from PIL import Image

from trainer.ml.images import ACCEPTED_FORMATS, to_rgb

THUMBNAIL_SIZE = (320, 320)

# Pillow calls these by other names; users know the ones on the right.
_FORMAT_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif"}


@dataclass
class CheckedImage:
    upload: UploadedFile
    format: str
    width: int
    height: int
    thumbnail: bytes  # JPEG, upright, no EXIF: safe to show and cheap to list

    @property
    def extension(self) -> str:
        return _FORMAT_EXTENSIONS[self.format]


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
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            f"{name} is not an image we can read. Upload a JPEG, PNG, WebP, BMP or GIF photo.", code="not_an_image"
        ) from None
    if image_format not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"{name} is a {image_format} image; upload a JPEG, PNG, WebP, BMP or GIF photo.", code="bad_format"
        )
    # Checked from the header, before any pixel is decoded: a small file can unpack to gigabytes.
    if width * height > settings.CATDOG_MAX_IMAGE_PIXELS:
        raise ValidationError(
            f"{name} is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {settings.CATDOG_MAX_IMAGE_PIXELS / 1e6:.0f} megapixels.",
            code="too_many_pixels",
        )
    try:
        # Decoding every pixel is the only way to find a truncated or corrupt file.
        Image.MAX_IMAGE_PIXELS = None  # our own limit above replaces Pillow's warning
        image.load()
        thumbnail = _make_thumbnail(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(f"{name} is damaged or incomplete and cannot be decoded.", code="corrupt") from None
    finally:
        upload.seek(0)
    return CheckedImage(upload=upload, format=image_format, width=width, height=height, thumbnail=thumbnail)


def _make_thumbnail(image: Image.Image) -> bytes:
    picture = to_rgb(image)
    picture.thumbnail(THUMBNAIL_SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85, optimize=True)  # saved without any EXIF
    return out.getvalue()
