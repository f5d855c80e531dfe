"""How well the near-duplicate fingerprint (trainer/near_duplicates.py) finds copies of a photo, and how rarely
it takes two different photos for copies: the measurement its hashes and THRESHOLD were chosen by.

From the project root:

    .venv/bin/python -m bench.bench_near_duplicates            # --photos 400 --seed 0

Training photos only (shared/data/catsdogs/train; the test photos are never looked at). For --photos of them,
drawn with --seed, it makes one near-duplicate of each kind: resized to half each side, re-compressed at JPEG
quality 40, mirrored, and cropped by 10% from the left, the right, the top, the bottom, or 5% from every side
(the centre kept); each copy is a JPEG file hashed as ingestion hashes a photo. It prints, at several
thresholds, the share of copies found (the copy within the threshold of its original, either orientation), and
the false matches: pairs of distinct training photos, among all pairs of the 2,000, within the threshold. It
does so for pHash alone (64 bits) and for catdog's fingerprint (pHash + dHash + vertical dHash, 192 bits), and
prints the pairs of distinct photos that match at THRESHOLD, to look at: a "false" match can be a real copy.

Then it times what the leakage check adds to a training (trainer/ml/data.py `without_leakage`: fingerprinting
the 2,000 training and 1,003 test photos and comparing every training photo with every test photo), and says how
many training photos it leaves out; the test photos are only timed and counted here, nothing is chosen on them.
"""

import argparse
import io
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django
import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
TRAIN = BASE_DIR.parent / "shared" / "data" / "catsdogs" / "train"
TEST = TRAIN.parent / "test"
KINDS = ("half", "jpeg40", "mirror", "crop-left", "crop-right", "crop-top", "crop-bottom", "crop-centre")


def copies(data: bytes) -> dict[str, bytes]:
    """One near-duplicate of each kind of a photo, each a JPEG file."""
    from PIL import Image, ImageOps

    from trainer.images import to_rgb

    with Image.open(io.BytesIO(data)) as opened:
        image = to_rgb(opened)
    width, height = image.size
    dx, dy = round(width * 0.1), round(height * 0.1)
    made = {
        "half": image.resize((width // 2, height // 2), Image.Resampling.LANCZOS),
        "mirror": ImageOps.mirror(image),
        "crop-left": image.crop((dx, 0, width, height)),
        "crop-right": image.crop((0, 0, width - dx, height)),
        "crop-top": image.crop((0, dy, width, height)),
        "crop-bottom": image.crop((0, 0, width, height - dy)),
        "crop-centre": image.crop((dx // 2, dy // 2, width - dx // 2, height - dy // 2)),
    }
    files = {kind: _jpeg(picture, 90) for kind, picture in made.items()}
    files["jpeg40"] = _jpeg(image, 40)
    return files


def _jpeg(image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=400, help="training photos copied (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
    django.setup()
    from trainer.near_duplicates import THRESHOLD, Fingerprints, fingerprint_of_file, near_pairs

    paths = sorted(TRAIN.glob("*/*.jpg"))
    chosen = random.Random(args.seed).sample(paths, args.photos)
    threads = len(os.sched_getaffinity(0))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        every = Fingerprints.of(list(pool.map(fingerprint_of_file, paths)))
    seconds = time.perf_counter() - started
    print(f"{len(paths)} training photos fingerprinted in {seconds:.1f} s on {threads} threads")

    index = {path: i for i, path in enumerate(paths)}
    originals = Fingerprints(every.words[[index[p] for p in chosen]], every.mirror_words[[index[p] for p in chosen]])
    made = {kind: [] for kind in KINDS}
    with ThreadPoolExecutor(threads) as pool:
        for files in pool.map(copies, (path.read_bytes() for path in chosen)):
            for kind in KINDS:
                made[kind].append(io.BytesIO(files[kind]))
    found = {
        kind: _copy_distances(originals, Fingerprints.of([fingerprint_of_file(f) for f in made[kind]]))
        for kind in KINDS
    }

    distinct = _all_pair_distances(every)
    pairs = len(paths) * (len(paths) - 1) // 2
    hashes = (
        ("pHash alone (64 bits)", (0,), range(6, 17, 2)),
        ("pHash + dHash + vertical dHash (192 bits)", (0, 1, 2), range(34, 53, 3)),
    )
    for name, words, thresholds in hashes:
        print(f"\n{name}: share of the {args.photos} copies found, and false matches among the {pairs:,} pairs")
        print(f"{'≤ bits':>7} " + " ".join(f"{kind:>11}" for kind in KINDS) + f" {'false matches':>22}")
        for threshold in thresholds:
            recall = " ".join(f"{100 * np.mean(found[kind][words] <= threshold):10.1f}%" for kind in KINDS)
            false = int(np.sum(distinct[words] <= threshold))
            print(f"{threshold:>7} {recall} {false:>8} ({false / pairs:.1e})")

    print(f"\nPairs of distinct training photos within THRESHOLD = {THRESHOLD}:")
    for i, j, distance in near_pairs(every, threshold=THRESHOLD):
        print(f"  {paths[i].parent.name}/{paths[i].name}  {paths[j].parent.name}/{paths[j].name}  {distance} bits")
    _time_leakage_check()


def _time_leakage_check() -> None:
    from trainer.ml.data import Datasets, list_class_folder, without_leakage

    train_paths, y_train, class_names = list_class_folder(TRAIN)
    test_paths, y_test, _ = list_class_folder(TEST, class_names)
    datasets = Datasets(class_names, train_paths, y_train, test_paths, y_test)
    started, cpu = time.perf_counter(), time.process_time()
    datasets = without_leakage(datasets)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"\nLeakage check of a training on the {len(train_paths)} training and {len(test_paths)} test photos: "
        f"{seconds:.1f} s ({cpu:.1f} s of CPU, load average {os.getloadavg()[0]:.1f}); "
        f"{len(datasets.leaked)} training photo(s) left out"
    )
    for leaked in datasets.leaked:
        print(
            f"  {leaked.path.parent.name}/{leaked.path.name} like test {leaked.test_path.name}, {leaked.distance} bits"
        )


def _copy_distances(originals, copied) -> dict:
    """For each subset of the three words (pHash alone, all three): each copy's distance to its original."""
    return {
        words: np.minimum(
            _summed(originals.words, copied.words, words), _summed(originals.words, copied.mirror_words, words)
        )
        for words in ((0,), (0, 1, 2))
    }


def _summed(a, b, words) -> np.ndarray:
    return sum(np.bitwise_count(a[:, w] ^ b[:, w]).astype(np.int16) for w in words)


def _all_pair_distances(every) -> dict:
    """The distance of every pair of distinct photos (upper triangle), for pHash alone and for all three words."""
    upper = np.triu_indices(len(every), 1)
    result = {}
    for words in ((0,), (0, 1, 2)):
        straight = sum(
            np.bitwise_count(every.words[:, None, w] ^ every.words[None, :, w]).astype(np.int16) for w in words
        )
        mirrored = sum(
            np.bitwise_count(every.words[:, None, w] ^ every.mirror_words[None, :, w]).astype(np.int16) for w in words
        )
        result[words] = np.minimum(straight, mirrored)[upper]
    return result


if __name__ == "__main__":
    main()
