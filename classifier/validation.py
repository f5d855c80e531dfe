"""Upload checks, shared by the upload form and the REST API: the checks of trainer/images.py, given as
the ValidationError a form or a serializer shows the person who uploaded the photo."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from trainer.images import ImageFacts, ImageRefused, check_image


@dataclass
class CheckedImage(ImageFacts):
    upload: UploadedFile


def check_image_upload(upload: UploadedFile) -> CheckedImage:
    """Return the decoded facts of an uploaded photo, or raise ValidationError saying what is wrong."""
    try:
        facts = check_image(upload, upload.name or "the file", upload.size)
    except ImageRefused as refused:
        raise ValidationError(str(refused), code=refused.code) from None
    return CheckedImage(**vars(facts), upload=upload)
