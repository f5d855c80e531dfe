"""Near-duplicate fingerprints for the dataset images stored before ingestion took them
(trainer/near_duplicates.py); the fill_fingerprints command runs it."""

from collections.abc import Callable

from django.core.files.storage import default_storage
from PIL import Image

from ..models import Dataset, DatasetImage
from ..near_duplicates import fingerprint_of_file


def do_fingerprint_dataset_images(
    datasets: list[Dataset] | None = None, progress: Callable[[int, int], None] | None = None
) -> tuple[int, list[str]]:
    """Fingerprint the images of `datasets` (every dataset without it) that have no fingerprint yet.

    Rows of the same content share one file (a dataset version names its parent's files) and one fingerprint:
    each file is read once and every row of its content is filled in one UPDATE. Returns how many files were
    fingerprinted and the names of those that could not be read (missing from storage, or undecodable).
    """
    missing = DatasetImage.objects.filter(phash="") | DatasetImage.objects.filter(dhash="")
    if datasets is not None:
        missing = missing.filter(dataset__in=datasets)
    files = dict(missing.order_by("sha256").values_list("sha256", "file").distinct())
    done, unreadable = 0, []
    for n, (sha256, name) in enumerate(files.items(), 1):
        try:
            with default_storage.open(name, "rb") as f:
                found = fingerprint_of_file(f)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            unreadable.append(name)
        else:
            DatasetImage.objects.filter(sha256=sha256).update(
                phash=found.phash, phash_mirror=found.phash_mirror, dhash=found.dhash, dhash_mirror=found.dhash_mirror
            )
            done += 1
        if progress is not None:
            progress(n, len(files))
    return done, unreadable
