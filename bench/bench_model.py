"""Accuracy, latency, throughput and memory of a model, run the way a prediction worker runs it: its serving
files in an engine (settings.CATDOG_ENGINE, or --engine).

From the project root, on an otherwise quiet machine:

    .venv/bin/python -m bench.bench_model                                   # the shipped model's serving files
    .venv/bin/python -m bench.bench_model --engine litert
    .venv/bin/python -m bench.bench_model --model serving.onnx --head head.npz --image-size 224 --classes cat dog

Options: --data FOLDER (one sub-folder per class; default ../shared/data/catsdogs/test), --single N
(photos timed one at a time, default 200). It prints and `run_benchmark()` returns:
- test accuracy over every photo of --data (classified in batches of 32);
- single-photo latency, median and 95th percentile, of warm classifications of JPEG files from disk,
  decoding and resizing included (what `Classification.inference_ms` reports);
- batched throughput in photos per second, decoding included;
- resident memory (RSS) of this process before and after loading the model, and at its peak.
"""

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
SHIPPED = BASE_DIR / "trainer" / "shipped"
# The file each kind of serving file is shipped as (`manage.py ship_exports`).
SHIPPED_SERVING = {"serving_onnx": "catdog.serving.onnx", "serving_tflite": "catdog.serving.tflite"}
DEFAULT_DATA = BASE_DIR.parent / "shared" / "data" / "catsdogs" / "test"


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("No VmRSS in /proc/self/status")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shipped_model(calibration=None, engine: str | None = None):
    """The shipped model's serving files loaded in `engine` (default: settings.CATDOG_ENGINE), as a worker
    loads a version's; Django must be set up."""
    from django.conf import settings

    from classifier.inference import load_files
    from trainer.engines import engine_class

    sidecar = json.loads((SHIPPED / "catdog.json").read_text())
    model = SHIPPED / SHIPPED_SERVING[engine_class(engine or settings.CATDOG_ENGINE).kind]
    return load_files(
        model, SHIPPED / "catdog.head.npz", sidecar["class_names"], sidecar["image_size"], calibration, engine
    )


def run_benchmark(load, data: Path, single: int = 200) -> dict:
    """Figures of the model `load()` gives, over the photos of `data` (one sub-folder per class)."""
    class_folders = sorted(p for p in data.iterdir() if p.is_dir())
    photos = [(path, folder.name) for folder in class_folders for path in sorted(folder.iterdir())]
    figures = {"photos": len(photos)}

    figures["rss_before_load_mb"] = rss_mb()
    started = time.perf_counter()
    model = load()
    figures["load_seconds"] = time.perf_counter() - started
    figures["model"], figures["image_size"] = str(model.engine.path), model.image_size
    figures["rss_after_load_mb"] = rss_mb()

    # Spread over every class: every k-th photo of the sorted list.
    step = max(1, len(photos) // single)
    sample = [path for path, _ in photos[::step][:single]]
    for path in sample[:5]:
        model.classify(path)  # warm every cache a first photo touches
    latencies = sorted(model.classify(path).inference_ms for path in sample)
    figures["single_median_ms"] = statistics.median(latencies)
    figures["single_p95_ms"] = latencies[int(0.95 * (len(latencies) - 1))]

    started = time.perf_counter()
    results = model.classify_batch(path for path, _ in photos)
    elapsed = time.perf_counter() - started
    figures["batch_photos_per_second"] = len(photos) / elapsed
    correct = sum(result.label == label for result, (_, label) in zip(results, photos, strict=True))
    figures["accuracy"] = correct / len(photos)
    figures["rss_after_run_mb"] = rss_mb()
    figures["rss_peak_mb"] = peak_rss_mb()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", help="Default: settings.CATDOG_ENGINE.")
    parser.add_argument("--model", type=Path, help="A serving file. Default: the shipped one the engine reads.")
    parser.add_argument("--head", type=Path, help="Its head's weights (head.npz); with --model.")
    parser.add_argument("--image-size", type=int, help="With --model.")
    parser.add_argument("--classes", nargs="+", help="Class names in output order; with --model.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--single", type=int, default=200)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    django.setup()  # classifier.inference uses the trainer app's helpers and the settings

    if args.model:
        from classifier.inference import load_files

        def load():
            return load_files(args.model, args.head, args.classes, args.image_size, engine=args.engine)
    else:

        def load():
            return shipped_model(engine=args.engine)

    figures = run_benchmark(load, args.data, args.single)
    print(f"model                 {figures['model']} ({figures['image_size']}x{figures['image_size']})")
    print(f"test accuracy         {figures['accuracy']:.4f} on {figures['photos']} photos")
    print(
        f"single photo          median {figures['single_median_ms']:.1f} ms, p95 {figures['single_p95_ms']:.1f} ms "
        f"(decode + resize + model, warm, {args.single} photos)"
    )
    print(f"batched (32)          {figures['batch_photos_per_second']:.1f} photos/s, decoding included")
    print(f"model load            {figures['load_seconds']:.1f} s")
    print(
        f"RSS                   {figures['rss_before_load_mb']:.0f} MB before load, "
        f"{figures['rss_after_load_mb']:.0f} MB after, {figures['rss_after_run_mb']:.0f} MB after the run, "
        f"peak {figures['rss_peak_mb']:.0f} MB"
    )
    return figures


if __name__ == "__main__":
    main()
