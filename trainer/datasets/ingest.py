"""Reading a dataset's source, whichever it is, into a Collection: what the ingestion task runs."""

from ..ml.data import reserved_class_problem
from ..models import Dataset
from .collection import Collection, DatasetRefused
from .folders import collect_folder
from .urls import collect_urls
from .zips import collect_zip

# A worker that takes longer is stopped; only then may another delivery of the task take the dataset over.
INGEST_TIME_LIMIT_SECONDS = 50 * 60  # under the Redis visibility timeout (CATDOG_VISIBILITY_TIMEOUT, 1 h)


def collect(dataset: Dataset, collection: Collection) -> None:
    """Read the dataset's source into `collection`; raise DatasetRefused if the dataset cannot be used.

    Bad files never stop the run: they are skipped and listed. What `collection` stored stays in storage
    either way; the caller decides, with the outcome, what to keep.
    """
    readers = {
        Dataset.Source.ZIP: collect_zip,
        Dataset.Source.FOLDER: collect_folder,
        Dataset.Source.URLS: collect_urls,
    }
    readers[dataset.source](dataset, collection)
    if not collection.per_class:
        raise DatasetRefused("No usable image was found; the report lists what was skipped and why.")
    if len(collection.per_class) < 2:
        [(label, count)] = collection.per_class.items()
        raise DatasetRefused(
            f"Training needs at least two classes, and this dataset has one: {label} ({count} images). "
            "Put each class in its own folder, or name the files <class>.<n>.jpg."
        )
    reserved = reserved_class_problem(collection.class_names)
    if reserved:
        raise DatasetRefused(
            f"{reserved} Rename that class's folder (or the files' prefix, for files named <class>.<n>.jpg) after "
            "what its photos show, and check the dataset again."
        )
