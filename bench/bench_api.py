"""Upload-to-result latency over the REST API, with Redis and a warm worker; resident memory of each process.

    .venv/bin/python bench/bench_api.py [--photos 100] [--broker redis://127.0.0.1:6379/14] [--today]
                                        [--database-url sqlite:////tmp/x.sqlite3 | postgres://127.0.0.1/test]

It starts, in a scratch folder, the web app under gunicorn and one prediction worker (the shipped model),
signs a user up, warms the worker, then uploads test photos one at a time and polls each until it is
done. Needs Redis running; reads photos from ../shared/data/catsdogs/test.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "catsdogs" / "test"
PY = sys.executable


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


USER, PASSWORD = "bench", "bench-pass-123"  # a scratch database's only user


def scratch_environment(scratch: Path, broker: str, database_url: str | None = None, **extra: str) -> dict:
    """The environment of every process of a benchmark: the app in `scratch`, DEBUG off, on `broker`."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "catdog_site.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url or f"sqlite:///{scratch / 'db.sqlite3'}",
        "CATDOG_MEDIA_ROOT": str(scratch / "media"),
        "CATDOG_MODEL_CACHE_DIR": str(scratch / "model-cache"),
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": "locmemcache://",  # the rate limits' counters: make run's Redis is not running
        "DJANGO_LOG_LEVEL": "WARNING",
        **extra,
    }


def prepare(env: dict, queues: tuple[str, ...], root: Path = ROOT) -> None:
    """Migrate, register and activate the shipped model, add the benchmark's user, empty the queues; with the
    code in `root` (another checkout, to measure older code)."""
    manage = [PY, "manage.py"]
    create_user = (
        f"from django.contrib.auth.models import User; User.objects.create_user({USER!r}, password={PASSWORD!r})"
    )
    for command in (["migrate", "--noinput"], ["ensure_shipped_model"], ["shell", "-c", create_user]):
        subprocess.run(manage + command, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    for queue in queues:
        subprocess.run([PY, "-m", "celery", "-A", "catdog_site", "purge", "-f", "-Q", queue],
                       cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def api_session(base: str) -> requests.Session:
    """A session that calls the REST API with the benchmark user's token."""
    token = requests.post(f"{base}/api/token/", data={"username": USER, "password": PASSWORD}, timeout=10)
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token.json()['token']}"
    return api


def round_trip(api: requests.Session, base: str, photo: Path, poll: float = 0.005) -> tuple[float, dict]:
    """Upload `photo`, poll until it is answered; milliseconds from upload to answer, and the answer."""
    data = photo.read_bytes()
    started = time.perf_counter()
    r = api.post(f"{base}/api/predictions/", files={"image": (photo.name, data, "image/jpeg")})
    r.raise_for_status()
    url = r.json()["url"]
    while True:
        body = api.get(url).json()
        if body["status"] != "pending":
            return (time.perf_counter() - started) * 1000, body
        time.sleep(poll)


class ApiStack:
    """The web app under gunicorn and one prediction worker, in a scratch folder, with the code in `root`."""

    def __init__(self, name: str, root: Path, port: int, broker: str, database_url: str | None = None):
        self.name, self.root, self.base = name, root, f"http://127.0.0.1:{port}"
        scratch = Path(tempfile.mkdtemp(prefix=f"catdog-bench-{name}-"))
        env = scratch_environment(scratch, broker, database_url)
        prepare(env, ("predictions",), root)
        logs = open(scratch / "processes.log", "wb")
        self.web = subprocess.Popen(
            [PY, "-m", "gunicorn", "catdog_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=root, env=env, stdout=logs, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.worker = subprocess.Popen(
            [PY, "-m", "celery", "-A", "catdog_site", "worker", "--queues", "predictions", "--concurrency", "1",
             "--hostname", f"bench-{name}@%h", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
            cwd=root, env=env, stdout=logs, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: requests.get(f"{self.base}/accounts/login/", timeout=2).ok, 60, f"the {name} web server")
        self.api = api_session(self.base)
        self.latencies, self.model_ms, self.correct = [], [], 0

    def round_trip(self, photo: Path, poll: float) -> None:
        ms, body = round_trip(self.api, self.base, photo, poll)
        assert body["status"] == "done", body
        self.latencies.append(ms)
        self.model_ms.append(body["inference_ms"])
        self.correct += body["label"] == photo.parent.name

    def report(self, reference: "ApiStack | None") -> None:
        def vs(values, reference_values):
            return (
                f" ({statistics.median(values) / statistics.median(reference_values):.2f}x today's)"
                if reference
                else ""
            )

        print(f"{self.name}: photos {len(self.latencies)}, answered correctly: {self.correct}")
        print(
            f"  upload to result (REST API, client side): median {statistics.median(self.latencies):.0f} ms"
            f"{vs(self.latencies, reference and reference.latencies)}, "
            f"p95 {percentile(self.latencies, 0.95):.0f} ms, max {max(self.latencies):.0f} ms"
        )
        print(
            f"  inference in the worker (decode+resize+model): median {statistics.median(self.model_ms):.1f} ms"
            f"{vs(self.model_ms, reference and reference.model_ms)}, p95 {percentile(self.model_ms, 0.95):.1f} ms"
        )
        _print_memory([self.web.pid, *children(self.web.pid)], [self.worker.pid, *children(self.worker.pid)])

    def stop(self) -> None:
        for process in (self.web, self.worker):
            process.terminate()
        for process in (self.web, self.worker):
            process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--port", type=int, default=8911, help="today's code, with --today, listens on the next one")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="today's code uses the next database")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between result polls")
    parser.add_argument("--today", action="store_true", help="also today's code (bench/today.py), photo by photo")
    args = parser.parse_args()

    print(f"load average {os.getloadavg()}")
    stacks = [ApiStack("now", ROOT, args.port, args.broker, args.database_url)]
    try:
        if args.today:
            sys.path.insert(0, str(ROOT))  # run as a script, this folder is the first on the path
            from bench.today import today_checkout

            base, number = args.broker.rsplit("/", 1)
            today = today_checkout(Path(tempfile.gettempdir()) / "catdog-today")
            stacks.append(ApiStack("today", today, args.port + 1, f"{base}/{int(number) + 1}"))
        photos = (
            sorted((PHOTOS / "cat").glob("*.jpg"))[: args.photos // 2]
            + sorted((PHOTOS / "dog").glob("*.jpg"))[: args.photos - args.photos // 2]
        )
        for photo in photos[:5]:  # warm: the model loads on the first task
            for stack in stacks:
                stack.round_trip(photo, args.poll)
        for stack in stacks:
            stack.latencies, stack.model_ms, stack.correct = [], [], 0
        for i, photo in enumerate(photos):  # the stacks take turns, so that a busy minute weighs on both
            for stack in stacks[:: 1 if i % 2 else -1]:
                stack.round_trip(photo, args.poll)
        for stack in stacks:
            stack.report(stacks[1] if len(stacks) > 1 and stack is stacks[0] else None)
    finally:
        for stack in stacks:
            stack.stop()
    print(f"load average at the end {os.getloadavg()}")


def _print_memory(web_pids: list[int], worker_pids: list[int]) -> None:
    print(
        "resident memory: web (gunicorn) "
        + ", ".join(f"{rss_mib(p):.0f} MiB" for p in web_pids)
        + "; worker (celery main, pool child) "
        + ", ".join(f"{rss_mib(p):.0f} MiB" for p in worker_pids)
    )
    print(
        "tensorflow in the web process: "
        + ("yes" if any("tensorflow" in Path(f"/proc/{p}/maps").read_text() for p in web_pids) else "no")
    )


if __name__ == "__main__":
    main()
