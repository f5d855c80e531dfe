"""A set of images that are neither cats nor dogs, for measuring the "other" verdict (bench/bench_verdict.py).

Nothing is fetched: the photos are those the scikit-image wheel ships in skimage/data (requirements/dev.txt),
read as files without importing scikit-image, and the rest is drawn here with Pillow and NumPy. From the
project root:

    .venv/bin/python -m bench.outlier_photos                 # into var/outlier-photos (never committed)
    .venv/bin/python -m bench.outlier_photos FOLDER --seed 1

Make-up, one sub-folder per kind (about 640 images with the default seed):
- photos/: the packaged photos and scientific images, whole (astronaut, coffee, rocket, motorcycle, coins,
  camera man, moon, Hubble deep field, retina, cells, bricks, grass, gravel, a page of text, ...; without
  chelsea, which is a cat, and the stereo disparity and face-detector files, which are not images);
- crops/: eight random crops of each, from a quarter to the whole of its shorter side, some mirrored;
- faces/: 100 of the 200 small grayscale faces of the packaged LFW subset, enlarged (people);
- drawings/: shapes, lines and polygons on plain or graded backgrounds;
- screens/: screenshot-like images: log-in forms, text documents, tables, code, dialogs and menus;
- textures/: noise (white, smoothed, coloured), gradients, stripes and checkerboards;
- page/: catdog's own log-in page, when Debian's chromium is installed (skipped otherwise).
"""

import argparse
import importlib.util
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = BASE_DIR / "var" / "outlier-photos"
# skimage/data files that are no use here: a cat, and files that are not photos.
EXCLUDED = {"chelsea.png", "motorcycle_disp.npz", "lbpcascade_frontalface_opencv.xml"}
PHOTO_SUFFIXES = {".png", ".jpg"}
COUNTS = {"crops_per_photo": 8, "faces": 100, "drawings": 100, "screens": 100, "textures": 100}
WORDS = (
    "account password username sign in log out settings upload photo history model version training "
    "dataset report submit cancel save delete search filter results page next previous help about "
    "privacy terms contact email address remember forgot continue status pending done failed"
).split()


def skimage_data() -> Path:
    """The folder of photos the scikit-image wheel ships, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-image is not installed: .venv/bin/pip install -r requirements/dev.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_photos() -> dict[str, Image.Image]:
    photos = {}
    for path in sorted(skimage_data().iterdir()):
        if path.suffix in PHOTO_SUFFIXES and path.name not in EXCLUDED:
            with Image.open(path) as image:
                photos[path.stem] = image.convert("RGB")
    return photos


def crops(photos: dict[str, Image.Image], rng: np.random.Generator):
    for name, photo in photos.items():
        for i in range(COUNTS["crops_per_photo"]):
            side = int(min(photo.size) * rng.uniform(0.25, 1.0))
            side = max(side, 16)
            left = int(rng.integers(0, photo.width - side + 1))
            top = int(rng.integers(0, photo.height - side + 1))
            crop = photo.crop((left, top, left + side, top + side))
            if rng.random() < 0.5:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            yield f"{name}_{i}", crop


def faces(rng: np.random.Generator):
    stack = np.load(skimage_data() / "lfw_subset.npy", allow_pickle=False)  # (200, 25, 25) in 0..1
    for i in sorted(rng.choice(len(stack), size=COUNTS["faces"], replace=False)):
        pixels = (np.clip(stack[i], 0, 1) * 255).astype(np.uint8)
        yield f"face_{i:03d}", Image.fromarray(pixels).convert("RGB").resize((100, 100), Image.Resampling.BICUBIC)


def _colour(rng) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def _background(rng, size) -> Image.Image:
    if rng.random() < 0.5:
        return Image.new("RGB", size, _colour(rng))
    start, end = np.array(_colour(rng)), np.array(_colour(rng))
    ramp = np.linspace(0, 1, size[0])[None, :, None]
    pixels = start + (end - start) * np.broadcast_to(ramp, (size[1], size[0], 1))
    return Image.fromarray(pixels.astype(np.uint8))


def drawings(rng: np.random.Generator):
    for i in range(COUNTS["drawings"]):
        size = (int(rng.integers(200, 500)), int(rng.integers(200, 500)))
        image = _background(rng, size)
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 12))):
            box = sorted(rng.integers(0, size[0], 2)), sorted(rng.integers(0, size[1], 2))
            xy = [box[0][0], box[1][0], box[0][1], box[1][1]]
            kind, width = rng.integers(0, 4), int(rng.integers(1, 8))
            if kind == 0:
                draw.ellipse(xy, fill=_colour(rng) if rng.random() < 0.6 else None, outline=_colour(rng), width=width)
            elif kind == 1:
                draw.rectangle(xy, fill=_colour(rng) if rng.random() < 0.6 else None, outline=_colour(rng), width=width)
            elif kind == 2:
                draw.line(
                    [tuple(p) for p in rng.integers(0, min(size), (int(rng.integers(2, 6)), 2))], _colour(rng), width
                )
            else:
                draw.polygon([tuple(p) for p in rng.integers(0, min(size), (int(rng.integers(3, 7)), 2))], _colour(rng))
        yield f"drawing_{i:03d}", image


def _text(rng, words: int) -> str:
    return " ".join(rng.choice(WORDS, size=words)).capitalize()


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow's own font: the same on every machine


def _login_form(draw, size, rng) -> None:
    width, height = size
    left, top = width // 4, height // 5
    draw.text((left, top), rng.choice(["Log in", "Sign in", "catdog"]), fill=(20, 20, 20), font=_font(28))
    for row, label in enumerate(("Username", "Password")):
        y = top + 60 + row * 70
        draw.text((left, y), label, fill=(60, 60, 60), font=_font(14))
        draw.rectangle([left, y + 20, width - left, y + 48], outline=(150, 150, 150), width=1)
    y = top + 210
    draw.rounded_rectangle([left, y, left + 100, y + 34], radius=6, fill=_colour(rng))
    draw.text((left + 22, y + 9), "Log in", fill=(255, 255, 255), font=_font(14))


def _document(draw, size, rng) -> None:
    y = 20
    draw.text((20, y), _text(rng, 4), fill=(0, 0, 0), font=_font(24))
    y += 45
    while y < size[1] - 20:
        draw.text((20, y), _text(rng, int(rng.integers(4, 12))), fill=(40, 40, 40), font=_font(13))
        y += int(rng.integers(18, 30))


def _table(draw, size, rng) -> None:
    columns, rows = int(rng.integers(3, 6)), int(rng.integers(5, 14))
    cell_w, cell_h = (size[0] - 40) // columns, 26
    for r in range(rows):
        fill = (230, 236, 245) if r == 0 else (255, 255, 255) if r % 2 else (247, 247, 247)
        for c in range(columns):
            box = [20 + c * cell_w, 20 + r * cell_h, 20 + (c + 1) * cell_w, 20 + (r + 1) * cell_h]
            draw.rectangle(box, fill=fill, outline=(200, 200, 200))
            cell = _text(rng, 1) if r == 0 else f"{rng.uniform(0, 1000):.1f}"
            draw.text((box[0] + 6, box[1] + 6), cell, fill=(30, 30, 30), font=_font(12))


def _code(draw, size, rng) -> None:
    y = 14
    while y < size[1] - 14:
        indent = 20 + 24 * int(rng.integers(0, 4))
        line = f"{rng.choice(['def', 'if', 'return', 'for', 'x ='])} {'_'.join(rng.choice(WORDS, 2))}():"
        draw.text((indent, y), line, fill=_colour(rng), font=_font(13))
        y += 19


def _dialog(draw, size, rng) -> None:
    width, height = size
    draw.rectangle([0, 0, width, 30], fill=_colour(rng))
    for i, word in enumerate(rng.choice(WORDS, 5)):
        draw.text((10 + 80 * i, 8), word.capitalize(), fill=(255, 255, 255), font=_font(13))
    box = [width // 6, height // 4, 5 * width // 6, 3 * height // 4]
    draw.rectangle(box, fill=(250, 250, 250), outline=(120, 120, 120), width=2)
    draw.text((box[0] + 16, box[1] + 16), _text(rng, 5) + "?", fill=(0, 0, 0), font=_font(16))
    for j, label in enumerate(("OK", "Cancel")):
        x = box[2] - 180 + 90 * j
        draw.rectangle([x, box[3] - 44, x + 76, box[3] - 14], fill=(225, 225, 225), outline=(100, 100, 100))
        draw.text((x + 16, box[3] - 37), label, fill=(0, 0, 0), font=_font(14))


SCREENS = (_login_form, _document, _table, _code, _dialog)


def screens(rng: np.random.Generator):
    for i in range(COUNTS["screens"]):
        size = (int(rng.integers(480, 1024)), int(rng.integers(360, 768)))
        shade = int(rng.integers(225, 256))
        image = Image.new("RGB", size, (shade, shade, shade) if rng.random() < 0.8 else (34, 34, 40))
        SCREENS[i % len(SCREENS)](ImageDraw.Draw(image), size, rng)
        yield f"screen_{i:03d}", image


def _texture(kind: int, side: int, rng) -> np.ndarray:
    if kind == 0:  # white noise, grey or coloured
        return rng.integers(0, 256, (side, side, 3 if rng.random() < 0.5 else 1))
    if kind == 1:  # smooth noise: coarse noise enlarged
        coarse = rng.integers(0, 256, (int(rng.integers(3, 16)),) * 2 + (3,)).astype(np.uint8)
        return np.asarray(Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC))
    y, x = np.mgrid[0:side, 0:side] / side
    angle = rng.uniform(0, math.pi)
    if kind == 2:  # stripes at an angle
        wave = np.sin((x * math.cos(angle) + y * math.sin(angle)) * rng.uniform(5, 60))
    elif kind == 3:  # checkerboard
        cells = rng.integers(2, 24)
        wave = ((np.floor(x * cells) + np.floor(y * cells)) % 2) * 2 - 1
    else:  # gradient
        wave = (x * math.cos(angle) + y * math.sin(angle)) * 2 - 1
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    return a + (b - a) * ((wave[..., None] + 1) / 2)


def textures(rng: np.random.Generator):
    for i in range(COUNTS["textures"]):
        pixels = _texture(i % 5, int(rng.integers(64, 400)), rng)
        if pixels.shape[2] == 1:
            pixels = pixels.repeat(3, axis=2)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        if rng.random() < 0.3:
            image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 4))))
        yield f"texture_{i:03d}", image


def login_page_screenshots(folder: Path) -> int:
    """catdog's own log-in page rendered by Debian's chromium at three window sizes; 0 without chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return 0
    import django
    from django.test import Client

    django.setup()
    response = Client().get("/accounts/login/", HTTP_HOST="localhost")
    if response.status_code != 200:
        print(f"The log-in page answered {response.status_code}; no screenshots of it.")
        return 0
    html = response.content.decode()
    html = html.replace('"/static/', f'"{(BASE_DIR / "static").as_uri()}/')
    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "login.html"
        page.write_text(html)
        for width, height in ((1280, 800), (800, 600), (412, 915)):
            shot = folder / f"login_{width}x{height}.png"
            command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}"]
            command += [f"--window-size={width},{height}", page.as_uri()]
            subprocess.run(command, capture_output=True, timeout=60, check=False)
            made += shot.exists()
    return made


def build(folder: Path, seed: int) -> dict[str, int]:
    """Write every kind of image under `folder` (emptied first); returns how many of each."""
    if folder.exists():
        shutil.rmtree(folder)
    rng = np.random.default_rng(seed)
    photos = packaged_photos()
    kinds = {
        "photos": iter(photos.items()),
        "crops": crops(photos, rng),
        "faces": faces(rng),
        "drawings": drawings(rng),
        "screens": screens(rng),
        "textures": textures(rng),
    }
    counts = {}
    for kind, images in kinds.items():
        (folder / kind).mkdir(parents=True)
        counts[kind] = 0
        for name, image in images:
            image.save(folder / kind / f"{name}.png")
            counts[kind] += 1
    counts["page"] = login_page_screenshots(folder / "page")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()
    counts = build(args.folder, args.seed)
    print(f"{sum(counts.values())} images in {args.folder}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    main()
