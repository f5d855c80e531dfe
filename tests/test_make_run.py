"""`make run` for real: the supervised stack serves with DEBUG off, brings back a process that dies while the
web keeps answering, and stops everything, quietly, on Ctrl-C.

It runs the project's own Makefile and supervisord.conf, on a free port, with a var folder and media of its
own (the developer's var/ is never touched) and only the embedded defaults (no DATABASE_URL, bucket,
broker or cache from the environment).
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
# Left out of make run's environment: what would point it away from its embedded defaults, and what `make
# test` passes to its children (make run must behave as when a person types it).
NOT_EMBEDDED = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_DEBUG", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")
NOISE = re.compile(r"exited with signal|\bERROR\b|\bCRIT\b|make(\[\d+\])?: \*\*\*|Interrupt|Traceback")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack(tmp_path):
    """`make run` started as a person would, in a session of its own (Ctrl-C reaches its whole group)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_EMBEDDED and not k.startswith("CATDOG_")}
    env.update(DJANGO_SETTINGS_MODULE="catdog_site.settings.local", CATDOG_MEDIA_ROOT=str(tmp_path / "media"))
    console = tmp_path / "console.log"
    with open(console, "wb") as out:
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"CATDOG_VAR_DIR={tmp_path / 'var'}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield make, f"http://127.0.0.1:{port}/", console
    finally:
        for process in psutil.process_iter():  # whatever a failed test left of this stack
            with contextlib.suppress(psutil.Error):
                ours = process.environ().get("CATDOG_VAR_DIR") == str(tmp_path / "var")
                if ours or str(tmp_path) in " ".join(process.cmdline()):  # Redis rewrites its environment
                    process.kill()


def answers(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def process_named(make: subprocess.Popen, word: str) -> psutil.Process | None:
    """The stack's process whose command line holds the argument `word` (e.g. "beat")."""
    for process in psutil.Process(make.pid).children(recursive=True):
        try:
            if word in process.cmdline():
                return process
        except psutil.NoSuchProcess:
            continue
    return None


def test_make_run_serves_restarts_a_dead_process_and_stops_quietly(stack):
    make, url, console = stack
    wait_for(lambda: "Ctrl-C stops everything." in console.read_text(), 120, "the address and admin login")
    banner = console.read_text().split("catdog is up:")[1]
    assert "Created the admin login 'admin' with password" in banner, "the login comes with the address"
    assert "entered RUNNING state" not in banner, "the login is printed last, after every start-up line"

    assert answers(url + "accounts/login/") == 200
    missing = requests.get(url + "no-such-page/", timeout=5)  # DEBUG off: the site's own page
    assert missing.status_code == 404
    assert "Page not found" in missing.text and "URLconf" not in missing.text
    assert answers(url + "static/css/app.css") == 200  # static files served, DEBUG off

    beat = process_named(make, "beat")
    beat.send_signal(signal.SIGKILL)
    web_answers = []

    def beat_is_back():
        web_answers.append(answers(url + "accounts/login/"))
        back = process_named(make, "beat")
        return back if back is not None and back.pid != beat.pid else None

    wait_for(beat_is_back, 30, "beat to be started again")
    assert set(web_answers) == {200}, "the web stopped answering while beat was down"

    children = psutil.Process(make.pid).children(recursive=True)
    os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
    make.wait(timeout=30)  # stopwaitsecs is 8 s; a loaded machine takes longer to get there
    _, alive = psutil.wait_procs(children, timeout=2)
    assert alive == [], f"left running after Ctrl-C: {[p.pid for p in alive]}"
    assert not NOISE.findall(console.read_text()), console.read_text()


def test_nothing_is_left_running_when_supervisord_itself_is_killed(stack):
    """A closed terminal or a killed supervisord must not leave a Redis, worker or beat behind."""
    make, url, console = stack
    wait_for(lambda: "Ctrl-C stops everything." in console.read_text(), 120, "the address and admin login")
    [supervisord] = [p for p in psutil.Process(make.pid).children() if p.cmdline()[1].endswith("supervisord")]
    children = supervisord.children(recursive=True)
    supervisord.kill()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], f"left running without supervisord: {[' '.join(p.cmdline()[:6]) for p in alive]}"
