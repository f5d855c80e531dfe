"""The training pipeline in trainer/ml on tiny generated folders: data, split, models, training, metrics."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.ml.data import DatasetError, class_weights, load_images, make_datasets, stratified_split
from trainer.ml.evaluate import evaluate

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

COLOURS = {"cat": (200, 60, 40), "dog": (40, 80, 200), "fox": (40, 180, 60)}


def make_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 8, seed: int = 0) -> Path:
    """One sub-folder of small PNGs per class: a class colour, stripes and noise, sizes that vary."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            height, width = 30 + i, 40 - i
            pixels = np.clip(np.array(COLOURS[name]) + rng.normal(0, 25, (height, width, 3)), 0, 255)
            pixels[::4] = 255 - pixels[::4]
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{name}{i}.png")
    return root


def corrupt_file(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    return path


@pytest.fixture
def folder(tmp_path):
    return make_image_folder(tmp_path / "photos")


def mobilenet_weights() -> str:
    from django.conf import settings

    return settings.CATDOG_MOBILENET_WEIGHTS


# Data


def test_it_reads_one_class_per_sorted_sub_folder_and_splits_each_class(folder):
    datasets = make_datasets(folder, None, image_size=32, test_split=0.25, seed=7)
    assert datasets.class_names == ["cat", "dog"]
    assert len(datasets.train_paths) == 12 and len(datasets.test_paths) == 4
    assert not set(datasets.train_paths) & set(datasets.test_paths)
    assert [path.parent.name for path in datasets.train_paths] == [["cat", "dog"][y] for y in datasets.y_train]
    assert np.bincount(datasets.y_train).tolist() == [6, 6]
    assert np.bincount(datasets.y_test).tolist() == [2, 2]
    pixels = load_images(datasets.train_paths, 32)
    assert pixels.shape == (12, 32, 32, 3) and pixels.dtype == np.uint8
    # Pixels as decoded, not rescaled: rescaling belongs to the model.
    assert pixels[datasets.y_train == 0][..., 0].mean() > 100


def test_the_split_is_stratified_and_the_same_for_the_same_seed():
    labels = np.array([0] * 20 + [1] * 10 + [2] * 5)
    train, test = stratified_split(labels, 0.2, seed=42)
    assert np.bincount(labels[test]).tolist() == [4, 2, 1]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(35))
    again_train, again_test = stratified_split(labels, 0.2, seed=42)
    assert again_test.tolist() == test.tolist() and again_train.tolist() == train.tolist()
    assert stratified_split(labels, 0.2, seed=43)[1].tolist() != test.tolist()


def test_the_split_keeps_a_photo_of_each_class_on_both_sides():
    labels = np.array([0] * 30 + [1] * 2)
    train, test = stratified_split(labels, 0.1, seed=0)
    assert np.bincount(labels[test]).tolist() == [3, 1]
    assert np.bincount(labels[train]).tolist() == [27, 1]


def test_class_weights_make_each_class_count_the_same():
    weights = class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights == pytest.approx({0: 4 / 6, 1: 2.0})
    assert 3 * weights[0] == pytest.approx(1 * weights[1])


def test_it_skips_unreadable_files_with_a_warning(folder, caplog):
    bad = corrupt_file(folder / "dog" / "broken.png")
    (folder / "cat" / "notes.txt").write_text("not a photo")
    datasets = make_datasets(folder, None, image_size=32)
    assert sorted(skipped.path.name for skipped in datasets.skipped) == ["broken.png", "notes.txt"]
    assert len(datasets.y_train) + len(datasets.y_test) == 16
    assert str(bad) in caplog.text


def test_it_uses_the_test_folder_when_given(tmp_path):
    train = make_image_folder(tmp_path / "train", per_class=5)
    test = make_image_folder(tmp_path / "test", per_class=3, seed=1)
    datasets = make_datasets(train, test, image_size=32)
    assert len(datasets.y_train) == 10 and np.bincount(datasets.y_test).tolist() == [3, 3]


def _with_empty_class(root):
    folder = make_image_folder(root / "photos")
    (folder / "fox").mkdir()
    return folder


def _with_unreadable_class(root):
    folder = make_image_folder(root / "photos")
    (folder / "fox").mkdir()
    corrupt_file(folder / "fox" / "a.png")
    (folder / "fox" / "b.jpg").write_bytes(b"")
    return folder


# Folders nothing can be trained on, made under a root, with the reason each is refused.
def _with_a_class_named_other(root):
    folder = make_image_folder(root / "photos")
    (folder / "dog").rename(folder / "other")
    return folder


UNTRAINABLE_FOLDERS = [
    pytest.param(lambda root: root / "missing", "is not a folder", id="missing"),
    pytest.param(
        lambda root: make_image_folder(root / "one", classes=("cat",)), "at least two classes", id="one-class"
    ),
    pytest.param(_with_empty_class, "has no files", id="empty-class"),
    pytest.param(_with_unreadable_class, "has no readable images", id="unreadable-class"),
    pytest.param(_with_a_class_named_other, "A class cannot be named “other”: .* Rename that sub-folder", id="other"),
]


@pytest.mark.parametrize(("arrange", "message"), UNTRAINABLE_FOLDERS)
def test_it_rejects_a_folder_it_cannot_train_on(tmp_path, arrange, message):
    with pytest.raises(DatasetError, match=message):
        make_datasets(arrange(tmp_path), None, image_size=32)


def test_it_rejects_a_test_folder_with_other_classes(tmp_path):
    train = make_image_folder(tmp_path / "train")
    test = make_image_folder(tmp_path / "test", classes=("cat", "fox"))
    with pytest.raises(DatasetError, match="classes of .* are \\['cat', 'fox'\\]"):
        make_datasets(train, test, image_size=32)


def test_it_rejects_a_class_too_small_to_split(tmp_path):
    folder = make_image_folder(tmp_path / "photos")
    (folder / "fox").mkdir()
    Image.new("RGB", (20, 20), COLOURS["fox"]).save(folder / "fox" / "only.png")
    with pytest.raises(DatasetError, match="'fox' has 1 readable image"):
        make_datasets(folder, None, image_size=32)


# Metrics


def test_evaluate_counts_per_class_scores_and_the_confusion_matrix():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    probabilities = np.eye(3)[[0, 0, 1, 1, 2, 2]] * 0.9 + 0.1 / 3
    metrics = evaluate(y_true, probabilities, ["cat", "dog", "fox"])
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class"]["cat"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert metrics["per_class"]["dog"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert metrics["per_class"]["fox"]["precision"] == pytest.approx(0.5)
    assert metrics["loss"] == pytest.approx(-np.mean(np.log(probabilities[range(6), y_true])))


# Models


@pytest.mark.parametrize("architecture", ["simple_cnn", "mobilenet_v2"])
def test_both_architectures_save_and_load_with_their_rescaling_inside(tmp_path, architecture):
    import keras

    from trainer.ml.model import make_model

    model = make_model(architecture, (32, 32, 3), 3, weights=None)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 3)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0), atol=1e-6)
    scale = 1 / 255 if architecture == "simple_cnn" else 1 / 127.5
    assert loaded.get_layer("rescaling").scale == pytest.approx(scale)


def test_augmentation_runs_in_training_only():
    from trainer.ml.model import make_model

    model = make_model("simple_cnn", (32, 32, 3), 2, dropout=0.0, augmentation="strong")
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(model.predict(pixels, verbose=0), model.predict(pixels, verbose=0))
    np.testing.assert_array_equal(model(pixels, training=False), model(pixels, training=False))
    assert not np.allclose(model(pixels, training=True), model(pixels, training=False))


def test_augmented_maps_differ_from_the_photos_and_from_each_other_and_mirrors_are_mirrored():
    from trainer.ml.inputs import extract_outputs
    from trainer.ml.model import BACKBONE, make_model, split_backbone

    model = make_model("mobilenet_v2", (64, 64, 3), 2, augmentation="light", weights=mobilenet_weights())
    front, _ = split_backbone(model.get_layer("encoder").get_layer(BACKBONE))
    pixels = np.random.default_rng(0).integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    batches = [pixels[:2], pixels[2:4], pixels[4:]]
    (plain,) = extract_outputs(model, front, batches)
    assert plain.shape == (5, 2, 2, 160)
    # One batch of 5 or batches of 2, 2 and 1: the same maps but for float32 rounding, which depends on the
    # batch size in TensorFlow's CPU kernels (up to 2e-5 seen here).
    np.testing.assert_allclose(extract_outputs(model, front, [pixels])[0], plain, rtol=1e-4, atol=1e-4)
    first, second = (extract_outputs(model, front, batches, augment=True)[0] for _ in range(2))
    assert not np.allclose(first, plain) and not np.allclose(first, second)
    photos, mirrors = extract_outputs(model, front, batches, mirror=True)
    np.testing.assert_allclose(photos, plain, rtol=1e-4, atol=1e-4)
    (expected,) = extract_outputs(model, front, [pixels[:, :, ::-1]])
    np.testing.assert_allclose(mirrors, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(mirrors, photos)


# Training end to end


def test_run_training_saves_a_simple_cnn_with_its_metrics(folder, tmp_path):
    import keras

    from trainer.ml.progress import EpochProgress
    from trainer.ml.train import TrainingConfig, run_training

    seen = []
    config = TrainingConfig(
        train_dir=folder,
        output_path=tmp_path / "out" / "model.keras",
        architecture="simple_cnn",
        image_size=32,
        epochs=2,
        batch_size=4,
        test_split=0.25,
    )
    result = run_training(config, progress_callback=seen.append)
    epochs_seen = [p for p in seen if isinstance(p, EpochProgress)]

    assert result.model_path.is_file()
    assert result.class_names == ["cat", "dog"] and result.image_size == 32
    assert seen[0].phase == "loading"
    assert [p.epoch for p in epochs_seen] == [1, 2] and all(p.epochs == 2 for p in epochs_seen)
    assert len(result.test_paths) == 4 and all(path.is_file() for path in result.test_paths)
    assert 0 <= epochs_seen[-1].accuracy <= 1 and epochs_seen[-1].test_accuracy is not None
    metrics = result.metrics
    assert {"accuracy", "loss", "per_class", "confusion_matrix", "history"} <= set(metrics)
    assert set(metrics["per_class"]) == {"cat", "dog"}
    assert np.sum(metrics["confusion_matrix"]) == metrics["num_test"] == 4 and metrics["num_train"] == 12
    assert {key: len(values) for key, values in metrics["history"].items()} == {
        "loss": 2,
        "accuracy": 2,
        "test_loss": 2,
        "test_accuracy": 2,
    }
    assert metrics["history"]["test_accuracy"][-1] == pytest.approx(metrics["accuracy"])
    assert result.params["seed"] == 1337 and result.params["epochs"] == 2 and result.params["test_split"] == 0.25
    assert "conv2d" in result.summary and "random_shear" in result.summary

    loaded = keras.saving.load_model(result.model_path, compile=False)
    assert loaded.input_shape == (None, 32, 32, 3) and loaded.output_shape == (None, 2)


def test_run_training_mobilenet_v2_saves_one_model_that_scores_as_measured(tmp_path):
    import keras

    from trainer.ml.model import BACKBONE, make_mobilenet_v2_backbone
    from trainer.ml.train import TrainingConfig, run_training

    train = make_image_folder(tmp_path / "train", per_class=6)
    test = make_image_folder(tmp_path / "test", per_class=3, seed=1)
    config = TrainingConfig(
        train_dir=train,
        test_dir=test,
        output_path=tmp_path / "model.keras",
        image_size=32,
        epochs=3,
        batch_size=4,
        augmentation="light",
        augment_copies=1,
        mirror=True,
        fine_tune_epochs=2,
        weights=mobilenet_weights(),
    )
    result = run_training(config)

    assert result.architecture == "mobilenet_v2" and result.params["augment_copies"] == 1
    assert result.params["test_split"] is None and result.params["weights"] == Path(mobilenet_weights()).name
    assert "train_dir" not in result.params and "test_dir" not in result.params  # no paths of this machine
    assert result.metrics["num_train"] == 12 and result.metrics["num_test"] == 6
    assert result.params["mirror"] is True and result.params["fine_tune_learning_rate"] == 1e-4  # the default
    # Frozen again once trained: a saved model is a weights source (trainer/ml/weights.py).
    assert "mobilenet_v2_imagenet" in result.summary and "Trainable params: 2,562" in result.summary
    # The head and the backbone's tail learned on cached maps; the saved whole, from raw pixels, must score the same.
    loaded = keras.saving.load_model(result.model_path, compile=False)
    tuned = loaded.get_layer("encoder").get_layer(BACKBONE)
    start = make_mobilenet_v2_backbone((32, 32, 3), mobilenet_weights())
    for name in ("block_15_project", "block_16_project_BN", "Conv_1_bn"):  # frozen: the front, batch normalisation
        assert all(map(np.array_equal, tuned.get_layer(name).get_weights(), start.get_layer(name).get_weights()))
    for name in ("block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"):  # fine-tuned
        assert not np.array_equal(tuned.get_layer(name).get_weights()[0], start.get_layer(name).get_weights()[0])
    datasets = make_datasets(train, test, image_size=32)
    pixels = load_images(datasets.test_paths, 32)
    measured = evaluate(datasets.y_test, loaded.predict(pixels, verbose=0), result.class_names)
    assert measured["accuracy"] == result.metrics["accuracy"]
    assert measured["loss"] == pytest.approx(result.metrics["loss"], abs=1e-4)


def test_unset_settings_take_the_architecture_defaults_and_given_ones_stay(tmp_path):
    from trainer.ml.train import TrainingConfig, with_defaults

    mobilenet = with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", epochs=3, augment_copies=2))
    assert (mobilenet.image_size, mobilenet.epochs, mobilenet.dropout) == (224, 3, 0.5)
    assert mobilenet.augmentation == "none" and mobilenet.augment_copies == 0  # nothing to copy
    assert (mobilenet.mirror, mobilenet.fine_tune_epochs, mobilenet.fine_tune_learning_rate) == (False, 0, 1e-4)
    tuned = with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", mirror=True, fine_tune_epochs=4))
    assert (tuned.mirror, tuned.fine_tune_epochs) == (True, 4)
    flipped = with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", augmentation="light", augment_copies=2))
    assert flipped.augment_copies == 2
    cnn = with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", architecture="simple_cnn", image_size=64))
    assert (cnn.image_size, cnn.augmentation, cnn.augment_copies) == (64, "strong", 0)
    cnn = with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", architecture="simple_cnn", fine_tune_epochs=4))
    assert (cnn.mirror, cnn.fine_tune_epochs) == (False, 0)  # only MobileNetV2's tail is fine-tuned
    with pytest.raises(ValueError, match="Unknown augmentation"):
        with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", augmentation="lots"))
    with pytest.raises(ValueError, match="Unknown architecture"):
        with_defaults(TrainingConfig(tmp_path, tmp_path / "m.keras", architecture="resnet"))


def test_training_stops_when_cancelled_and_saves_nothing(folder, tmp_path):
    from trainer.ml.progress import TrainingCancelled
    from trainer.ml.train import TrainingConfig, run_training

    calls = []

    def cancel_after_first_batch():
        calls.append(1)
        return True

    config = TrainingConfig(
        folder, tmp_path / "model.keras", architecture="simple_cnn", image_size=32, epochs=5, batch_size=8
    )
    with pytest.raises(TrainingCancelled):
        run_training(config, should_cancel=cancel_after_first_batch)
    assert len(calls) == 1
    assert not (tmp_path / "model.keras").exists()


def test_a_mobilenet_v2_calibration_reads_only_the_test_photos_again(tmp_path):
    """The training photos' maps, computed once by the frozen front, give the fine-tuned tail's features: the
    served model's, on which the calibration fits instead of reading every training photo a second time."""
    import keras

    from trainer.ml.progress import EpochProgress, StepProgress
    from trainer.ml.serving import pixels_function, serving_model
    from trainer.ml.train import TrainingConfig, run_training
    from trainer.ml.verdicts import Calibration

    train = make_image_folder(tmp_path / "train", per_class=12)
    test = make_image_folder(tmp_path / "test", per_class=3, seed=1)
    config = TrainingConfig(train_dir=train, test_dir=test, output_path=tmp_path / "model.keras", image_size=32,
                            epochs=2, batch_size=4, augmentation="none", fine_tune_epochs=5,
                            weights=mobilenet_weights())  # fmt: skip
    steps = []
    result = run_training(config, progress_callback=steps.append)

    calibrating = [step for step in steps if isinstance(step, StepProgress) and step.phase == "calibrating"]
    assert calibrating and {step.total for step in calibrating} == {2}  # the 6 test photos, 4 a batch
    assert result.calibration_path is not None and result.calibration_report["held_out"] == 6
    # The head's 2 epochs, then the tail's 5, counted as one training.
    epochs = [(step.epoch, step.epochs) for step in steps if isinstance(step, EpochProgress)]
    assert epochs == [(epoch, 7) for epoch in range(1, 8)] and len(result.metrics["history"]["loss"]) == 7
    datasets = make_datasets(train, test, image_size=32)
    served = pixels_function(serving_model(keras.saving.load_model(result.model_path, compile=False)))
    features = served(load_images(datasets.train_paths, 32).astype(np.uint8))["features"].numpy()
    expected = [features[datasets.y_train == c].mean(axis=0) for c in (0, 1)]
    np.testing.assert_allclose(Calibration.load(result.calibration_path).means, expected, rtol=1e-3, atol=1e-3)
