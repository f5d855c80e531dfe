"""What a heatmap costs per photo: computing it and storing its grid in the worker, drawing it in the web.

From the project root, on an otherwise quiet machine:

    .venv/bin/python -m bench.bench_heatmap               # --photos 200 --runs 300

With the shipped model, over --photos of the shared test photos (every k-th, both classes) and a 12 MP
phone photo made by the script (bench/bench_upload_cpu.py), it prints the median and 95th percentile of:
- the map itself (trainer/ml/heatmaps.py `class_activation_maps`), from one photo's outputs of the engine
  call, which already gives the feature maps: its share of `inference_ms`;
- the grid as the answer's row stores it (classifier/heatmaps.py `stored_grid`): all the worker does for the
  heatmap beyond the map, the upright size coming with the decoding;
- drawing it for a page, as the web does on request (classifier/heatmaps.py): the grayscale PNG and the
  coloured overlay, at the shared photos' own size and over the phone photo (512x384).
"""

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
DATA = BASE_DIR.parent / "shared" / "data" / "catsdogs" / "test"


def summary(milliseconds: list[float]) -> str:
    ordered = sorted(milliseconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms ({len(ordered)} runs)"


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000, result


def photos(count: int) -> list[bytes]:
    files = sorted(DATA.glob("*/*.jpg"))
    step = max(1, len(files) // count)
    return [path.read_bytes() for path in files[::step][:count]]


def run(count: int, runs: int) -> None:
    import numpy as np

    from bench.bench_model import shipped_model
    from bench.bench_upload_cpu import phone_photo
    from classifier.heatmaps import render_grayscale, render_overlay, stored_grid
    from trainer.images import load_for_model, upright_size
    from trainer.ml.heatmaps import class_activation_maps

    model = shipped_model()
    shared = photos(count)
    phone = phone_photo()
    print(f"{len(shared)} shared test photos, and a 12 MP phone photo of {len(phone) / 1e6:.1f} MB")

    outputs = model.run(load_for_model(io.BytesIO(shared[0]), (224, 224))[np.newaxis])
    best = outputs.probabilities.argmax(axis=1)
    cam = [
        timed(class_activation_maps, outputs.feature_maps, outputs.features, model.head, best)[0] for _ in range(runs)
    ]
    print(f"the map (7x7 from the engine call's feature maps): {summary(cam)}")

    heatmaps = [model.classify(io.BytesIO(data)).heatmap for data in shared]
    timings, grids = zip(*(timed(stored_grid, heatmap) for heatmap in heatmaps), strict=True)
    print(f"its grid for the row, in the worker: {summary(list(timings))}, {len(str(grids[0]))} characters")

    sizes = {
        "shared photos, at their own size": [upright_size(io.BytesIO(data)) for data in shared],
        "the phone photo, 512x384": [upright_size(io.BytesIO(phone))] * len(grids),
    }
    for name, photo_sizes in sizes.items():
        for what, draw in (("grayscale", render_grayscale), ("overlay", render_overlay)):
            times, pngs = zip(*(timed(draw, g, size) for g, size in zip(grids, photo_sizes, strict=True)), strict=True)
            size = statistics.median(map(len, pngs)) / 1024
            print(f"drawing the {what} for a page, {name}: {summary(list(times))}, median {size:.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--runs", type=int, default=300, help="timings of the map alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="catdog-bench-heatmap-") as scratch:
        os.environ["DJANGO_SETTINGS_MODULE"] = "catdog_site.settings.local"
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/db.sqlite3"
        os.environ["CATDOG_MEDIA_ROOT"] = f"{scratch}/media"
        django.setup()
        run(args.photos, args.runs)


if __name__ == "__main__":
    main()
