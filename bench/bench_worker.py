"""One prediction worker, as `make run` starts it, against today's: start to first answer, memory, a warm
photo's latency, and throughput under a backlog by batch size and wait.

    nice -n 5 .venv/bin/python -m bench.bench_worker [--photos 200] [--single 100] [--broker redis://127.0.0.1:6379/13]
                                                     [--batches 1 2 4 8 16 32] [--waits 0 2 5 10] [--no-today]

Each code base gets a scratch folder (SQLite, media, its own Redis database), the shipped model, and a Celery
prediction worker (concurrency 1, the model preloaded, as supervisord.conf starts it); "today" is a worktree
at bench/today.py's TODAY (made in /tmp/catdog-today once). Figures:
- start to first answer: a photo waits in the queue, the worker is started, until its answer is stored;
- RSS of the worker's pool process (the one holding the model) after that answer, and after the backlogs;
- a warm photo: photos sent one at a time, each once the last is answered: the worker's `inference_ms`
  (decode, resize, model, verdict) and commit-to-answer, median and p95;
- a backlog: --photos predictions committed at once; photos per second from the commit to the last answer,
  for each CATDOG_BATCH_MAX (at CATDOG_BATCH_WAIT_MS 5) and each wait (at the default CATDOG_BATCH_MAX).
Needs Redis; reads photos from ../shared/data/catsdogs/test.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.bench_api import PHOTOS, PY, ROOT, USER, children, percentile, prepare, rss_mib, scratch_environment
from bench.today import TODAY, today_checkout

# Run by `manage.py shell` in the code base measured, so that photos go through that code's own upload path.
# A line {"create": [paths]} commits their predictions at once and answers when; {"wait": ids} answers once
# none of them is pending, with each one's status, inference_ms and finished_at.
CLIENT = """
import json, sys, time
from pathlib import Path
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from classifier.actions import do_create_predictions
from classifier.models import Prediction
from classifier.validation import check_image_upload
user = User.objects.get(username=%r)
for line in sys.stdin:
    request = json.loads(line)
    if "create" in request:
        photos = [Path(p) for p in request["create"]]
        checked = [check_image_upload(SimpleUploadedFile(p.name, p.read_bytes(), "image/jpeg")) for p in photos]
        committed = []
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(time.time()))  # first: before the messages are sent
            created = do_create_predictions(user, checked)
        answer = {"committed": committed[0], "ids": [p.pk for p in created]}
    else:
        rows = Prediction.objects.filter(pk__in=request["wait"])
        while rows.filter(status="pending").exists():  # the times come from the rows: polling need not be tight
            time.sleep(0.02)
        answer = [[p.status, p.inference_ms, p.finished_at.timestamp()] for p in rows]
    print(json.dumps(answer), flush=True)
"""


class Stack:
    """A scratch install of one code base and its prediction worker."""

    def __init__(self, name: str, root: Path, broker: str):
        self.name, self.root = name, root
        self.scratch = Path(tempfile.mkdtemp(prefix=f"catdog-bench-worker-{name}-"))
        self.env = scratch_environment(self.scratch, broker, CATDOG_PRELOAD_MODEL="true")
        prepare(self.env, ("predictions",), root)
        self.client = subprocess.Popen(
            [PY, "manage.py", "shell", "--verbosity", "0", "-c", CLIENT % USER],
            cwd=root, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.worker = None

    def start_worker(self, **settings) -> float:
        """Start the worker with `settings` (CATDOG_BATCH_MAX=…) in its environment; the time it was started."""
        self.stop_worker()
        env = {**self.env, **{name: str(value) for name, value in settings.items()}}
        self.log = open(self.scratch / "worker.log", "ab")
        started = time.time()
        self.worker = subprocess.Popen(
            [PY, "-m", "celery", "-A", "catdog_site", "worker", "--queues", "predictions", "--concurrency", "1",
             "--hostname", f"bench-{self.name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return started

    def stop_worker(self):
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(timeout=60)
            self.log.close()
            self.worker = None

    def pool_rss(self) -> float:
        return max(rss_mib(pid) for pid in children(self.worker.pid))

    def ask(self, **request):
        self.client.stdin.write(json.dumps(request) + "\n")
        self.client.stdin.flush()
        return json.loads(self.client.stdout.readline())

    def create(self, photos: list[Path]) -> dict:
        return self.ask(create=[str(p) for p in photos])

    def answers(self, ids: list[int]) -> list[tuple[str, float, float]]:
        return self.ask(wait=ids)

    def close(self):
        self.stop_worker()
        self.client.stdin.close()
        self.client.wait(timeout=30)


def start_to_first_answer(stack: Stack, photo: Path) -> float:
    """A photo waits in the queue; the worker starts; seconds until its answer is stored."""
    stack.stop_worker()
    ids = stack.create([photo])["ids"]
    started = stack.start_worker()
    [(status, _, finished)] = stack.answers(ids)
    assert status == "done", status
    return finished - started


def warm_photos(stack: Stack, photos: list[Path]) -> tuple[list[float], list[float]]:
    """Photos one at a time: each one's inference_ms in the worker, and commit-to-answer ms."""
    inference, round_trip = [], []
    for photo in photos:
        created = stack.create([photo])
        [(status, ms, finished)] = stack.answers(created["ids"])
        assert status == "done", status
        inference.append(ms)
        round_trip.append((finished - created["committed"]) * 1000)
    return inference, round_trip


def backlog(stack: Stack, photos: list[Path]) -> float:
    """Photos per second from the commit of `photos` to the last answer."""
    created = stack.create(photos)
    rows = stack.answers(created["ids"])
    assert all(status == "done" for status, _, _ in rows), rows
    return len(photos) / (max(finished for _, _, finished in rows) - created["committed"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200, help="photos of each backlog")
    parser.add_argument("--single", type=int, default=100, help="photos sent one at a time")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13", help="today's code uses the next database")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--waits", type=float, nargs="+", default=[0, 2, 5, 10])
    parser.add_argument("--no-today", action="store_true", help="measure this checkout only")
    args = parser.parse_args()

    photos = sorted((PHOTOS / "cat").glob("*.jpg"))[: args.photos // 2]
    photos += sorted((PHOTOS / "dog").glob("*.jpg"))[: args.photos - len(photos)]
    base, number = args.broker.rsplit("/", 1)
    stacks = [Stack("now", ROOT, args.broker)]
    if not args.no_today:
        today = today_checkout(Path(tempfile.gettempdir()) / "catdog-today")
        stacks.append(Stack("today", today, f"{base}/{int(number) + 1}"))
    print(f"load average {os.getloadavg()}; today = {TODAY}")
    figures = {stack.name: {} for stack in stacks}
    try:
        for stack in stacks:
            figures[stack.name]["start"] = start_to_first_answer(stack, photos[0])
            figures[stack.name]["rss"] = stack.pool_rss()
        # One photo at a time, the two workers taking turns photo by photo.
        for stack in stacks:
            figures[stack.name]["single"] = ([], [])
        for i in range(0, args.single, 10):
            for stack in stacks[:: 1 if i % 20 else -1]:
                inference, round_trip = warm_photos(stack, photos[i : i + 10])
                figures[stack.name]["single"][0].extend(inference)
                figures[stack.name]["single"][1].extend(round_trip)
        for stack in stacks:
            curve = figures[stack.name]["curve"] = {}
            settings = [(b, 5.0) for b in args.batches] + [(16, w) for w in args.waits if w != 5.0]
            for batch, wait in settings if stack.name == "now" else [(1, 0.0)]:
                stack.start_worker(CATDOG_BATCH_MAX=batch, CATDOG_BATCH_WAIT_MS=wait)
                warm_photos(stack, photos[:3])
                curve[batch, wait] = backlog(stack, photos)
            figures[stack.name]["rss_after"] = stack.pool_rss()
    finally:
        for stack in stacks:
            stack.close()
    report(figures)
    print(f"load average at the end {os.getloadavg()}")


def report(figures: dict) -> None:
    now, today = figures["now"], figures.get("today")

    def vs(value, key):
        return f" ({value / key(today):.2f}x today's)" if today else ""

    print(f"start to first answer: {now['start']:.2f} s{vs(now['start'], lambda f: f['start'])}")
    print(f"RSS of the pool process after it: {now['rss']:.0f} MiB{vs(now['rss'], lambda f: f['rss'])}; "
          f"after the backlogs {now['rss_after']:.0f} MiB")  # fmt: skip
    for name, index in (("inference_ms in the worker", 0), ("commit to answer", 1)):
        values = now["single"][index]
        median = statistics.median(values)
        ratio = vs(median, lambda f, index=index: statistics.median(f["single"][index]))
        print(f"warm photo, {name}: median {median:.1f} ms{ratio}, p95 {percentile(values, 0.95):.1f} ms")
    if today:
        print(f"today: start {today['start']:.2f} s, RSS {today['rss']:.0f} MiB, "
              f"inference_ms median {statistics.median(today['single'][0]):.1f} ms, "
              f"commit to answer median {statistics.median(today['single'][1]):.1f} ms, "
              f"backlog {today['curve'][1, 0.0]:.0f} photos/s")  # fmt: skip
    print("backlog throughput, photos/s (CATDOG_BATCH_MAX, CATDOG_BATCH_WAIT_MS)")
    for (batch, wait), rate in now["curve"].items():
        print(f"  {batch:3d} {wait:5.1f} ms  {rate:6.1f}{vs(rate, lambda f: f['curve'][1, 0.0])}")


if __name__ == "__main__":
    main()
