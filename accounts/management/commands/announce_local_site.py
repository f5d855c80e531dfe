import os
import signal
import time

import requests
from celery import current_app
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

WORKERS = ("predictions", "training", "datasets", "maintenance", "webhooks")


def web_answers(url: str) -> bool:
    try:
        return requests.get(url + "accounts/login/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def workers_replying() -> set[str]:
    """The kinds of worker (the part of a node name before the @) that answer a ping."""
    try:
        replies = current_app.control.inspect(timeout=1.0).ping() or {}
    except OSError:  # the broker is not up yet
        return set()
    return {node.split("@", 1)[0] for node in replies}


class Command(BaseCommand):
    help = (
        "For `make run`: once the web answers and every worker replies, print the address, the admin login "
        "and where the logs are, after everyone's start-up lines; then wait to be stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the site's address, ending with /")

    def handle(self, *args, url, **options):
        # Stopped at once: it holds nothing to clean up, and the broker connection's threads would make a
        # normal exit wait for them.
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        self.wait_until_up(url)
        log_dir = settings.VAR_DIR / "log"
        self.stdout.write(self.style.SUCCESS(f"catdog is up: {url}  (admin: {url}admin/)"))
        call_command("ensure_local_admin", stdout=self.stdout)
        self.stdout.write(
            f"Each process writes to {log_dir}/<name>.log (`make logs` follows them all, `make status` lists "
            "the processes). Ctrl-C stops everything."
        )
        self.stdout.flush()
        while True:
            signal.pause()

    def wait_until_up(self, url: str) -> None:
        started = time.monotonic()
        warned = False
        while True:
            missing = [] if web_answers(url) else ["web"]
            missing += sorted(set(WORKERS) - workers_replying())
            if not missing:
                return
            if not warned and time.monotonic() - started > 120:
                log_dir = settings.VAR_DIR / "log"
                self.stdout.write(f"Still waiting for: {', '.join(missing)} (see their logs in {log_dir}).")
                warned = True
            time.sleep(1)
