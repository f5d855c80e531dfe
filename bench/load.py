"""Load and faults: many users upload at once through the REST API; every accepted upload must get one answer.

    .venv/bin/python bench/load.py [--fault none|kill-worker|stop-redis] [--users 20] [--uploads 10]
                                   [--database-url postgres://postgres@127.0.0.1:5432/catdog_load]

It starts, all its own: a Redis server (--redis-port, 6390: never the shared one, since the stop-redis fault
stops it), the web app under gunicorn (3 workers, DEBUG off), two prediction worker processes (the shipped
model) and celery beat (the sweep that re-sends unsent predictions). The database is EMPTIED first: give it
one of its own (`createdb -h 127.0.0.1 -U postgres catdog_load`). Each user gets a token, then uploads its
photos (from ../shared/data/catsdogs/test) one after another, --pace seconds apart, and polls them until
they are finished. Then the database is checked: every accepted upload (HTTP 202) must have exactly one
prediction, done or failed; one still pending after --deadline seconds is lost.

Faults, during the upload phase:
  kill-worker  SIGKILL the pool process (the one running the model) of worker 1, 3 s in; its main process
               requeues the message (reject_on_worker_lost) and starts a new pool process, which loads the
               model again while worker 2 goes on serving.
  kill-worker-host
               SIGKILL worker 1 whole (main and pool process), as a lost host: the message it held stays
               unacknowledged in Redis (redelivered only after the visibility timeout, an hour), so the sweep
               sends it again after --resend-after seconds; worker 2 serves everything.
  stop-redis   stop Redis (SIGTERM; no persistence, so every queued message is gone) for --outage seconds,
               then start it again, empty. Uploads meanwhile are answered 202 and marked unsent; the sweep
               sends them, and the messages Redis lost, once it is back.
  freeze-redis SIGSTOP Redis for --outage seconds, then SIGCONT: a broker that hangs instead of refusing
               (the socket timeouts keep requests short).
Exit status 1 when an upload is lost or any request was answered 5xx.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from bench_api import PHOTOS, PY, ROOT, children, percentile, wait_for

CHECK_DATABASE = """
import json
from classifier.models import Prediction
rows = Prediction.objects.values_list("id", "status", "attempts", "inference_ms", "created_at", "finished_at")
print(json.dumps([[i, s, a, m, c.timestamp(), f.timestamp() if f else None] for i, s, a, m, c, f in rows]))
"""


@dataclass
class Upload:
    photo: Path
    sent_at: float  # wall clock, comparable with the database's finished_at (same machine)
    status: int | str  # HTTP status, or the name of a connection error
    answered_in: float  # seconds
    prediction_id: int | None = None


@dataclass
class Tally:
    uploads: list[Upload] = field(default_factory=list)
    poll_statuses: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Stack:
    """The processes under test, each started by this script and stopped by its own pid."""

    def __init__(self, scratch: Path, env: dict, args):
        self.scratch, self.env, self.args = scratch, env, args
        self.redis: subprocess.Popen | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.outage: tuple[float, float] | None = None

    def log(self, name: str) -> Path:
        return self.scratch / f"{name}.log"

    def mark_logs(self) -> None:
        """Remember where the workers' logs end, so that the report reads only what the measured run wrote."""
        self.marks = {n: self.log(f"worker{n}").stat().st_size for n in (1, 2)}

    def worker_logs(self) -> str:
        return "".join(self.log(f"worker{n}").read_bytes()[self.marks[n] :].decode(errors="replace") for n in (1, 2))

    def start(self, name: str, command: list[str]) -> None:
        with open(self.log(name), "ab") as log:
            self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)

    def start_redis(self) -> None:
        command = ["redis-server", "--port", str(self.args.redis_port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.scratch)]  # fmt: skip
        with open(self.log("redis"), "ab") as log:
            self.redis = subprocess.Popen(command, stdout=log, stderr=log)
        ping = ["redis-cli", "-p", str(self.args.redis_port), "ping"]
        wait_for(lambda: subprocess.run(ping, capture_output=True).stdout.strip() == b"PONG", 10, "redis")

    def stop_redis(self) -> None:
        self.redis.terminate()
        self.redis.wait(timeout=10)

    def start_app(self) -> None:
        celery = [PY, "-m", "celery", "-A", "catdog_site"]
        self.start("web", [PY, "-m", "gunicorn", "catdog_site.wsgi", "--bind", f"127.0.0.1:{self.args.port}",
                           "--workers", str(self.args.web_workers)])  # fmt: skip
        for n in (1, 2):
            self.start(f"worker{n}", celery + ["worker", "--queues", "predictions", "--concurrency", "1",
                                               "--hostname", f"load{n}@%h", "--loglevel", "INFO"])  # fmt: skip
        self.start("beat", celery + ["beat", "--schedule", str(self.scratch / "beat-schedule"), "--loglevel", "INFO"])
        for n in (1, 2):
            wait_for(lambda n=n: b" ready." in self.log(f"worker{n}").read_bytes(), 120, f"worker {n}")

    def kill_pool_process(self, n: int) -> int:
        [child] = children(self.processes[f"worker{n}"].pid)
        os.kill(child, signal.SIGKILL)
        return child

    def stop(self) -> None:
        if self.redis and self.redis.poll() is None:
            os.kill(self.redis.pid, signal.SIGCONT)  # in case a freeze was interrupted
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.redis and self.redis.poll() is None:
            self.stop_redis()


def manage(env: dict, *command: str) -> str:
    return subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def shell_json(env: dict, code: str):
    """Run code in `manage.py shell`; its last line of output is JSON (Django may print a banner first)."""
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def prepare_database(env: dict, users: int) -> list[str]:
    manage(env, "migrate", "--noinput")
    manage(env, "flush", "--noinput")
    manage(env, "ensure_shipped_model")
    make_users = (
        "import json; from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token;"
        f"print(json.dumps([Token.objects.create(user=User.objects.create_user(f'load{{i}}', password='load-pass-123'))"
        f".key for i in range({users})]))"
    )
    return shell_json(env, make_users)


def photos_for(count: int) -> list[Path]:
    cats, dogs = sorted((PHOTOS / "cat").glob("*.jpg")), sorted((PHOTOS / "dog").glob("*.jpg"))
    mixed = [photo for pair in zip(cats, dogs, strict=False) for photo in pair]
    return [mixed[i % len(mixed)] for i in range(count)]


def upload_one(session: requests.Session, base: str, photo: Path, tally: Tally) -> Upload:
    data = photo.read_bytes()
    while True:
        sent_at = time.time()
        try:
            r = session.post(f"{base}/api/predictions/", files={"image": (photo.name, data, "image/jpeg")}, timeout=60)
        except requests.RequestException as error:
            return Upload(photo, sent_at, type(error).__name__, time.time() - sent_at)
        if r.status_code != 429:  # a rate limit: wait as told, then send the same photo again
            break
        with tally.lock:
            tally.poll_statuses["upload 429"] += 1
        time.sleep(float(r.headers.get("Retry-After", 1)))
    answered_in = time.time() - sent_at
    return Upload(photo, sent_at, r.status_code, answered_in, r.json()["id"] if r.status_code == 202 else None)


def run_user(token: str, photos: list[Path], base: str, args, tally: Tally, deadline: float) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    mine = []
    for photo in photos:
        upload = upload_one(session, base, photo, tally)
        with tally.lock:
            tally.uploads.append(upload)
        if upload.prediction_id:
            mine.append(upload.prediction_id)
        time.sleep(args.pace)
    pending = set(mine)
    while pending and time.time() < deadline:
        for prediction_id in list(pending):
            try:
                r = session.get(f"{base}/api/predictions/{prediction_id}/", timeout=30)
            except requests.RequestException as error:
                status = type(error).__name__
            else:
                status = r.status_code
                if r.status_code == 200 and r.json()["status"] != "pending":
                    pending.discard(prediction_id)
            with tally.lock:
                tally.poll_statuses[status] += 1
        time.sleep(0.25)


def inject_fault(stack: Stack, args, started: float, events: list[str]) -> None:
    def at(seconds: float) -> None:
        time.sleep(max(0.0, started + seconds - time.time()))

    if args.fault == "kill-worker":
        at(3)
        pid = stack.kill_pool_process(1)
        events.append(f"{time.time() - started:.1f}s SIGKILL worker 1's pool process {pid}")
    elif args.fault == "kill-worker-host":
        at(3)
        worker = stack.processes["worker1"]
        pids = [worker.pid, *children(worker.pid)]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        events.append(f"{time.time() - started:.1f}s SIGKILL worker 1, main and pool processes {pids}; not restarted")
    elif args.fault in ("stop-redis", "freeze-redis"):
        at(3)
        outage_started = time.time()
        if args.fault == "stop-redis":
            stack.stop_redis()
        else:
            os.kill(stack.redis.pid, signal.SIGSTOP)
        events.append(f"{time.time() - started:.1f}s Redis {'stopped' if args.fault == 'stop-redis' else 'frozen'}")
        at(3 + args.outage)
        if args.fault == "stop-redis":
            stack.start_redis()
        else:
            os.kill(stack.redis.pid, signal.SIGCONT)
        events.append(
            f"{time.time() - started:.1f}s Redis {'started again (empty)' if args.fault == 'stop-redis' else 'thawed'}"
        )
        stack.outage = (outage_started, time.time())


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--fault", choices=["none", "kill-worker", "kill-worker-host", "stop-redis", "freeze-redis"], default="none"
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=10, help="per user")
    parser.add_argument("--pace", type=float, default=0.5, help="seconds between one user's uploads")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Redis stays down (stop-redis)")
    parser.add_argument("--deadline", type=float, default=240.0, help="seconds after the uploads to wait for answers")
    parser.add_argument("--port", type=int, default=8921)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/catdog_load")
    parser.add_argument("--sweep-seconds", type=float, default=5.0, help="beat's sweep interval")
    parser.add_argument("--resend-after", type=int, default=30, help="re-send a prediction queued this long ago")
    args = parser.parse_args()
    if args.redis_port == 6379:
        raise SystemExit("--redis-port 6379 is the shared Redis: this script stops its Redis; take another port")
    return args


def main():
    args = _arguments()
    scratch = Path(tempfile.mkdtemp(prefix="catdog-load-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "catdog_site.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": args.database_url,
        "CATDOG_MEDIA_ROOT": str(scratch / "media"),
        "CATDOG_MODEL_CACHE_DIR": str(scratch / "model-cache"),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{args.redis_port}/0",
        "CATDOG_SWEEP_SECONDS": str(args.sweep_seconds),
        "CATDOG_RESEND_AFTER_SECONDS": str(args.resend_after),
        "DJANGO_LOG_LEVEL": "INFO",
    }
    stack = Stack(scratch, env, args)
    base = f"http://127.0.0.1:{args.port}"
    print(f"scratch folder (logs): {scratch}")
    try:
        stack.start_redis()
        tokens = prepare_database(env, args.users)
        stack.start_app()
        wait_for(lambda: requests.get(f"{base}/accounts/login/", timeout=2).ok, 60, "the web server")

        # Warm both workers (TensorFlow and the model load on the first task): a few uploads at once, so that
        # each worker takes one. Not counted.
        warm = Tally()
        warm_deadline = time.time() + 180
        with ThreadPoolExecutor(4) as pool:
            for i in range(4):
                pool.submit(run_user, tokens[i], [photos_for(1000)[-1 - i]], base, args, warm, warm_deadline)
        manage(env, "shell", "-c", "from classifier.models import Prediction; Prediction.objects.all().delete()")
        load_before = os.getloadavg()
        stack.mark_logs()

        photos = photos_for(args.users * args.uploads)
        tally, events = Tally(), []
        started = time.time()
        deadline = started + args.uploads * args.pace + args.deadline
        fault = threading.Thread(target=inject_fault, args=(stack, args, started, events), daemon=True)
        fault.start()
        with ThreadPoolExecutor(args.users) as pool:
            for i, token in enumerate(tokens):
                pool.submit(run_user, token, photos[i * args.uploads : (i + 1) * args.uploads], base, args, tally,
                            deadline)  # fmt: skip
        fault.join()
        load_after = os.getloadavg()
        report(args, env, stack, tally, events, started, load_before, load_after)
    finally:
        stack.stop()


def report(args, env, stack, tally, events, started, load_before, load_after) -> None:
    rows = {row[0]: row for row in shell_json(env, CHECK_DATABASE)}
    uploads = tally.uploads
    accepted = [u for u in uploads if u.prediction_id]
    states = Counter(rows[u.prediction_id][1] if u.prediction_id in rows else "missing" for u in accepted)
    orphans = set(rows) - {u.prediction_id for u in accepted}  # stored, though the client was not told 202
    answered = [(u, rows[u.prediction_id][5]) for u in accepted if u.prediction_id in rows and rows[u.prediction_id][5]]
    latencies = [finished - u.sent_at for u, finished in answered]
    upload_statuses = Counter(u.status for u in uploads)
    fivexx = sum(n for s, n in (upload_statuses + tally.poll_statuses).items() if isinstance(s, int) and s >= 500)
    last_upload = max(u.sent_at for u in uploads)
    lost = states["pending"] + states["missing"]
    logs = stack.worker_logs()
    resent = sum(int(line.split("Sweep: ")[1].split()[0]) for line in logs.splitlines() if "Sweep: " in line)
    worker_lost = logs.count("Task handler raised error: WorkerLostError")  # a kill that hit a running task
    model_ms = [rows[u.prediction_id][3] for u, _ in answered if rows[u.prediction_id][3] is not None]

    print(
        f"fault: {args.fault}; {args.users} users x {args.uploads} uploads, {args.pace}s apart; "
        f"{args.web_workers} gunicorn workers, 2 prediction workers, PostgreSQL, Redis :{args.redis_port}"
    )
    for event in events:
        print(f"  {event}")
    if stack.outage:
        during = [u for u in uploads if stack.outage[0] <= u.sent_at <= stack.outage[1]]
        unsent = stack.log("web").read_text(errors="replace").count("not queued, broker unreachable")
        slowest = max((u.answered_in for u in uploads), default=0)
        print(
            f"  uploads sent during the outage {len(during)}, answered {dict(Counter(u.status for u in during))}; "
            f"publish given up, prediction marked unsent: {unsent}; slowest upload answer {slowest:.1f} s"
        )
    print(f"uploads sent {len(uploads)}, accepted (202) {len(accepted)}; HTTP statuses of uploads "
          f"{dict(upload_statuses)}, of polls {dict(tally.poll_statuses)}; 5xx: {fivexx}")  # fmt: skip
    print(f"accepted uploads now: done {states['done']}, failed {states['failed']}, "
          f"LOST {lost} (pending {states['pending']}, missing {states['missing']}); "
          f"stored without a 202: {len(orphans)}")  # fmt: skip
    attempts = Counter(rows[u.prediction_id][2] for u in accepted if u.prediction_id in rows)
    print(
        f"attempts per prediction {dict(attempts)}; re-sent by the sweep {resent}; "
        f"tasks killed mid-run (WorkerLostError) {worker_lost}"
    )
    if latencies:
        span = max(finished for _, finished in answered) - started
        phase = last_upload - started
        print(
            f"throughput: {len(accepted) / phase:.1f} uploads/s over {phase:.1f} s; "
            f"{len(latencies) / span:.1f} predictions/s (first upload to last answer, {span:.1f} s)"
        )
        print(
            f"inference in the workers: median {statistics.median(model_ms):.0f} ms, "
            f"p95 {percentile(model_ms, 0.95):.0f} ms"
        )
        print(f"upload to result: p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")  # fmt: skip
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); logs in {stack.scratch}")
    if lost or fivexx or orphans:
        sys.exit(1)


if __name__ == "__main__":
    main()
