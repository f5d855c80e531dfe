"""Upload checks, shared by the upload form and the REST API: the checks of trainer/images.py (and, for the API's zip
of photos, trainer/zipfiles.py), given as the ValidationError a form or a serializer shows the person who uploaded
the photo."""

import io
import shutil
import tempfile
from dataclasses import dataclass
from zipfile import ZipFile, ZipInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from trainer.images import ImageFacts, ImageRefused, check_image
from trainer.zipfiles import READ_ERRORS, ArchiveRefused, open_zip, zip_contents


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


@dataclass
class CheckedZip:
    """The photos of a zip that passed the upload checks, and the entries refused, each with its reason."""

    images: list[CheckedImage]
    rejected: list[tuple[str, str]]  # (the entry's name in the archive, why)


def check_zip_upload(upload: UploadedFile) -> CheckedZip:
    """The photos of an uploaded zip, checked as uploads are, within the upload page's limits: at most
    CATDOG_MAX_FILES_PER_UPLOAD photos of at most CATDOG_MAX_UPLOAD_BYTES each. The archive is read as dataset
    archives are (trainer/zipfiles.py): a zip bomb, or more photos or bytes than the limits, refuse it whole; an
    entry leading out of the archive, a link or an encrypted entry is rejected with its reason. ValidationError when
    nothing in it can be used, listing why for each entry."""
    max_files, max_photo_bytes = settings.CATDOG_MAX_FILES_PER_UPLOAD, settings.CATDOG_MAX_UPLOAD_BYTES
    name = upload.name or "the archive"
    if upload.size > max_files * max_photo_bytes:
        limit = filesizeformat(max_files * max_photo_bytes)
        raise ValidationError(f"{name} is {filesizeformat(upload.size)}; an archive may be at most {limit}.")
    try:
        archive = open_zip(upload.file)
        contents = zip_contents(
            archive,
            max_files=max_files,
            max_bytes=max_files * max_photo_bytes,
            max_ratio=settings.CATDOG_DATASET_MAX_COMPRESSION_RATIO,
        )
    except ArchiveRefused as refused:
        raise ValidationError(f"{name}: {refused}") from None
    checked = CheckedZip(images=[], rejected=list(contents.set_aside))
    for parts, info in contents.entries:
        try:
            checked.images.append(check_image_upload(_unpacked(archive, info, parts)))
        except ValidationError as error:
            checked.rejected.append((info.filename, error.messages[0]))
    if not checked.images:
        reasons = [f"{entry}: {reason}" for entry, reason in checked.rejected]
        raise ValidationError([f"{name} holds no photo that can be used.", *reasons])
    return checked


def _unpacked(archive: ZipFile, info: ZipInfo, parts: tuple[str, ...]) -> UploadedFile:
    """An entry as an uploaded file named as in the archive, in memory when small, else in a temporary file. Its
    size in the archive's directory bounds what is read (zipfile stops there and checks the CRC)."""
    if info.file_size > settings.CATDOG_MAX_UPLOAD_BYTES:
        # Not read: check_image_upload refuses it by its size alone.
        return UploadedFile(io.BytesIO(), name=parts[-1], size=info.file_size)
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    try:
        with archive.open(info) as entry:
            shutil.copyfileobj(entry, spool)
    except READ_ERRORS as error:
        spool.close()
        raise ValidationError(f"{parts[-1]} cannot be unpacked ({error}).") from None
    spool.seek(0)
    return UploadedFile(spool, name=parts[-1], size=info.file_size)
