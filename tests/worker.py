"""A real Celery worker process on a real Redis broker, for the end-to-end tests."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def broker_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not _reachable(url):
        raise RuntimeError(
            f"The end-to-end tests need Redis at {url}. Start one with "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no` "
            "or point CATDOG_TEST_BROKER_URL at another."
        )
    return url


def database_url() -> str:
    """The test database, as the worker must reach it (the test run created it under another name)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    raise RuntimeError(f"No worker database URL for {db['ENGINE']}")


def purge(queue: str) -> None:
    from catdog_site.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@contextmanager
def running_worker(*, queues: str, media_root: Path, name: str, log_path: Path, extra_env: dict | None = None):
    """Start `celery worker` as its own process on empty `queues` (what an earlier run left there is
    purged); yield it once it is ready; stop it afterwards."""
    for queue in queues.split(","):
        purge(queue)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "catdog_site.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CATDOG_TEST_BROKER_URL": broker_url(),
        "DATABASE_URL": database_url(),
        "CATDOG_MEDIA_ROOT": str(media_root),
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "catdog_site", "worker", "--queues", queues, "--concurrency", "1",
        "--hostname", f"{name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    log = open(log_path, "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Ask a process started by the tests to stop; kill it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
