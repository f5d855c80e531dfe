"""Serving engines side by side, interleaved, on the same photos: today's Keras path against LiteRT, ONNX
Runtime and OpenVINO (float32), each reading the shipped model's serving files; and two JPEG decoders.

    nice -n 5 .venv/bin/python -m bench.bench_engines [--photos FOLDER] [--count 200] [--pause 0.2]
                                                      [--onnx FILE] [--tflite FILE] [--threads 2]

Each engine runs in a process of its own, started fresh, so that its memory and its start are its own. The
driver asks them in turn, one photo at a time and one engine at a time (the order rotates with every photo),
so that a busier minute of a shared machine weighs on every engine alike. Figures, each also as a ratio to
today's code ("keras": classifier/inference.py's LoadedModel at bench/today.py's TODAY, a frozen
`tf.function`):
- model call, median over the photos, busy (back to back) and idle (--pause seconds before each photo);
- with decode + resize (trainer/images.load_for_model), i.e. what a photo costs the worker;
- agreement with Keras: the largest probability difference and the photos whose top class differs;
- start to first answer (process start, imports, model load, one photo) and RSS after it, and after the
  batch-size curve;
- throughput of the model alone by batch size (1, 2, 4, 8, 16, 32), and with decoding added.
Then the decoders: Pillow with `draft` (today) against simplejpeg decoding at the same reduced scale.
"""

import argparse
import importlib.util
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.bench_model import SHIPPED, SHIPPED_SERVING

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "catsdogs" / "test"
ENGINES = ("keras", "litert", "onnxruntime", "openvino")
BATCH_SIZES = (1, 2, 4, 8, 16, 32)


def sample_photos(folder: Path, count: int) -> list[Path]:
    """The first `count` photos of `folder`, as many from each class sub-folder."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    each = math.ceil(count / len(classes))
    return [path for c in classes for path in sorted(c.glob("*.jpg"))[:each]][:count]


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- One engine in its own process ---------------------------------------------------------------------------


def _load_runner(engine: str, model: Path, threads: int):
    """A function from uint8 pixels (n, s, s, 3) to probabilities, for `engine` reading `model`."""
    if engine == "keras":
        from bench.today import today_module

        sidecar = json.loads((SHIPPED / "catdog.json").read_text())
        today = today_module("classifier/inference.py").LoadedModel(
            model, sidecar["class_names"], sidecar["image_size"]
        )
        return lambda pixels: today.run(pixels).probabilities
    from trainer.engines import load_engine

    loaded = load_engine(engine, model, threads)
    return lambda pixels: loaded.run(pixels)["probabilities"]


def child(engine: str, model: Path, photos: list[Path], size: int, threads: int) -> None:
    """Answer the driver's requests, one JSON line each, on stdin and stdout."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    django.setup()
    from trainer.images import load_for_model

    out = sys.stdout
    sys.stdout = sys.stderr  # what the runtimes print must not mix with the answers

    def answer(**fields):
        out.write(json.dumps(fields) + "\n")
        out.flush()

    started = time.perf_counter()
    run = _load_runner(engine, model, threads)
    loaded = time.perf_counter() - started
    run(load_for_model(photos[0], (size, size))[np.newaxis])
    answer(load_seconds=loaded, rss_mb=rss_mb())
    decoded = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "photo":
            started = time.perf_counter()
            pixels = load_for_model(photos[request["index"]], (size, size))[np.newaxis]
            decoding = time.perf_counter()
            probabilities = run(pixels)
            done = time.perf_counter()
            answer(
                decode_ms=(decoding - started) * 1000, model_ms=(done - decoding) * 1000, p=probabilities[0].tolist()
            )
        elif request["op"] == "batch":
            batch = request["size"]
            if decoded is None or len(decoded) < batch:
                decoded = np.stack([load_for_model(path, (size, size)) for path in photos])
                decoded = np.concatenate([decoded] * math.ceil(batch / len(decoded)))
            run(decoded[:batch])  # a new batch size: some engines prepare for it on the first call
            started = time.perf_counter()
            for start in range(0, len(decoded) - batch + 1, batch):
                run(decoded[start : start + batch])
            done = len(decoded) // batch * batch
            answer(photos_per_second=done / (time.perf_counter() - started), rss_mb=rss_mb())
        else:
            return


class Engine:
    """The driver's handle on one engine's process."""

    def __init__(self, name: str, model: Path, args):
        self.name = name
        command = [sys.executable, "-m", "bench.bench_engines", "--child", name, "--model", str(model),
                   "--photos", str(args.photos), "--count", str(args.count),
                   "--threads", str(args.threads)]  # fmt: skip
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        ready = self.read()
        self.start_to_first_answer = time.perf_counter() - started
        self.load_seconds, self.rss_loaded = ready["load_seconds"], ready["rss_mb"]
        self.busy, self.idle, self.decode, self.probabilities = [], [], [], []
        self.throughput, self.rss_after_batches = {}, float("nan")

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.read()

    def read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"The {self.name} engine's process ended (exit {self.process.wait()}).")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


def rotated(items: list, by: int) -> list:
    by %= len(items)
    return items[by:] + items[:by]


def measure_engines(args, models: dict[str, Path]) -> list[Engine]:
    engines = [Engine(name, models[name], args) for name in args.engines]  # one at a time: its start is its own
    count = args.count
    for i in range(count):
        for engine in rotated(engines, i):
            reply = engine.ask(op="photo", index=i)
            engine.busy.append(reply["model_ms"])
            engine.decode.append(reply["decode_ms"])
            engine.probabilities.append(reply["p"])
    for i in range(min(count, args.idle_count)):
        for engine in rotated(engines, i):
            time.sleep(args.pause)
            engine.idle.append(engine.ask(op="photo", index=i)["model_ms"])
    for size in BATCH_SIZES:
        for engine in rotated(engines, size):
            reply = engine.ask(op="batch", size=size)
            engine.throughput[size] = reply["photos_per_second"]
            engine.rss_after_batches = reply["rss_mb"]
    for engine in engines:
        engine.close()
    return engines


def report_engines(engines: list[Engine]) -> None:
    reference = next((e for e in engines if e.name == "keras"), engines[0])
    keras_p = np.array(reference.probabilities)

    def ratio(value, base):
        return f"{value / base:5.2f}x" if base else "  n/a"

    print(f"\n{'engine':12} {'model call busy':>18} {'idle':>16} {'+decode busy':>16} {'max |dp|':>9} {'top-1':>5}")
    for e in engines:
        busy, idle = statistics.median(e.busy), statistics.median(e.idle) if e.idle else float("nan")
        whole = statistics.median(np.add(e.busy, e.decode))
        base_busy, base_idle = statistics.median(reference.busy), statistics.median(reference.idle or [0])
        base_whole = statistics.median(np.add(reference.busy, reference.decode))
        p = np.array(e.probabilities)
        print(
            f"{e.name:12} {busy:7.2f} ms {ratio(busy, base_busy)} {idle:6.2f} ms {ratio(idle, base_idle)} "
            f"{whole:6.2f} ms {ratio(whole, base_whole)} {np.abs(p - keras_p).max():9.1e} "
            f"{int((p.argmax(1) != keras_p.argmax(1)).sum()):5d}"
        )
    print(f"\n{'engine':12} {'start to 1st answer':>21} {'model load':>11} {'RSS loaded':>17} {'after batches':>14}")
    for e in engines:
        start = e.start_to_first_answer
        print(
            f"{e.name:12} {start:8.2f} s {ratio(start, reference.start_to_first_answer)} "
            f"{e.load_seconds:9.2f} s {e.rss_loaded:7.0f} MB {ratio(e.rss_loaded, reference.rss_loaded)} "
            f"{e.rss_after_batches:10.0f} MB"
        )
    print("\nthroughput, photos/s, model alone (with decoding added at each engine's median decode)")
    print(f"{'batch':>5} " + " ".join(f"{e.name:>20}" for e in engines))
    for size in BATCH_SIZES:
        cells = []
        for e in engines:
            alone = e.throughput[size]
            with_decode = 1 / (1 / alone + statistics.median(e.decode) / 1000)
            cells.append(f"{alone:7.0f} ({with_decode:4.0f}) {ratio(alone, reference.throughput[size])}")
        print(f"{size:5d} " + " ".join(f"{c:>20}" for c in cells))


# --- Decoders --------------------------------------------------------------------------------------------------


def decode_simplejpeg(data: bytes, size: int) -> np.ndarray:
    """load_for_model's answer for a plain RGB JPEG, decoded by simplejpeg at the scale Pillow's `draft` picks."""
    import simplejpeg
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        image.draft("RGB", (2 * size, 2 * size))
        factor = width // image.size[0]
    pixels = simplejpeg.decode_jpeg(
        data, "RGB", min_factor=factor, min_height=math.ceil(height / factor), min_width=math.ceil(width / factor)
    )
    image = ImageOps.exif_transpose(Image.fromarray(pixels))
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0))


def measure_decoders(photos: list[Path], size: int) -> None:
    from trainer.images import load_for_model

    datas = [path.read_bytes() for path in photos]
    decoders = {
        "pillow (today)": lambda data: load_for_model(io.BytesIO(data), (size, size)),
        "simplejpeg": lambda data: decode_simplejpeg(data, size),
    }
    times = {name: [] for name in decoders}
    outputs = {name: [] for name in decoders}
    for _ in range(2):  # the first round warms the caches
        for name in times:
            times[name].clear()
            outputs[name].clear()
        for i, data in enumerate(datas):
            for name in rotated(list(decoders), i):
                started = time.perf_counter()
                outputs[name].append(decoders[name](data))
                times[name].append((time.perf_counter() - started) * 1000)
    base = statistics.median(times["pillow (today)"])
    print(f"\ndecode + resize to {size}x{size}, median over {len(datas)} photos")
    for name, values in times.items():
        print(f"  {name:15} {statistics.median(values):6.2f} ms  {statistics.median(values) / base:5.2f}x")
    differences = [np.abs(a.astype(int) - b).max() for a, b in zip(*outputs.values(), strict=True)]
    print(
        f"  largest pixel difference: {max(differences)}, photos with any difference: {np.count_nonzero(differences)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="a folder with one sub-folder per class")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--idle-count", type=int, default=50, help="photos of the idle pattern")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds before each photo of the idle pattern")
    parser.add_argument("--onnx", type=Path, default=SHIPPED / SHIPPED_SERVING["serving_onnx"])
    parser.add_argument("--tflite", type=Path, default=SHIPPED / SHIPPED_SERVING["serving_tflite"])
    parser.add_argument("--keras", type=Path, default=SHIPPED / "catdog.keras")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = json.loads((SHIPPED / "catdog.json").read_text())["image_size"]
    photos = sample_photos(args.photos, args.count)
    if args.child:
        return child(args.child, args.model, photos, size, args.threads)

    models = {"keras": args.keras, "litert": args.tflite, "onnxruntime": args.onnx, "openvino": args.onnx}
    print(f"{len(photos)} photos from {args.photos}, {args.threads} threads; load average {os.getloadavg()}")
    engines = measure_engines(args, models)
    report_engines(engines)
    if importlib.util.find_spec("simplejpeg") is None:
        print("\nThe decoders are not compared: simplejpeg is not installed (pip install simplejpeg).")
    else:
        measure_decoders(photos, size)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
