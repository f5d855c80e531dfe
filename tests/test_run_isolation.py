"""Two test runs on one machine share one Redis: neither may take the other's jobs."""

import time

import pytest

from catdog_site.celery import app as celery_app
from classifier.actions import do_create_predictions
from classifier.models import Prediction
from classifier.tasks import predict_image
from classifier.validation import check_image_upload

from .conftest import image_bytes, upload
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NO_MODEL = "No model is active yet: an administrator must activate a model version."


def _pending_prediction(user) -> Prediction:
    [prediction] = do_create_predictions(user, [check_image_upload(upload("photo.png", image_bytes()))])
    return prediction


def test_a_worker_of_another_run_never_takes_this_runs_job(settings, tmp_path, monkeypatch, user):
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    # Another run: its own id, but the same broker and, so that a stolen job shows, this run's database.
    # With no model active, a worker that takes a job fails its prediction at once, without TensorFlow.
    other_id = f"other-{settings.CATDOG_TEST_RUN_ID}"
    other_prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"].replace(
        settings.CATDOG_TEST_RUN_ID, other_id
    )
    with running_worker(
        queues="predictions",
        media_root=settings.MEDIA_ROOT,
        name="other-run",
        log_path=tmp_path / "other.log",
        extra_env={"CATDOG_TEST_RUN_ID": other_id},
    ):
        ours = _pending_prediction(user)  # sent on commit, through this run's keys
        theirs = _pending_prediction(user)
        other_run = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": other_prefix}
        with celery_app.connection_for_write(transport_options=other_run) as connection:
            predict_image.apply_async((theirs.pk,), connection=connection)

        deadline = time.monotonic() + 30
        while theirs.status == Prediction.Status.PENDING and time.monotonic() < deadline:
            time.sleep(0.2)
            theirs.refresh_from_db()
        assert theirs.status == Prediction.Status.FAILED  # the other run's worker is up and shares the database
        assert theirs.error == NO_MODEL
        time.sleep(2)  # it polls its queues several times a second: time enough to take ours, if it could
        ours.refresh_from_db()
        assert ours.status == Prediction.Status.PENDING
