"""The trainer app's background work.

Dataset checks go to the "datasets" queue, so that a long training never holds up a dataset and a large
dataset never holds up a training. CELERY_TASK_ROUTES sends all of trainer.tasks to "training"; the
queue given when sending (`enqueue_ingest_dataset`) wins over a route. It is given there and not as the
task's `queue=` attribute, which Celery 5.7 deprecates and 6.0 will ignore.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import F
from django.utils import timezone

from .actions import do_fail_ingestion, do_finish_ingestion
from .datasets import INGEST_TIME_LIMIT_SECONDS, Collection, DatasetRefused, collect, delete_files
from .models import Dataset

logger = logging.getLogger(__name__)

DATASETS_QUEUE = "datasets"
# A dataset whose check killed the worker this many times (out of memory, say) is failed, not retried forever.
MAX_INGEST_ATTEMPTS = 3


# acks_late: a worker that dies mid-check leaves the message to be delivered again, and the new delivery
# takes the dataset over. That is safe because files are named by their content and the final write is
# conditional on this run's claim (see do_finish_ingestion). The hard time limit stays under the broker's
# visibility timeout, so that a message is not handed out twice while its first run is alive.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=INGEST_TIME_LIMIT_SECONDS - 60,
    time_limit=INGEST_TIME_LIMIT_SECONDS,
)
def ingest_dataset(dataset_id: int) -> None:
    claimed_at = timezone.now()
    claimed = Dataset.objects.filter(
        pk=dataset_id, status__in=[Dataset.Status.PENDING, Dataset.Status.PROCESSING]
    ).update(status=Dataset.Status.PROCESSING, started_at=claimed_at, attempts=F("attempts") + 1)
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if not claimed or dataset is None:
        return  # deleted, or finished by an earlier delivery

    collection = Collection(dataset)
    if dataset.attempts > MAX_INGEST_ATTEMPTS:
        error = f"The worker stopped {MAX_INGEST_ATTEMPTS} times while checking this dataset; see the worker's log."
    else:
        try:
            collect(dataset, collection)
        except DatasetRefused as refusal:
            error = str(refusal)
        except SoftTimeLimitExceeded:
            error = f"Checking took longer than {INGEST_TIME_LIMIT_SECONDS // 60} minutes and was stopped."
        except Exception:
            logger.exception("Dataset %s: the check failed", dataset_id)
            error = "The check failed unexpectedly; the worker's log has the details."
        else:
            error = ""

    done = (
        do_fail_ingestion(dataset_id, claimed_at, error, collection)
        if error
        else do_finish_ingestion(dataset_id, claimed_at, collection)
    )
    if not done:
        logger.info("Dataset %s was deleted or taken over meanwhile; this check's result is dropped", dataset_id)
        if not Dataset.objects.filter(pk=dataset_id).exists():
            delete_files(collection.stored)  # nobody else can be using them


def enqueue_ingest_dataset(dataset_id: int) -> None:
    """Send a dataset to the workers of the "datasets" queue; call it after the dataset's row is committed."""
    ingest_dataset.apply_async((dataset_id,), queue=DATASETS_QUEUE)
