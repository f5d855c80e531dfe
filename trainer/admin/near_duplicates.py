"""A dataset's near-duplicates on its admin page: groups of photos that are the same picture resized,
re-encoded, mirrored or slightly cropped (trainer/near_duplicates.py), the pairs that straddle its frozen
train/test split, and, against a test dataset the admin picks, the training photos a training would leave out.
Computed from the stored fingerprints on each view (about 0.1 s for 2,000 photos, 2 s for 10,000); only reads."""

from dataclasses import dataclass
from pathlib import PurePosixPath

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from ..files import serve_file
from ..images import content_type_of_name
from ..models import Dataset, DatasetImage
from ..near_duplicates import THRESHOLD, Fingerprints, groups, near_pairs

PAIR_LIMIT = 30  # pairs listed in each part of the section; the counts stay exact
_FIELDS = ("id", "dataset_id", "label", "origin", "split", "file", "phash", "phash_mirror", "dhash", "dhash_mirror")


@dataclass
class _Photos:
    images: list[DatasetImage]  # those with a fingerprint
    fingerprints: Fingerprints
    unfingerprinted: int


def _photos(dataset: Dataset) -> _Photos:
    images = list(dataset.images.only(*_FIELDS).order_by("id"))
    hashed = [image for image in images if image.phash and image.dhash]
    rows = [(image.phash, image.phash_mirror, image.dhash, image.dhash_mirror) for image in hashed]
    return _Photos(hashed, Fingerprints.from_hex(rows), len(images) - len(hashed))


def near_duplicate_report(dataset: Dataset, test_dataset: Dataset | None = None) -> dict:
    """The near-duplicates within `dataset` (and across its frozen split), and against `test_dataset`."""
    photos = _photos(dataset)
    pairs = near_pairs(photos.fingerprints)
    found = groups(pairs)
    report = {
        "threshold": THRESHOLD,
        "checked": len(photos.images),
        "unfingerprinted": photos.unfingerprinted,
        "pair_count": len(pairs),
        "group_count": len(found),
        "grouped_count": sum(len(group) for group in found),
        "other_class_pairs": sum(photos.images[i].label != photos.images[j].label for i, j, _ in pairs),
        "pairs": _rows(photos.images, photos.images, pairs),
    }
    if any(image.split for image in photos.images):
        across = [
            (i, j, d) for i, j, d in pairs if {photos.images[i].split, photos.images[j].split} == {"train", "test"}
        ]
        # Listed as (training photo, test photo).
        across = [(i, j, d) if photos.images[i].split == "train" else (j, i, d) for i, j, d in across]
        report["split"] = {"pair_count": len(across), "pairs": _rows(photos.images, photos.images, across)}
    if test_dataset is not None:
        tests = _photos(test_dataset)
        across = near_pairs(photos.fingerprints, tests.fingerprints)
        report["test"] = {
            "dataset": test_dataset,
            "unfingerprinted": tests.unfingerprinted,
            "pair_count": len(across),
            "training_photos": len({i for i, _, _ in across}),
            "pairs": _rows(photos.images, tests.images, across),
        }
    return report


def _rows(first: list[DatasetImage], second: list[DatasetImage], pairs) -> list[dict]:
    closest = sorted(pairs, key=lambda pair: (pair[2], pair[0], pair[1]))[:PAIR_LIMIT]
    return [{"photos": [_photo(first[i]), _photo(second[j])], "distance": distance} for i, j, distance in closest]


def _photo(image: DatasetImage) -> dict:
    return {
        "image": image,
        "url": reverse("admin:trainer_dataset_photo", args=[image.dataset_id, image.pk]),
    }


class NearDuplicatesMixin:
    """The near-duplicate section of DatasetAdmin's page (trainer/admin/datasets.py) and the photos it shows."""

    def near_duplicate_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/images/<int:image_id>/photo/",
                view(self.photo_view, cacheable=True),  # named by content: it never changes
                name="trainer_dataset_photo",
            ),
        ]

    def near_duplicate_context(self, request, dataset: Dataset) -> dict:
        """The section's report for a ready dataset; `?near_duplicates_of=<id>` picks the test dataset to
        compare it with (one of the same classes)."""
        if dataset.status != Dataset.Status.READY:
            return {}
        others = Dataset.objects.filter(status=Dataset.Status.READY).exclude(pk=dataset.pk).order_by("name")
        candidates = [other for other in others if other.class_names == dataset.class_names]
        chosen = request.GET.get("near_duplicates_of", "")
        test_dataset = next((other for other in candidates if str(other.pk) == chosen), None)
        return {
            "near_duplicates": near_duplicate_report(dataset, test_dataset),
            "near_duplicate_candidates": candidates,
            "near_duplicates_of": test_dataset.pk if test_dataset else None,
            "near_duplicates_unknown": bool(chosen) and test_dataset is None,
        }

    def photo_view(self, request, object_id, image_id):
        """One of the dataset's photos, for staff who may see datasets; never served as public media."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        image = get_object_or_404(DatasetImage, pk=image_id, dataset_id=unquote(object_id))
        name = PurePosixPath(image.file.name).name
        return serve_file(image.file, content_type=content_type_of_name(name), download_name=name)
