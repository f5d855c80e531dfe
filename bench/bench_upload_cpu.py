"""Web CPU per upload check of a 12-megapixel JPEG: the upload validation of a git revision against today's.

From the project root, on an otherwise quiet machine:

    .venv/bin/python bench/bench_upload_cpu.py                 # against the revision before reduced decoding
    .venv/bin/python bench/bench_upload_cpu.py --old-rev HEAD~3 --runs 30

The photo (4000x3000, JPEG quality 90, about 4.7 MB) is made by the script. The old
`classifier/validation.py` is read with `git show REV:classifier/validation.py` and loaded as a module
of its own beside today's, so both run in the same process on the same photo. Each check is timed in CPU
seconds of this process (time.process_time), the median over --runs; it prints both and their ratio.
"""

import argparse
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
# The last revision whose upload check decoded every pixel at full size.
DEFAULT_OLD_REV = "0e630ba"


def phone_photo(size=(4000, 3000)) -> bytes:
    """Smooth shapes (coarse noise, enlarged) with a fine sensor-like grain: about 4.7 MB at quality 90, as a
    phone's 12 MP photo (pure noise would be 9.6 MB, and all the time would go to reading it)."""
    from PIL import Image

    def band():
        shapes = Image.effect_noise((size[0] // 4, size[1] // 4), 60).resize(size, Image.Resampling.BICUBIC)
        return Image.blend(shapes, Image.effect_noise(size, 12), 0.3)

    picture = Image.merge("RGB", [band() for _ in range(3)])
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def load_old_validation(rev: str):
    source = subprocess.run(
        ["git", "show", f"{rev}:classifier/validation.py"], cwd=BASE_DIR, check=True, capture_output=True, text=True
    ).stdout.replace("from trainer.ml.images import", "from trainer.images import")  # moved since
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("old_validation", f.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.unlink(f.name)
    return module


def cpu_seconds_per_check(check, data: bytes, runs: int) -> float:
    from django.core.files.uploadedfile import SimpleUploadedFile

    timings = []
    for _ in range(runs):
        upload = SimpleUploadedFile("phone.jpg", data, content_type="image/jpeg")
        started = time.process_time()
        check(upload)
        timings.append(time.process_time() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-rev", default=DEFAULT_OLD_REV)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    django.setup()
    from PIL import Image

    from classifier import validation

    data = phone_photo()
    guard = Image.MAX_IMAGE_PIXELS
    new = cpu_seconds_per_check(validation.check_image_upload, data, args.runs)
    old = cpu_seconds_per_check(load_old_validation(args.old_rev).check_image_upload, data, args.runs)
    Image.MAX_IMAGE_PIXELS = guard  # the old check switched Pillow's guard off for the whole process
    print(f"12 MP JPEG ({len(data) / 1e6:.1f} MB), median of {args.runs} checks, CPU time of the web process:")
    print(f"  {args.old_rev} (full decode): {old * 1000:.0f} ms")
    print(f"  today (reduced decode):       {new * 1000:.0f} ms")
    print(f"  ratio: {old / new:.1f}x less CPU per photo")


if __name__ == "__main__":
    main()
