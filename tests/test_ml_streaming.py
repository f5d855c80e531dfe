"""Training streams its photos from disk: the memory it holds does not grow with the photos' pixels.

NumPy reports its arrays to tracemalloc (TensorFlow's own buffers are not traced). Two trainings, of
300 and of 100 photos at 160x160: holding every photo, the larger would peak at least 15 MB above the
smaller (200 photos of 77 kB); streaming, it holds a batch of photos and, for MobileNetV2, the 1,280
features of each photo (5 kB). bench/bench_training_memory.py measures whole processes.
"""

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from .test_ml_pipeline import COLOURS

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SIZE = 160


def _photos(root, per_class: int):
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(np.array(COLOURS[name]) + rng.normal(0, 25, (40 + i % 20, 60 - i % 20, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{name}{i}.png")
    return root


def _peak_of_training(root, architecture: str, per_class: int) -> int:
    from trainer.ml.train import TrainingConfig, run_training

    config = TrainingConfig(
        _photos(root / "photos", per_class),
        root / "model.keras",
        architecture=architecture,
        image_size=SIZE,
        epochs=1,
        batch_size=16,
        augmentation="none",
        weights=None,  # random: loading real weights is not what is measured
    )
    tracemalloc.start()
    try:
        result = run_training(config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.metrics["num_train"] + result.metrics["num_test"] == 2 * per_class
    return peak


@pytest.mark.parametrize("architecture", ["mobilenet_v2", "simple_cnn"])
def test_three_times_the_photos_do_not_take_three_times_the_memory(tmp_path, architecture):
    # The larger first: whatever TensorFlow sets up once then counts against it, not for it.
    large = _peak_of_training(tmp_path / "large", architecture, per_class=150)
    small = _peak_of_training(tmp_path / "small", architecture, per_class=50)
    more_pixels = 2 * (150 - 50) * SIZE * SIZE * 3
    # Holding the photos would add all of `more_pixels`; streaming adds what grows with the count of photos
    # (their features, names and hashes): 3 to 6 MB measured here, depending on the run.
    assert large - small < more_pixels / 2, f"{(large - small) / 1e6:.1f} MB more for {more_pixels / 1e6:.1f} MB"


@pytest.mark.parametrize("architecture", ["mobilenet_v2", "simple_cnn"])
def test_the_same_seed_trains_the_same_model_from_streamed_photos(tmp_path, architecture):
    from trainer.ml.train import TrainingConfig, run_training

    folder = _photos(tmp_path / "photos", per_class=12)
    runs = []
    for name in ("first", "second"):
        config = TrainingConfig(folder, tmp_path / f"{name}.keras", architecture=architecture, image_size=32,
                                epochs=3, batch_size=4, augmentation="light", weights=None, seed=5)  # fmt: skip
        runs.append(run_training(config).metrics)
    assert runs[0]["history"] == runs[1]["history"] and runs[0]["loss"] == runs[1]["loss"]
