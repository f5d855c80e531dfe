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


def test_a_prediction_whose_worker_process_dies_mid_task_is_delivered_again(
    live_server, settings, monkeypatch, user, tmp_path
):
    media_root = tmp_path / "media"
    """acks_late + reject_on_worker_lost: killing the pool process mid-task loses nothing."""
    settings.MEDIA_ROOT = media_root
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    call_command("ensure_shipped_model", verbosity=0)
    log_path = tmp_path / "worker.log"
    # A fresh worker: its first task spends seconds loading TensorFlow and the model, the window to kill it in.
    with running_worker(queues="predictions", media_root=media_root, name="e2e-killed", log_path=log_path) as worker:
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
        [child] = [int(pid) for pid in Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()]
        os.kill(child, signal.SIGKILL)

        body = _wait_until_finished(session, f"{live_server.url}/api/predictions/{item['id']}/")
        assert body["status"] == "done", body
        assert body["label"] == "cat"
        log = log_path.read_text()
        assert "WorkerLostError" in log or "exited prematurely" in log  # the kill really hit the task
        assert log.count("received") >= 2  # and the message came back
