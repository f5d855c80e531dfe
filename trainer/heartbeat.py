"""A running training's heartbeat: its progress written from a thread of its own every few seconds.

The training task (trainer/tasks.py) starts one per training; the pipeline's progress callback feeds it,
and it tells the pipeline when to stop. The writes go through an action (`do_beat_training`), which also
answers whether an administrator asked to cancel, or whether the training is still this run's at all.
"""

import dataclasses
import logging
import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .actions import do_beat_training

logger = logging.getLogger(__name__)


class Heartbeat:
    """Writes the training's progress and heartbeat every CATDOG_TRAINING_HEARTBEAT_SECONDS, and sets
    `cancelled` when an administrator asked to stop (or the training was taken from this run)."""

    def __init__(self, version_id: int, started_at):
        self.version_id = version_id
        self.started_at = started_at
        self.progress: dict = {"phase": "starting", "history": {}}
        self.cancelled = threading.Event()
        self._stop = threading.Event()

    def set(self, **fields) -> None:
        if "phase" in fields and fields["phase"] != self.progress.get("phase"):
            fields["phase_started"] = timezone.now().isoformat()
        # A new dict each time: the thread reads `progress` while the training replaces it.
        self.progress = {**self.progress, **fields}

    def epoch_ended(self, progress) -> None:
        history = {key: list(values) for key, values in self.progress.get("history", {}).items()}
        for key in ("loss", "accuracy", "test_loss", "test_accuracy"):
            value = getattr(progress, key)
            if value is not None:
                history.setdefault(key, []).append(value)
        self.set(phase="training", **dataclasses.asdict(progress), history=history)

    @contextmanager
    def running(self):
        thread = threading.Thread(target=self._run, name=f"training-{self.version_id}-heartbeat", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self._beat()  # the last progress, so that the page shows where it ended

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.CATDOG_TRAINING_HEARTBEAT_SECONDS):
                self._beat()
        finally:
            connection.close()  # this thread's own connection

    def _beat(self) -> None:
        try:
            answer = do_beat_training(self.version_id, self.started_at, self.progress)
        except Exception:
            logger.exception("Training of version %s: could not write the heartbeat", self.version_id)
            return
        if answer is None or answer:
            self.cancelled.set()
