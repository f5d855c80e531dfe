"""Soak: `make run`'s whole stack for N minutes, one upload a second, with faults and work in the middle.

    .venv/bin/python bench/soak.py [--minutes 30] [--port 8765]

It starts `make run` in a scratch folder of its own (its own CATDOG_VAR_DIR, media, port; the developer's
var/ is never touched), so beat, the sweep and every worker run as they would for a person. Through the
REST API it uploads one test photo a second and polls each until it is answered. A third of the way in,
it adds a small dataset (a zip built in memory from ../shared/data/catsdogs/train, read in place) and,
once the datasets worker has checked it, starts a short training on it (the actions the admin form
calls). Half way, it kills the prediction worker's pool process with SIGKILL. At the end it waits for the
last answers, then reports: uploads answered (done, failed with a reason) and any still pending (lost),
upload-to-answer latency, the dataset's and training's outcome, the processes supervisord restarted and
any it holds dead, and the load average. Exit status 1 if anything was lost or left dead.
"""

import argparse
import getpass
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PHOTOS = ROOT.parent / "shared" / "data" / "catsdogs"
USER, PASSWORD = "soak", "soak-pass-123"  # a scratch database's only user
ANSWER_GRACE_SECONDS = 120  # after the last upload, for the queue to drain (a restarted pool reloads the model)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Stack:
    """`make run` on its own port and var folder; supervisorctl against it."""

    def __init__(self, scratch: Path, port: int):
        self.scratch, self.port = scratch, port
        self.url = f"http://127.0.0.1:{port}/"
        self.env = {
            **os.environ,
            "CATDOG_VAR_DIR": str(scratch / "var"),
            "CATDOG_MEDIA_ROOT": str(scratch / "media"),
            "DJANGO_SETTINGS_MODULE": "catdog_site.settings.local",
        }
        self.console_path = scratch / "console.log"
        self.process = None

    def start(self, timeout: float = 600) -> None:
        console = open(self.console_path, "wb")
        self.process = subprocess.Popen(
            ["make", "run", f"PORT={self.port}", f"CATDOG_VAR_DIR={self.scratch / 'var'}"],
            cwd=ROOT, env=self.env, stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while "catdog is up" not in self.console():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"make run did not come up; see {self.console_path}")
            time.sleep(1)

    def console(self) -> str:
        return self.console_path.read_text(errors="replace")

    def supervisorctl(self, *args: str) -> str:
        command = [str(ROOT / ".venv/bin/supervisorctl"), "-c", str(ROOT / "supervisord.conf"), *args]
        env = {**self.env, "CATDOG_HOST": "127.0.0.1", "CATDOG_PORT": str(self.port), "CATDOG_USER": getpass.getuser()}
        return subprocess.run(command, env=env, capture_output=True, text=True).stdout

    def stop(self) -> float:
        """Ctrl-C, as a person would; the seconds until make returned."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=60)
        return time.monotonic() - started


def django_setup(stack: Stack) -> None:
    """This process talks to the stack's database and broker too (for the user, dataset and training)."""
    os.environ.update({k: stack.env[k] for k in ("CATDOG_VAR_DIR", "CATDOG_MEDIA_ROOT", "DJANGO_SETTINGS_MODULE")})
    import django

    django.setup()


def api_session(stack: Stack) -> requests.Session:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user(USER, password=PASSWORD)
    api = requests.Session()
    api.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"
    return api


class Uploads:
    """One upload a second from the main thread; a poller thread records when each is answered."""

    def __init__(self, stack: Stack, api: requests.Session):
        self.stack, self.api = stack, api
        self.photos = sorted((PHOTOS / "test" / "cat").glob("*.jpg")) + sorted((PHOTOS / "test" / "dog").glob("*.jpg"))
        self.sent: dict[int, float] = {}  # prediction id -> when its upload started
        self.answers: dict[int, tuple[float, dict]] = {}  # id -> (seconds to answer, body)
        self.refused: list[str] = []  # uploads not answered 202
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def upload(self, n: int) -> None:
        photo = self.photos[n % len(self.photos)]
        started = time.monotonic()
        try:
            r = self.api.post(self.stack.url + "api/predictions/", files={"image": (photo.name, photo.read_bytes())})
        except requests.RequestException as error:
            self.refused.append(f"{photo.name}: {error}")
            return
        if r.status_code != 202:
            self.refused.append(f"{photo.name}: HTTP {r.status_code} {r.text[:200]}")
            return
        with self.lock:
            self.sent[r.json()["id"]] = started

    def poll(self) -> None:
        while not self.stopped.is_set():
            with self.lock:
                waiting = [pk for pk in self.sent if pk not in self.answers]
            for pk in waiting:
                try:
                    body = self.api.get(f"{self.stack.url}api/predictions/{pk}/", timeout=10).json()
                except (requests.RequestException, ValueError):
                    continue  # counted as pending until answered
                if body["status"] != "pending":
                    self.answers[pk] = (time.monotonic() - self.sent[pk], body)
            time.sleep(0.2)

    def pending(self) -> list[int]:
        with self.lock:
            return [pk for pk in self.sent if pk not in self.answers]


def small_dataset_zip(per_class: int = 20) -> bytes:
    """A zip of a few training photos, one folder per class, read where they lie."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("cat", "dog"):
            for photo in sorted((PHOTOS / "train" / label).glob("*.jpg"))[:per_class]:
                archive.write(photo, f"{label}/{photo.name}")
    return buffer.getvalue()


def add_dataset():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from trainer.actions import do_create_dataset
    from trainer.models import Dataset

    dataset = Dataset(name=f"soak-{int(time.time())}", source=Dataset.Source.ZIP)
    return do_create_dataset(dataset, archive=SimpleUploadedFile("soak.zip", small_dataset_zip()))


def start_training(dataset):
    from trainer.actions import do_request_training

    params = {"architecture": "simple_cnn", "image_size": 64, "epochs": 2, "batch_size": 8, "learning_rate": 0.001,
              "augmentation": "none", "dropout": 0.3, "test_split": 0.25, "seed": 7}  # fmt: skip
    version, _ = do_request_training(dataset, name="soak training", params=params)
    return version


def kill_prediction_pool(stack: Stack) -> str:
    import psutil

    main_pid = int(stack.supervisorctl("pid", "predictions").strip())
    pool = psutil.Process(main_pid).children()
    if not pool:
        return "no pool process to kill"
    pool[0].send_signal(signal.SIGKILL)
    return f"SIGKILLed the prediction worker's pool process {pool[0].pid}"


def run_events(stack: Stack, uploads: Uploads, seconds: float, log: list[str]) -> dict:
    """The uploads, with the dataset, training and kill at their times; returns the dataset and training."""
    from trainer.models import Dataset

    started = time.monotonic()
    state = {"dataset": None, "training": None, "killed": False}
    n = 0
    while (elapsed := time.monotonic() - started) < seconds:
        uploads.upload(n)
        n += 1
        if state["dataset"] is None and elapsed > seconds / 3:
            state["dataset"] = add_dataset()
            log.append(f"{elapsed:6.0f} s  dataset {state['dataset'].name} added (40 photos, zip)")
        elif state["dataset"] is not None and state["training"] is None:
            state["dataset"].refresh_from_db()
            if state["dataset"].status == Dataset.Status.READY:
                state["training"] = start_training(state["dataset"])
                log.append(f"{elapsed:6.0f} s  dataset checked; training #{state['training'].pk} queued")
        if not state["killed"] and elapsed > seconds / 2:
            log.append(f"{elapsed:6.0f} s  {kill_prediction_pool(stack)}")
            state["killed"] = True
        time.sleep(max(0.0, started + n - time.monotonic()))
    return state


def dead_processes(stack: Stack) -> list[str]:
    lines = [line for line in stack.supervisorctl("status").splitlines() if line.strip()]
    return [line for line in lines if "RUNNING" not in line]


def restarts(console: str) -> dict[str, int]:
    spawned = re.findall(r"spawned: '(\w+)'", console)
    return {name: spawned.count(name) - 1 for name in sorted(set(spawned)) if spawned.count(name) > 1}


def report(uploads: Uploads, state: dict, stack: Stack, log: list[str], loads: tuple[str, str]) -> bool:
    answers = [body for _, body in uploads.answers.values()]
    latencies = [seconds * 1000 for seconds, _ in uploads.answers.values()]
    done = sum(body["status"] == "done" for body in answers)
    failed = [body for body in answers if body["status"] == "failed"]
    pending, dead = uploads.pending(), dead_processes(stack)
    print("\n".join(log))
    total = len(uploads.sent) + len(uploads.refused)
    print(f"uploads: {total}; accepted (202) {len(uploads.sent)}, refused {len(uploads.refused)}; done {done}, "
          f"failed {len(failed)}, still pending (lost) {len(pending)}")  # fmt: skip
    for body in failed[:5]:
        print(f"  failed #{body['id']}: {body['error']}")
    for line in uploads.refused[:5]:
        print(f"  refused: {line}")
    if latencies:
        print(f"upload to answer: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
              f"max {max(latencies):.0f} ms")  # fmt: skip
    for key in ("dataset", "training"):
        if state[key] is not None:
            state[key].refresh_from_db()
            print(f"{key}: {state[key].status} {getattr(state[key], 'error', '')}".rstrip())
    print(f"restarts by supervisord: {restarts(stack.console()) or 'none'}")
    replaced = (stack.scratch / "var" / "log" / "predictions.log").read_text().count("exited with 'signal 9")
    print(f"prediction pool processes killed and replaced by Celery: {replaced}")
    print(f"processes not running at the end: {dead or 'none'}")
    print(f"load average (1, 5, 15 min): {loads[0]} at the start, {loads[1]} at the end")
    return not pending and not dead and not uploads.refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="catdog-soak-", dir="/tmp")), args.port)
    print(f"scratch folder: {stack.scratch}; console: {stack.console_path}", flush=True)
    stack.start()
    django_setup(stack)
    uploads, log = Uploads(stack, api_session(stack)), []
    poller = threading.Thread(target=uploads.poll, daemon=True)
    poller.start()
    loads = [load_average()]
    try:
        state = run_events(stack, uploads, args.minutes * 60, log)
        deadline = time.monotonic() + ANSWER_GRACE_SECONDS
        while uploads.pending() and time.monotonic() < deadline:
            time.sleep(1)
        uploads.stopped.set()
        loads.append(load_average())
        ok = report(uploads, state, stack, log, tuple(loads))
    finally:
        print(f"Ctrl-C stopped the stack in {stack.stop():.1f} s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
