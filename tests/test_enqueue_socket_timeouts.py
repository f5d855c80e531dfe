"""Web requests give up on a hung broker after a socket timeout; workers never time out an acknowledgement.

A timed-out acknowledgement leaves kombu counting the message as unacknowledged, and a worker whose prefetch
limit is one then never takes another message (found by `bench/load.py --fault freeze-redis`).
"""

import runpy
from pathlib import Path

from celery.signals import worker_init

from catdog_site.celery import app as celery_app

# The queue settings, read afresh as a deployment with Redis reads them
# (base.py takes them with `from .queues import *`).
QUEUE_SETTINGS = Path(__file__).resolve().parent.parent / "catdog_site" / "settings" / "queues.py"


class _Worker:
    """What worker_init is sent with: the starting worker, which knows its app."""

    app = celery_app


def test_with_redis_the_web_side_has_short_socket_timeouts(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = runpy.run_path(str(QUEUE_SETTINGS))
    options = settings["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert 0 < options["socket_timeout"] <= 5
    assert 0 < options["socket_connect_timeout"] <= 5
    assert settings["CELERY_TASK_PUBLISH_RETRY_POLICY"]["max_retries"] <= 2


def test_a_starting_worker_drops_the_socket_timeout_and_keeps_the_rest(monkeypatch):
    options = {"visibility_timeout": 3600, "socket_timeout": 2, "socket_connect_timeout": 2}
    monkeypatch.setattr(celery_app.conf, "broker_transport_options", options)
    worker_init.send(sender=_Worker())
    assert celery_app.conf.broker_transport_options == {"visibility_timeout": 3600, "socket_connect_timeout": 2}
    assert options["socket_timeout"] == 2  # the settings' own dict is left as it was


def test_a_worker_without_a_socket_timeout_starts_as_it_is(monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_transport_options", {"visibility_timeout": 60})
    worker_init.send(sender=_Worker())
    assert celery_app.conf.broker_transport_options == {"visibility_timeout": 60}
