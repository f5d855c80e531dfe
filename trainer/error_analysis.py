"""A version's error analysis as plain values for the admin's pages: the test photos behind each cell of
its confusion matrix, its most confident mistakes, and where catdog keeps each photo. Reads only.

The rows are TestPhotoResults, one per test photo, written when the version was trained (only those of its
own test photos: `own_test_results`). A row names its
photo by content (SHA-256), so the photo is found among the images of any dataset catdog keeps; photos
measured from outside the datasets (the shipped model's test photos) have no kept copy.
"""

from dataclasses import dataclass

from django.db.models import Count, F, QuerySet
from PIL import Image

from . import images
from .ml import OTHER, UNSURE
from .models import DatasetImage, ModelVersion, TestPhotoResult

PER_PAGE = 60
IMAGE_SIDE = 320  # the heatmap image's longer side: the size of the thumbnails it is laid over

VERDICT_WORDS = {UNSURE: "Not sure", OTHER: "None of its classes", "": "None (no calibration)"}


def own_test_results(version: ModelVersion) -> QuerySet[TestPhotoResult]:
    """The version's answers on its own test photos; its answers on the test sets it was measured on later,
    to compare it with another version (trainer/actions/promotion.py), are not its error analysis."""
    return version.test_results.filter(test_sha256=version.test_sha256)


def cell_counts(version: ModelVersion) -> dict[tuple[str, str], int]:
    """How many test photos of each true class got each answer: {(true, predicted): count}."""
    counts = own_test_results(version).values_list("true_label", "predicted_label").annotate(n=Count("id")).order_by()
    return {(true, predicted): n for true, predicted, n in counts}


def cell_results(version: ModelVersion, true_label: str, predicted_label: str) -> QuerySet[TestPhotoResult]:
    """The test photos of `true_label` answered `predicted_label`, the most confident answers first."""
    cell = own_test_results(version).filter(true_label=true_label, predicted_label=predicted_label)
    return cell.order_by("-confidence", "id")


def mistakes(version: ModelVersion) -> QuerySet[TestPhotoResult]:
    """Every wrong answer, the most confident first: those are the ones a person should look at."""
    return own_test_results(version).exclude(predicted_label=F("true_label")).order_by("-confidence", "id")


def kept_photos(version: ModelVersion, sha256s) -> dict[str, DatasetImage]:
    """The kept image of each content hash that catdog has, in one query.

    The same content may be kept by several datasets; any copy shows the same photo, so the one with a
    thumbnail (cheaper to send) wins, then the copy in the dataset the version was measured on.
    """
    measured_on = {version.test_dataset_id, version.dataset_id} - {None}

    def rank(image: DatasetImage):
        return (not image.thumbnail, image.dataset_id not in measured_on, image.pk)

    photos: dict[str, DatasetImage] = {}
    for image in sorted(DatasetImage.objects.filter(sha256__in=set(sha256s)), key=rank):
        photos.setdefault(image.sha256, image)
    return photos


@dataclass
class AnsweredPhoto:
    """One test photo as its page shows it."""

    result: TestPhotoResult
    photo: DatasetImage | None  # None: catdog does not keep it
    probabilities: list[tuple[str, float]]  # every class of the version, in its order, in percent
    verdict: str  # in words
    wrong: bool


def answered_photos(version: ModelVersion, results) -> list[AnsweredPhoto]:
    """`results` (a page of rows) with their kept photos and their numbers in words."""
    results = list(results)
    photos = kept_photos(version, [result.sha256 for result in results])
    return [
        AnsweredPhoto(
            result=result,
            photo=photos.get(result.sha256),
            probabilities=[(name, 100 * result.probabilities.get(name, 0.0)) for name in version.class_names],
            verdict=VERDICT_WORDS.get(result.verdict, result.verdict),
            wrong=result.true_label != result.predicted_label,
        )
        for result in results
    ]


def upright_size(image: DatasetImage) -> tuple[int, int]:
    """The photo's width and height as people (and the model) see it, or as near as its thumbnail says.

    A thumbnail is upright, and it is what the page shows: its own size fits the heatmap to it exactly.
    Without one, the stored size is the file's own, before its EXIF orientation turns it (a phone's
    portrait photo is often stored on its side), so the file's header says which way round it is.
    """
    try:
        if image.thumbnail:
            with image.thumbnail.storage.open(image.thumbnail.name, "rb") as file, Image.open(file) as picture:
                return picture.size
        with image.file.storage.open(image.file.name, "rb") as file:
            return images.upright_size(file)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return image.width, image.height  # a file gone from storage: its recorded shape is the best there is


def image_size(width: int, height: int, longest: int = IMAGE_SIDE) -> tuple[int, int]:
    """`width` x `height` scaled so that its longer side is `longest`, its shape kept."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
