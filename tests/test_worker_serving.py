"""A real prediction worker on the real Redis broker with the shipped model's serving files: it answers without
ever importing TensorFlow, and answers a backlog a batch at a time, every photo once."""

import re
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from catdog_site.celery import app as celery_app
from classifier.actions import do_create_predictions
from classifier.models import Prediction
from classifier.validation import check_image_upload

from .conftest import shared_photo, upload
from .test_worker_end_to_end import media_root  # noqa: F401 (a fixture)
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NO_TENSORFLOW = Path(__file__).resolve().parent / "no_tensorflow"


@pytest.fixture(scope="module")
def worker_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("serving-worker")


@pytest.fixture(scope="module")
def prediction_worker(django_db_setup, django_db_blocker, media_root, worker_logs):  # noqa: F811
    """A worker whose every process refuses to import TensorFlow or Keras, and writes down any attempt."""
    with django_db_blocker.unblock():
        with running_worker(
            queues="predictions",
            media_root=media_root,
            name="serving-predictions",
            log_path=worker_logs / "worker.log",
            extra_env={"PYTHONPATH": str(NO_TENSORFLOW), "CATDOG_FORBIDDEN_IMPORTS_LOG": str(worker_logs / "tf.log")},
        ) as w:
            yield w


@pytest.fixture
def serving(settings, media_root, monkeypatch, prediction_worker, user):  # noqa: F811
    settings.MEDIA_ROOT = media_root
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    call_command("ensure_shipped_model", verbosity=0)


def _photos(count: int) -> list:
    return [
        check_image_upload(upload(f"{kind}.jpg", shared_photo(kind, 4001 + i // 2).read_bytes()))
        for i, kind in zip(range(count), ["cat", "dog"] * count, strict=False)
    ]


def _wait_for_answers(predictions, timeout: float = 120) -> list[Prediction]:
    deadline = time.monotonic() + timeout
    while True:
        rows = list(Prediction.objects.filter(pk__in=[p.pk for p in predictions]).order_by("pk"))
        if all(row.status != Prediction.Status.PENDING for row in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _engine_calls(log: Path) -> list[list[int]]:
    """The predictions of each engine call, as the worker logged them."""
    calls = re.findall(r"Answered predictions \[([\d, ]+)\] in one engine call", log.read_text())
    return [[int(pk) for pk in call.split(",")] for call in calls]


def test_a_worker_answers_without_ever_importing_tensorflow(serving, user, worker_logs):
    [prediction] = do_create_predictions(user, _photos(1))
    [answered] = _wait_for_answers([prediction])
    assert answered.status == Prediction.Status.DONE, answered.error
    assert answered.label == "cat" and answered.confidence > 0.9
    # Its heatmap came with it: the grid, and the upright size to draw it to; no file.
    assert len(answered.heatmap_grid) == 7 and all(len(row) == 7 for row in answered.heatmap_grid)
    assert answered.upright_size == (answered.width, answered.height) and not answered.heatmap
    assert not (worker_logs / "tf.log").exists(), (worker_logs / "tf.log").read_text()


def test_a_backlog_is_answered_a_batch_at_a_time_each_photo_once(serving, user, worker_logs):
    backlog = do_create_predictions(user, _photos(24))  # one commit: 24 messages behind one another
    answered = _wait_for_answers(backlog)
    assert [row.status for row in answered] == [Prediction.Status.DONE] * 24, [row.error for row in answered]
    assert {row.label for row in answered} == {"cat", "dog"}
    calls = [call for call in _engine_calls(worker_logs / "worker.log") if set(call) & {p.pk for p in backlog}]
    answered_ids = sorted(pk for call in calls for pk in call)
    assert answered_ids == sorted(p.pk for p in backlog)  # each photo in exactly one engine call
    assert max(len(call) for call in calls) > 1
    assert len(calls) < 24
