"""Where MobileNetV2's ImageNet weights come from (trainer/ml/weights.py, model.make_mobilenet_v2_backbone):
the shipped model's backbone by default, so that training works with no internet and nothing beside the
checkout; a weights file or "imagenet" when CATDOG_MOBILENET_WEIGHTS says so; every failure a sentence."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer.ml.weights import WeightsUnavailable

from .test_ml_pipeline import make_image_folder

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

BASE_DIR = Path(__file__).resolve().parent.parent
SHIPPED = BASE_DIR / "trainer" / "shipped" / "catdog.keras"
SHARED_WEIGHTS = BASE_DIR.parent / "shared" / "weights" / "mobilenet_v2_1.0_224_no_top.weights.h5"


@pytest.mark.skipif(not SHARED_WEIGHTS.is_file(), reason=f"needs the ImageNet weights file {SHARED_WEIGHTS}")
@pytest.mark.parametrize("size", [224, 96])
def test_the_shipped_backbone_gives_the_imagenet_weights_features_at_any_size(size):
    from trainer.ml.model import make_mobilenet_v2_backbone

    copied = make_mobilenet_v2_backbone((size, size, 3), str(SHIPPED))
    loaded = make_mobilenet_v2_backbone((size, size, 3), str(SHARED_WEIGHTS))
    pixels = np.random.default_rng(size).uniform(-1, 1, (4, size, size, 3)).astype("float32")
    expected = loaded.predict(pixels, verbose=0)
    assert expected.shape == (4, 1280) and expected.std() > 0.1
    np.testing.assert_allclose(copied.predict(pixels, verbose=0), expected, atol=1e-5)


def test_by_default_a_checkout_alone_trains_mobilenet_v2_offline(tmp_path):
    """A copy of the checkout with no shared/ beside it, no weights setting and no way to download."""
    checkout = tmp_path / "catdog"
    skip = shutil.ignore_patterns(".venv", ".git", "var", "media", "test-artifacts", "__pycache__", ".*cache")
    shutil.copytree(BASE_DIR, checkout, ignore=skip)
    photos = make_image_folder(tmp_path / "photos", per_class=4)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CATDOG_", "DJANGO_"))}
    # A proxy that refuses every connection: any download fails at once, as on a machine without internet.
    env.update(KERAS_HOME=str(tmp_path / "keras"), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    output = tmp_path / "model.keras"
    command = [sys.executable, "manage.py", "train_model", str(photos), "--image-size", "32", "--epochs", "1"]
    command += ["--batch-size", "4", "--output", str(output), "--no-register"]
    run = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stderr[-2000:]
    assert not (tmp_path / "shared").exists() and not (tmp_path / "keras" / "models").exists()
    sidecar = json.loads(output.with_suffix(".json").read_text())
    assert sidecar["architecture"] == "mobilenet_v2"
    assert sidecar["weights"]["setting"] == str(checkout / "trainer" / "shipped" / "catdog.keras")
    assert "Test accuracy" in run.stdout


def test_a_saved_model_without_a_mobilenet_backbone_is_refused(tmp_path):
    from trainer.ml.model import make_model

    other = tmp_path / "cnn.keras"
    make_model("simple_cnn", (32, 32, 3), 2, augmentation="none").save(other)
    with pytest.raises(WeightsUnavailable, match="holds no MobileNetV2 backbone"):
        make_model("mobilenet_v2", (32, 32, 3), 2, weights=str(other))


def test_a_backbone_of_another_width_is_refused():
    import keras

    from trainer.ml.model import copy_weights_by_layer_name

    narrow = keras.applications.MobileNetV2((32, 32, 3), alpha=0.35, include_top=False, weights=None)
    full = keras.applications.MobileNetV2((32, 32, 3), alpha=1.0, include_top=False, weights=None)
    with pytest.raises(WeightsUnavailable, match="does not match MobileNetV2 at layer Conv1"):
        copy_weights_by_layer_name(narrow, full)


def test_a_download_that_fails_says_what_to_do(monkeypatch):
    from trainer.ml.model import make_model

    def no_internet(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- [Errno -3] name resolution")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_internet)
    with pytest.raises(WeightsUnavailable, match="may have no internet: unset CATDOG_MOBILENET_WEIGHTS"):
        make_model("mobilenet_v2", (32, 32, 3), 2, weights="imagenet")


def test_a_weights_file_that_is_not_here_is_refused_before_reading_any_photo(tmp_path):
    from trainer.ml.train import TrainingConfig, run_training

    seen = []
    missing = str(tmp_path / "missing.weights.h5")
    config = TrainingConfig(
        make_image_folder(tmp_path / "photos"), tmp_path / "m.keras", image_size=32, weights=missing
    )
    with pytest.raises(WeightsUnavailable, match="missing.weights.h5 \\(CATDOG_MOBILENET_WEIGHTS\\) is not on this"):
        run_training(config, progress_callback=seen.append)
    assert seen == []


def test_a_weights_file_that_is_not_mobilenet_weights_is_refused(tmp_path):
    from trainer.ml.model import make_model

    wrong = tmp_path / "wrong.weights.h5"
    wrong.write_bytes(b"not an HDF5 file")
    with pytest.raises(WeightsUnavailable, match="wrong.weights.h5 \\(CATDOG_MOBILENET_WEIGHTS\\).*weights file"):
        make_model("mobilenet_v2", (32, 32, 3), 2, weights=str(wrong))
