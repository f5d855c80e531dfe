"""Peak memory of a training, before and after photos were streamed from disk, for 2,000 and 20,000 photos.

Each training is `manage.py train_model` (MobileNetV2, features of the frozen backbone, then the head)
in a process of its own; its peak resident set size comes from the kernel (`os.wait4`). The old code
is the project at `--old-ref`, unpacked from git into a temporary folder and run there with the same
virtualenv; the new code is this checkout. The 2,000 photos are `../shared/data/catsdogs/train`; the
20,000 are synthetic JPEGs this script makes in a temporary folder.

    .venv/bin/python bench/bench_training_memory.py            # --image-size 128 --old-ref 0e630ba
"""

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED = BASE_DIR.parent / "shared"
REAL_PHOTOS = SHARED / "data" / "catsdogs" / "train"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_224_no_top.weights.h5"
# The last commit before training streamed its photos (it held them all in one array, and a copy).
OLD_REF = "0e630ba"


def unpack_old_code(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", ref], cwd=BASE_DIR, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def make_synthetic_photos(root: Path, count: int, seed: int = 0) -> Path:
    """`count` JPEGs of 320x240 in two classes: a class colour, a gradient and noise, so each decodes for real."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 80, 320)[None, :, None]
    for index in range(count):
        label = ("cat", "dog")[index % 2]
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array((190, 90, 60) if label == "cat" else (60, 110, 190))
        pixels = np.clip(base + ramp + rng.normal(0, 30, (240, 320, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{label}.{index}.jpg", quality=85)
    return root


def peak_rss_of_training(checkout: Path, photos: Path, image_size: int, scratch: Path) -> tuple[float, float]:
    """Train in `checkout` on `photos`; the process's peak resident memory in MiB, and its wall time in s."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CATDOG_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "catdog_site.settings.local"
    if WEIGHTS.is_file():
        env["CATDOG_MOBILENET_WEIGHTS"] = str(WEIGHTS)  # the same weights for both, read from disk
    output = scratch / f"model-{time.monotonic_ns()}.keras"
    command = [sys.executable, "manage.py", "train_model", str(photos), "--arch", "mobilenet_v2"]
    command += ["--image-size", str(image_size), "--epochs", "2", "--output", str(output), "--no-register"]
    log = scratch / "training.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT)
        # wait4, not wait(): it hands back this one process's resource usage, peak RSS included.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"training in {checkout} failed:\n{text[-3000:]}")
    accuracy = next((line for line in text.splitlines() if line.startswith("Test accuracy")), "")
    print(f"    {accuracy}", flush=True)
    return usage.ru_maxrss / 1024, elapsed  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old-ref", default=OLD_REF, help="the git commit of the code that held every photo")
    parser.add_argument("--image-size", type=int, default=128, help="224 is the default of a training; slower")
    parser.add_argument("--synthetic", type=int, default=20000, help="how many synthetic photos")
    args = parser.parse_args()
    if not REAL_PHOTOS.is_dir():
        sys.exit(f"{REAL_PHOTOS} is missing: it holds the 2,000 photos of the first measurement.")

    with tempfile.TemporaryDirectory(prefix="catdog-bench-memory-") as tmp:
        tmp = Path(tmp)
        old = unpack_old_code(args.old_ref, tmp / "old")
        print(f"Making {args.synthetic:,} synthetic photos...", flush=True)
        synthetic = make_synthetic_photos(tmp / "synthetic", args.synthetic)
        rows = []
        for name, photos in ((f"{2000:,} photos", REAL_PHOTOS), (f"{args.synthetic:,} synthetic", synthetic)):
            figures = {}
            for code, checkout in (("old", old), ("new", BASE_DIR)):
                print(f"{name}, {code} code, {args.image_size}x{args.image_size}:", flush=True)
                figures[code] = peak_rss_of_training(checkout, photos, args.image_size, tmp)
                print(f"    peak RSS {figures[code][0]:,.0f} MiB in {figures[code][1]:.0f} s", flush=True)
            rows.append((name, figures))

    print(f"\nPeak RSS of a MobileNetV2 training at {args.image_size}x{args.image_size} (2 epochs):")
    for name, figures in rows:
        (old_rss, old_s), (new_rss, new_s) = figures["old"], figures["new"]
        print(
            f"  {name}: old {old_rss:,.0f} MiB ({old_s:.0f} s), new {new_rss:,.0f} MiB ({new_s:.0f} s), "
            f"old/new {old_rss / new_rss:.2f}x"
        )


if __name__ == "__main__":
    main()
