"""`manage.py train_model` and `manage.py ensure_shipped_model`: what they record, and every refusal."""

import json
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.conftest import SHARED_DATA, needs_shared_photos
from tests.test_ml_pipeline import UNTRAINABLE_FOLDERS, corrupt_file, make_image_folder
from trainer.actions import do_activate_model_version, do_register_model_version
from trainer.files import file_sha256
from trainer.models import ModelVersion

from .training_helpers import give_verified_exports, saved_version

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

TINY = ["--arch", "simple_cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "4"]


def train(*args):
    out, err = StringIO(), StringIO()
    call_command("train_model", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path):
    return make_image_folder(tmp_path / "photos")


def test_it_trains_and_registers_a_model_version(folder):
    out, _ = train(folder, *TINY, "--name", "tiny", "--seed", "3")

    version = ModelVersion.objects.get()
    assert version.name == "tiny" and version.status == ModelVersion.Status.READY and not version.is_active
    assert version.architecture == "simple_cnn" and version.class_names == ["cat", "dog"]
    assert version.image_size == 32
    assert {"accuracy", "per_class", "confusion_matrix", "history"} <= set(version.metrics)
    assert version.test_accuracy == version.metrics["accuracy"] and 0 <= version.test_accuracy <= 1
    assert version.params["seed"] == 3 and version.params["epochs"] == 1 and version.params["augmentation"] == "strong"
    assert "conv2d" in version.summary
    stored = Path(version.file.path)
    assert stored.is_file() and stored.suffix == ".keras" and file_sha256(stored) == version.file_sha256
    assert "epoch 1/1: loss" in out and "Test accuracy" in out and f"Registered model version {version}" in out


def test_it_activates_the_new_version_when_asked(folder):
    older = ModelVersion.objects.create(name="older", architecture="simple_cnn", status="ready", is_active=True)
    train(folder, *TINY, "--activate")
    newest = ModelVersion.objects.exclude(pk=older.pk).get()
    older.refresh_from_db()
    assert newest.is_active and not older.is_active


def test_it_can_write_the_model_and_its_sidecar_without_registering(folder, tmp_path):
    output = tmp_path / "out" / "model.keras"
    train(folder, *TINY, "--name", "exported", "--output", output, "--no-register")

    assert ModelVersion.objects.count() == 0
    sidecar = json.loads(output.with_suffix(".json").read_text())
    assert sidecar["file"] == "model.keras" and sidecar["file_sha256"] == file_sha256(output)
    assert sidecar["name"] == "exported" and sidecar["class_names"] == ["cat", "dog"] and sidecar["image_size"] == 32
    assert sidecar["metrics"]["accuracy"] >= 0 and sidecar["summary"]
    assert sidecar["command"].startswith(f"python manage.py train_model {folder} --test-split 0.2 --arch simple_cnn")
    assert "--seed 1337" in sidecar["command"] and "--no-register" in sidecar["command"]


def test_by_default_it_trains_mobilenet_v2_from_the_weights_setting(folder, tmp_path, settings):
    output = tmp_path / "model.keras"
    train(folder, "--image-size", "32", "--epochs", "1", "--output", output)

    version = ModelVersion.objects.get()
    assert (
        version.architecture == "mobilenet_v2"
        and version.params["weights"] == Path(settings.CATDOG_MOBILENET_WEIGHTS).name
    )
    assert version.file_sha256 == file_sha256(output)
    sidecar = json.loads(output.with_suffix(".json").read_text())
    assert sidecar["weights"] == {
        "setting": settings.CATDOG_MOBILENET_WEIGHTS,
        "sha256": file_sha256(Path(settings.CATDOG_MOBILENET_WEIGHTS)),
    }
    assert sidecar["command"].startswith(f"CATDOG_MOBILENET_WEIGHTS={settings.CATDOG_MOBILENET_WEIGHTS} python")
    assert "--arch mobilenet_v2" in sidecar["command"] and "--augmentation none" in sidecar["command"]
    assert "--no-mirror --fine-tune-epochs 0 --fine-tune-learning-rate 0.0001" in sidecar["command"]


def _shared_photos(root: Path, split: str, numbers: range) -> Path:
    """Links to some of the shared Kaggle photos, one sub-folder per class (nothing copied)."""
    for kind in ("cat", "dog"):
        (root / kind).mkdir(parents=True)
        for number in numbers:
            (root / kind / f"{kind}.{number}.jpg").symlink_to(SHARED_DATA / split / kind / f"{kind}.{number}.jpg")
    return root


@needs_shared_photos
def test_the_accuracy_it_reports_is_measured_on_photos_it_never_saw(tmp_path):
    from keras.saving import load_model

    from trainer.ml.data import load_images

    train_folder = _shared_photos(tmp_path / "train", "train", range(1, 61))
    test_folder = _shared_photos(tmp_path / "test", "test", range(4001, 4026))
    output = tmp_path / "model.keras"
    out, _ = train(train_folder, "--test", test_folder, "--image-size", "160", "--epochs", "10", "--output", output)

    reported = float(re.search(r"Test accuracy (\S+) on 50 photos \(120 for training", out).group(1))
    assert ModelVersion.objects.get().test_accuracy == pytest.approx(reported, abs=1e-4)
    # Measured again here, from the saved file and the photos alone: the figure is what the model does.
    cats, dogs = sorted((test_folder / "cat").iterdir()), sorted((test_folder / "dog").iterdir())
    probabilities = load_model(output, compile=False).predict(load_images(cats + dogs, 160), verbose=0)
    measured = (probabilities.argmax(axis=1) == [0] * len(cats) + [1] * len(dogs)).mean()
    assert measured == pytest.approx(reported, abs=1e-4)
    assert measured >= 0.8  # far above the 0.5 of guessing: ImageNet features tell cats from dogs


def test_it_skips_an_unreadable_photo_with_a_warning(folder):
    bad = corrupt_file(folder / "dog" / "broken.jpg")
    _, err = train(folder, *TINY)
    assert f"Skipped {bad}" in err
    assert ModelVersion.objects.get().metrics["skipped_files"] == 1


@pytest.mark.parametrize(("arrange", "message"), UNTRAINABLE_FOLDERS)
def test_it_refuses_a_folder_it_cannot_train_on(tmp_path, arrange, message):
    with pytest.raises(CommandError, match=message):
        train(arrange(tmp_path), *TINY)
    assert ModelVersion.objects.count() == 0


def test_it_refuses_a_test_folder_with_other_classes(tmp_path):
    train_folder = make_image_folder(tmp_path / "train")
    test_folder = make_image_folder(tmp_path / "test", classes=("cat", "fox"))
    with pytest.raises(CommandError, match="training folder's are"):
        train(train_folder, "--test", test_folder, *TINY)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--no-register"], "--no-register needs --output"),
        (["--output", "x.keras", "--no-register", "--activate"], "cannot --activate"),
        (["--output", "model.h5"], "must end in .keras"),
        (["--test-split", "1.5"], "--test-split must be between 0 and 1"),
        (["--epochs", "0"], "--epochs must be"),
        (["--image-size", "16"], "at least 32 pixels"),
        (["--augment-copies", "-1"], "--augment-copies must not be negative"),
        (["--fine-tune-epochs", "-1"], "--fine-tune-epochs must not be negative"),
        (["--learning-rate", "0"], "--learning-rate must be a positive number"),
        (["--fine-tune-learning-rate", "-0.001"], "--fine-tune-learning-rate must be a positive number"),
    ],
)
def test_it_refuses_bad_options_before_training(folder, options, message):
    with pytest.raises(CommandError, match=message):
        train(folder, *options)


# ensure_shipped_model


def ensure():
    out = StringIO()
    call_command("ensure_shipped_model", stdout=out)
    return out.getvalue()


def shipped_sidecar() -> dict:
    return json.loads((Path(settings.CATDOG_SHIPPED_MODEL_DIR) / "catdog.json").read_text())


def test_ensure_shipped_model_registers_and_activates_once():
    out = ensure()
    version = ModelVersion.objects.get()
    sidecar = shipped_sidecar()
    assert version.is_active and version.status == ModelVersion.Status.READY
    assert version.class_names == ["cat", "dog"] and version.architecture == "mobilenet_v2"
    assert version.image_size == sidecar["image_size"]
    assert version.test_accuracy == sidecar["metrics"]["accuracy"] and version.metrics == sidecar["metrics"]
    assert version.file_sha256 == sidecar["file_sha256"] and Path(version.file.path).is_file()
    assert "Registered the shipped model" in out and "Activated" in out
    assert version.trained_at.isoformat() == sidecar["trained_at"]  # when it was trained, not registered
    assert not [value for value in version.params.values() if "/" in str(value)]  # no paths of the developer's

    out = ensure()
    assert ModelVersion.objects.get() == version
    assert "already registered" in out and "left as it is" in out


def test_ensure_shipped_model_leaves_another_active_version_active(tmp_path):
    other = tmp_path / "other.keras"
    other.write_bytes(b"another model")
    mine = do_register_model_version(
        name="mine",
        model_path=other,
        architecture="simple_cnn",
        class_names=["a", "b"],
        image_size=32,
        params={},
        metrics={"accuracy": 0.5},
        summary="",
    )
    give_verified_exports(mine)
    do_activate_model_version(mine)
    ensure()
    shipped = ModelVersion.objects.exclude(pk=mine.pk).get()
    mine.refresh_from_db()
    assert mine.is_active and not shipped.is_active


def test_ensure_shipped_model_activates_the_registered_shipped_version_when_none_is(tmp_path):
    ensure()
    version = ModelVersion.objects.get()
    version.is_active = False
    version.save()
    out = ensure()
    version.refresh_from_db()
    assert version.is_active and ModelVersion.objects.count() == 1 and "Activated" in out


def test_ensure_shipped_model_refuses_a_model_file_its_sidecar_does_not_describe(settings, tmp_path):
    shutil.copytree(settings.CATDOG_SHIPPED_MODEL_DIR, tmp_path / "shipped")
    settings.CATDOG_SHIPPED_MODEL_DIR = tmp_path / "shipped"
    (tmp_path / "shipped" / shipped_sidecar()["file"]).write_bytes(b"something else")
    with pytest.raises(CommandError, match="SHA-256 differs"):
        ensure()
    assert ModelVersion.objects.count() == 0


def test_ensure_shipped_model_says_when_nothing_is_shipped(settings, tmp_path):
    settings.CATDOG_SHIPPED_MODEL_DIR = tmp_path
    with pytest.raises(CommandError, match="Cannot read the shipped model's metadata"):
        ensure()


def test_activating_another_version_is_not_undone_by_ensure():
    ensure()
    shipped = ModelVersion.objects.get()
    other = saved_version(name="other", architecture="simple_cnn")
    do_activate_model_version(other)
    ensure()
    shipped.refresh_from_db()
    other.refresh_from_db()
    assert other.is_active and not shipped.is_active


def test_ensure_shipped_model_registers_the_shipped_calibration_and_test_answers():
    ensure()
    version = ModelVersion.objects.get()
    shipped = json.loads((Path(settings.CATDOG_SHIPPED_MODEL_DIR) / "catdog.calibration.json").read_text())
    assert version.calibration_sha256 == shipped["file_sha256"] == file_sha256(Path(version.calibration.path))
    assert version.calibration_report == shipped["report"]
    assert version.test_results.count() == len(shipped["test_answers"]) == version.metrics["num_test"]


def test_ensure_shipped_model_gives_an_install_registered_without_it_the_shipped_calibration():
    ensure()
    version = ModelVersion.objects.get()
    ModelVersion.objects.filter(pk=version.pk).update(calibration="", calibration_sha256="", calibration_report={})
    version.test_results.all().delete()
    out = ensure()
    version.refresh_from_db()
    assert version.calibration.name and version.calibration_report and version.test_results.exists()
    assert "shipped calibration" in out


def test_ensure_shipped_model_refuses_a_calibration_its_sidecar_does_not_describe(settings, tmp_path):
    shutil.copytree(settings.CATDOG_SHIPPED_MODEL_DIR, tmp_path / "shipped")
    settings.CATDOG_SHIPPED_MODEL_DIR = tmp_path / "shipped"
    (tmp_path / "shipped" / "catdog.calibration.npz").write_bytes(b"something else")
    with pytest.raises(CommandError, match="SHA-256 differs"):
        ensure()
    assert ModelVersion.objects.count() == 0
