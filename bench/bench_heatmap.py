"""What a heatmap costs per photo, on top of the answer: computing it, rendering it and storing it.

From the project root, on an otherwise quiet machine:

    .venv/bin/python -m bench.bench_heatmap               # --photos 200 --runs 300

With the shipped model, over --photos of the shared test photos (every k-th, both classes) and a 12 MP
phone photo made by the script (bench/bench_upload_cpu.py), it prints the median and 95th percentile of:
- the map itself (trainer/ml/heatmaps.py `class_activation_maps`), from one photo's outputs of the engine
  call, which already gives the feature maps: its share of `inference_ms`;
- rendering (classifier/heatmaps.py: reading the photo's header for its upright size, the bicubic PNG);
- storing (classifier/actions.py `do_attach_heatmap`: the file on local disk and the conditional UPDATE,
  on a scratch SQLite database that the script migrates in a temporary folder): what the prediction task
  does after the answer is committed;
- the coloured overlay that the detail page asks for (made from the stored PNG on each request, by the web).
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
    from classifier.actions import do_attach_heatmap
    from classifier.heatmaps import render_grayscale, render_overlay, upright_size
    from trainer.images import load_for_model
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
    render = lambda data, heatmap: render_grayscale(heatmap, upright_size(io.BytesIO(data)))  # noqa: E731
    rendered = {}
    photos_and_maps = {
        "shared photos, at their own size": zip(shared, heatmaps, strict=True),
        "the phone photo, 512x384": zip([phone] * len(heatmaps), heatmaps, strict=True),
    }
    for name, inputs in photos_and_maps.items():
        times, rendered[name] = zip(*(timed(render, data, heatmap) for data, heatmap in inputs), strict=True)
        size = statistics.median(map(len, rendered[name])) / 1024
        print(f"rendering, {name}: {summary(list(times))}, median {size:.1f} KiB")

    pngs = [png for name in rendered for png in rendered[name]]
    predictions = _answered_predictions(len(pngs))
    stored = [
        timed(do_attach_heatmap, prediction.pk, png)[0] for prediction, png in zip(predictions, pngs, strict=True)
    ]
    print(f"storing (local disk, SQLite): {summary(stored)}")
    for name, some in rendered.items():
        overlays = [timed(render_overlay, io.BytesIO(png)) for png in some]
        size = statistics.median(len(png) for _, png in overlays) / 1024
        print(f"overlay for the page, {name}: {summary([ms for ms, _ in overlays])}, median {size:.1f} KiB")


def _answered_predictions(count: int) -> list:
    """Answered predictions without a heatmap in the scratch database, as the task leaves them."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from classifier.models import Prediction

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench")
    return Prediction.objects.bulk_create(
        Prediction(
            owner=owner,
            original_name="photo.jpg",
            image_format="JPEG",
            width=4000,
            height=3000,
            size_bytes=1,
            status=Prediction.Status.DONE,
            label="cat",
        )  # fmt: skip
        for _ in range(count)
    )


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
