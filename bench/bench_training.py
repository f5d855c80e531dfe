"""Retraining with the admin's default settings, end to end through the workers, and what it does to
prediction latency meanwhile.

    .venv/bin/python bench/bench_training.py [--broker redis://127.0.0.1:6379/10] [--probes 40]

In a scratch folder it starts gunicorn, a prediction worker and a training worker (as `make run` does,
but on Redis), adds ../shared/data/catsdogs/train and .../test as server-folder datasets and waits for
the training worker to check them, then:
  1. measures upload-to-result latency over the REST API with the machine otherwise idle, one photo
     every --gap seconds (a steady trickle of users, not a flood);
  2. queues a training of the train dataset with the training form's defaults, measured on the test
     dataset (the 1,000 test photos), and keeps measuring latency the same way while it runs;
  3. prints the training's wall time, its test accuracy and per-class scores, and both latencies.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_api import (  # noqa: E402
    PHOTOS,
    PY,
    ROOT,
    api_session,
    percentile,
    prepare,
    round_trip,
    scratch_environment,
    wait_for,
)

SHARED = ROOT.parent / "shared"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--port", type=int, default=8912)
    parser.add_argument("--probes", type=int, default=40, help="idle latency samples")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between latency probes (idle and busy)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="catdog-bench-training-"))
    env = scratch_environment(
        scratch,
        args.broker,
        CATDOG_DATASET_FOLDER_ROOTS=str(SHARED / "data"),
        CATDOG_MOBILENET_WEIGHTS=str(SHARED / "weights" / "mobilenet_v2_1.0_224_no_top.weights.h5"),
    )
    prepare(env, ("predictions", "training", "datasets"))
    os.environ.update(env)  # this process reads the same database through Django

    import django

    django.setup()
    processes = _start_processes(env, args.port, scratch / "processes.log")
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_for(lambda: requests.get(f"{base}/accounts/login/", timeout=2).ok, 60, "the web server")
        train, test = _checked_datasets()
        api = api_session(base)
        photos = sorted((PHOTOS / "cat").glob("*.jpg"))[:50] + sorted((PHOTOS / "dog").glob("*.jpg"))[:50]

        def probe(i: int) -> float:
            return round_trip(api, base, photos[i % len(photos)])[0]

        for i in range(5):
            probe(i)  # warm: TensorFlow and the model load on the first task
        idle = []
        for i in range(args.probes):
            idle.append(probe(i))
            time.sleep(args.gap)
        version, wall, busy = _train_while_probing(train, test, probe, args.gap)
        _print_training(version, wall)
        for label, values in (("idle", idle), ("during training", busy)):
            print(f"prediction latency {label} ({len(values)} photos): median {statistics.median(values):.0f} ms, "
                  f"p95 {percentile(values, 0.95):.0f} ms")  # fmt: skip
        print(f"ratio of medians, training / idle: {statistics.median(busy) / statistics.median(idle):.2f}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def _start_processes(env: dict, port: int, log_path: Path) -> list[subprocess.Popen]:
    """gunicorn, a prediction worker and a training worker, as `make run` starts them."""
    logs = open(log_path, "wb")

    def start(command):
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT)

    celery = [PY, "-m", "celery", "-A", "catdog_site", "worker", "--concurrency", "1", "--loglevel", "WARNING",
              "--without-mingle", "--without-gossip"]  # fmt: skip
    return [
        start([PY, "-m", "gunicorn", "catdog_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]),
        start([*celery, "--queues", "predictions", "--hostname", "bench-predictions@%h"]),
        start([*celery, "--queues", "training,datasets", "--hostname", "bench-training@%h"]),
    ]


def _checked_datasets():
    """The train and test folders as server-folder datasets, once the training worker has checked them."""
    from trainer.actions import do_create_dataset
    from trainer.models import Dataset

    started = time.monotonic()
    train = do_create_dataset(Dataset(name="catsdogs-train", source="folder", path=str(SHARED / "data/catsdogs/train")))
    test = do_create_dataset(Dataset(name="catsdogs-test", source="folder", path=str(SHARED / "data/catsdogs/test")))
    for dataset in (train, test):
        wait_for(lambda d=dataset: Dataset.objects.get(pk=d.pk).status in ("ready", "failed"), 900, "the datasets")
        dataset.refresh_from_db()
        assert dataset.status == "ready", dataset.error
    print(f"datasets checked: {train.report['total']} + {test.report['total']} photos "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    return train, test


def _train_while_probing(train, test, probe, gap: float):
    """Queue a training with the form's defaults and probe the latency while it runs: the version once
    ready, the wall time from queued to ready, and the latencies."""
    from trainer.actions import do_request_training
    from trainer.forms import TrainingForm
    from trainer.models import ModelVersion

    # The form as an admin first sees it, with only the test dataset chosen.
    data = {name: field.initial() if callable(field.initial) else field.initial
            for name, field in TrainingForm.base_fields.items() if field.initial is not None}  # fmt: skip
    form = TrainingForm({**data, "test_dataset": test.pk}, dataset=train)
    assert form.is_valid(), form.errors
    version, _ = do_request_training(train, name="bench-defaults", params=form.params(), test_dataset=test)
    queued = time.monotonic()
    busy, stop = [], threading.Event()

    def keep_probing():
        i = 0
        while not stop.is_set():
            if ModelVersion.objects.filter(pk=version.pk, status="running").exists():
                busy.append(probe(i))
                i += 1
            stop.wait(gap)

    prober = threading.Thread(target=keep_probing)
    prober.start()
    wait_for(lambda: not ModelVersion.objects.get(pk=version.pk).in_progress, 1800, "the training")
    stop.set()
    prober.join()
    wall = time.monotonic() - queued
    version.refresh_from_db()
    assert version.status == "ready", version.error
    return version, wall, busy


def _print_training(version, wall: float) -> None:
    metrics = version.metrics
    print(f"training with the form's defaults ({version.params}):")
    print(f"  wall time from queued to ready: {wall:.0f} s "
          f"(the pipeline's own measure: {metrics['training_seconds']:.0f} s)")  # fmt: skip
    print(f"  test accuracy on {metrics['num_test']} photos: {metrics['accuracy']:.4f} "
          f"(trained on {metrics['num_train']})")  # fmt: skip
    for name, scores in metrics["per_class"].items():
        print(f"    {name}: precision {scores['precision']:.4f} recall {scores['recall']:.4f} f1 {scores['f1']:.4f}")
    print(f"  confusion matrix: {metrics['confusion_matrix']}")


if __name__ == "__main__":
    main()
