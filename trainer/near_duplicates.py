"""Near-duplicate photos: the same picture re-encoded, resized, mirrored or slightly cropped.

Each photo gets a fingerprint of three 64-bit perceptual hashes (imagehash): the DCT hash (pHash) and the
horizontal and vertical difference hashes (dHash), of the photo upright as people see it (EXIF orientation
applied, trainer/images.py) and of its mirror image. Two photos are near-duplicates when the summed Hamming
distance of their three hashes, or of one's hashes and the other's mirror hashes, is at most THRESHOLD bits.
A featureless picture (one colour all over) is nobody's near-duplicate.

Why three hashes and that threshold: bench/bench_near_duplicates.py makes resized, re-compressed, mirrored and
10%-cropped copies of training photos and counts how many are found, and how many pairs of distinct training
photos are taken for near-duplicates (README, "Near-duplicates and leakage"). pHash alone finds every
resized, re-compressed or mirrored copy but only a third to a half of the 10% crops before distinct photos
start to match; a crop from a side moves the horizontal or the vertical gradients, rarely both, so the two
difference hashes added to pHash find most crops at the same rate of false matches.

Comparisons are vectorised: the fingerprints of n photos are an (n, 3) array of uint64, compared a block of
rows at a time with NumPy's popcount, never a Python loop over pairs: the 50 million pairs of 10,000 photos
take about two seconds.

NumPy, Pillow and imagehash only: the web process reads the dataset report with it, the ingestion stores the
fingerprints (trainer/datasets/collection.py), training drops the training photos that leak into its test
photos (trainer/ml/data.py).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import imagehash
import numpy as np
from PIL import Image

from .images import to_rgb

# At most this many bits apart, of the 192 of a fingerprint: a near-duplicate. Chosen by
# bench/bench_near_duplicates.py on the 2,000 training photos of cats and dogs as the largest threshold at which
# at most 5 in a million pairs of distinct photos match: 5 of the 1,999,000 pairs (and one real copy the set
# holds, dog.74 and dog.180), where 86% to 94% of the 10% crops from a side, 99% of the centre crops, and
# every resized, re-compressed or mirrored copy are found (README, "Near-duplicates and leakage").
THRESHOLD = 46
# The photo is shrunk to this many pixels a side (a JPEG decoded at a reduced scale on the way): the hashes
# look at 32×32 pixels at most.
_SIDE = 64
# Rows compared at once: a block of 256 rows against 10,000 photos is 256 × 10,000 × 3 words.
_BLOCK = 256


@dataclass(frozen=True)
class Fingerprint:
    """A photo's hashes as DatasetImage stores them (hex): pHash, then dHash and vertical dHash together."""

    phash: str
    phash_mirror: str
    dhash: str
    dhash_mirror: str


def fingerprint(image: Image.Image) -> Fingerprint:
    """The fingerprint of an opened photo, upright as people see it."""
    # Every hash shrinks the photo to 32×32 pixels or fewer: shrinking it once to 64×64 costs less than
    # shrinking the full photo six times, and a mirror image of 64×64 pixels is nearly free.
    gray = to_rgb(image).convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS)
    mirror = gray.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return Fingerprint(
        phash=_hex(imagehash.phash(gray)),
        phash_mirror=_hex(imagehash.phash(mirror)),
        dhash=_difference_hashes(gray),
        dhash_mirror=_difference_hashes(mirror),
    )


def _difference_hashes(gray: Image.Image) -> str:
    return _hex(imagehash.dhash(gray)) + _hex(imagehash.dhash_vertical(gray))


def _hex(image_hash: imagehash.ImageHash) -> str:
    """The hash as str() writes it (first bit most significant), without its bit-by-bit string."""
    return np.packbits(image_hash.hash).tobytes().hex()


def fingerprint_of_file(source: str | Path | BinaryIO) -> Fingerprint:
    """The fingerprint of a photo file; raises what Pillow raises on a file it cannot decode."""
    with Image.open(source) as image:
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (_SIDE, _SIDE))  # square: an EXIF quarter turn keeps it large enough
        return fingerprint(image)


@dataclass
class Fingerprints:
    """The fingerprints of n photos as arrays: `words` (n, 3) uint64, `mirror_words` those of the mirror images."""

    words: np.ndarray
    mirror_words: np.ndarray

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_hex(cls, rows: list[tuple[str, str, str, str]]) -> "Fingerprints":
        """From (phash, phash_mirror, dhash, dhash_mirror) hex strings, as stored."""
        words = np.zeros((len(rows), 3), dtype=np.uint64)
        mirror = np.zeros((len(rows), 3), dtype=np.uint64)
        for i, (phash, phash_mirror, dhash, dhash_mirror) in enumerate(rows):
            words[i] = _words(phash, dhash)
            mirror[i] = _words(phash_mirror, dhash_mirror)
        return cls(words, mirror)

    @classmethod
    def of(cls, fingerprints: list[Fingerprint]) -> "Fingerprints":
        return cls.from_hex([(f.phash, f.phash_mirror, f.dhash, f.dhash_mirror) for f in fingerprints])


def _words(phash: str, dhash: str) -> tuple[int, int, int]:
    return int(phash, 16), int(dhash[:16], 16), int(dhash[16:], 16)


def near_pairs(
    first: Fingerprints, second: Fingerprints | None = None, threshold: int = THRESHOLD
) -> list[tuple[int, int, int]]:
    """(i, j, distance) for every near-duplicate pair: photo i of `first` and photo j of `second`; without
    `second`, the pairs within `first` (i < j). The distance is the smaller of the two orientations'."""
    within = second is None
    pairs = []
    for start in range(0, len(first), _BLOCK):
        block = first.words[start : start + _BLOCK]
        # Within one set, each row meets only the photos after it: each pair once, never a photo with itself.
        offset = start if within else 0
        others = first if within else second
        words, mirror_words = others.words[offset:], others.mirror_words[offset:]
        distances = np.minimum(_distances(block, words), _distances(block, mirror_words))
        distances[~_has_features(block)] = 255
        distances[:, ~_has_features(words)] = 255
        if within:
            distances[np.tril_indices(len(block), 0, len(words))] = 255
        i, j = np.nonzero(distances <= threshold)
        pairs += zip((i + start).tolist(), (j + offset).tolist(), distances[i, j].tolist(), strict=True)
    return pairs


def _has_features(words: np.ndarray) -> np.ndarray:
    """Which fingerprints come from a picture with something in it. Both difference hashes are zero only when
    no pixel of the shrunk picture is brighter than the one beside it: one colour all over (or a plain fade).
    All such pictures look alike to the hashes, and none is taken for a near-duplicate of anything."""
    return (words[:, 1] != 0) | (words[:, 2] != 0)


def _distances(block: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Summed Hamming distances between each row of `block` and each row of `others`, (len(block), len(others))."""
    total = np.zeros((len(block), len(others)), dtype=np.uint8)  # at most 192
    for word in range(block.shape[1]):
        total += np.bitwise_count(block[:, word, None] ^ others[None, :, word])
    return total


def groups(pairs: list[tuple[int, int, int]]) -> list[list[int]]:
    """The photos linked by near-duplicate pairs, as groups (each sorted, the largest groups first)."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    found: dict[int, list[int]] = {}
    for x in parent:
        found.setdefault(root(x), []).append(x)
    return sorted((sorted(members) for members in found.values()), key=lambda members: (-len(members), members))
