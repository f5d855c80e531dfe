"""A worker process killed in the middle of a prediction loses nothing: the message comes back.

A module of its own, so that no other worker consumes the queue while this one is killed.
"""

import os
import re
import signal
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from catdog_site.celery import app as celery_app

from .conftest import shared_photo
from .test_worker_end_to_end import _logged_in_session, _wait_until_finished
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SLOW_TASKS = Path(__file__).resolve().parent / "slow_tasks"


def test_a_prediction_whose_worker_process_dies_mid_task_is_delivered_again(
    live_server, settings, monkeypatch, user, tmp_path
):
    media_root = tmp_path / "media"
    """acks_late + reject_on_worker_lost: killing the pool process mid-task loses nothing."""
    settings.MEDIA_ROOT = media_root
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    call_command("ensure_shipped_model", verbosity=0)
    log_path = tmp_path / "worker.log"
    # Every task of this worker waits 3 s before its body runs: the window to kill it in.
    slow = {"PYTHONPATH": str(SLOW_TASKS), "CATDOG_TEST_TASK_DELAY": "3"}
    with running_worker(
        queues="predictions", media_root=media_root, name="e2e-killed", log_path=log_path, extra_env=slow
    ) as worker:
        session = _logged_in_session(live_server)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(f"{live_server.url}/").text)
        with open(shared_photo("cat", 4005), "rb") as f:
            session.post(
                f"{live_server.url}/",
                data={"csrfmiddlewaretoken": token.group(1)},
                files=[("images", ("cat.jpg", f, "image/jpeg"))],
                headers={"Referer": f"{live_server.url}/"},
            )
        [item] = session.get(f"{live_server.url}/api/predictions/").json()["results"]
        deadline = time.monotonic() + 30
        while b"received" not in log_path.read_bytes():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        time.sleep(0.5)  # into the task's wait
        [child] = [int(pid) for pid in Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()]
        os.kill(child, signal.SIGKILL)

        body = _wait_until_finished(session, f"{live_server.url}/api/predictions/{item['id']}/")
        assert body["status"] == "done", body
        assert body["label"] == "cat"
        log = log_path.read_text()
        assert "WorkerLostError" in log or "exited prematurely" in log  # the kill really hit the task
        assert log.count("received") >= 2  # and the message came back


def test_a_photo_that_stops_the_worker_three_times_is_failed_with_the_reason(
    settings, monkeypatch, make_prediction, tmp_path
):
    """Each delivery dies with its pool process (SIGKILL, as the out-of-memory killer would); after the third,
    the next delivery fails the prediction with the reason instead of trying the photo again."""
    from classifier.models import Prediction
    from classifier.tasks import MAX_PREDICTION_ATTEMPTS

    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    call_command("ensure_shipped_model", verbosity=0)
    log_path = tmp_path / "worker.log"
    with running_worker(
        queues="predictions", media_root=settings.MEDIA_ROOT, name="e2e-killed-3", log_path=log_path
    ) as worker:
        prediction = make_prediction()  # queued once committed
        for attempt in range(1, MAX_PREDICTION_ATTEMPTS + 1):
            deadline = time.monotonic() + 60
            # Counted before any work; the model then takes seconds to load: the window to kill it in.
            while Prediction.objects.get(pk=prediction.pk).attempts < attempt:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            [child] = [int(pid) for pid in Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()]
            os.kill(child, signal.SIGKILL)

        deadline = time.monotonic() + 60
        while (prediction := Prediction.objects.get(pk=prediction.pk)).status == Prediction.Status.PENDING:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.error.startswith(f"This photo stopped the worker {MAX_PREDICTION_ATTEMPTS} times")
    log = log_path.read_text()
    assert log.count("WorkerLostError") + log.count("exited prematurely") >= MAX_PREDICTION_ATTEMPTS, log
