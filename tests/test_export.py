"""The serving files made from a version's Keras model answer its test photos as Keras does, through every
engine that reads them, and the check refuses files that do not (trainer/ml/export.py)."""

from pathlib import Path

import numpy as np
import pytest

from trainer.ml import SIMPLE_CNN

from .conftest import shared_photo

SHIPPED = Path(__file__).resolve().parent.parent / "trainer" / "shipped" / "catdog.keras"


def _photos():
    return [shared_photo(kind, number) for kind in ("cat", "dog") for number in (4001, 4002, 4003)]


def _tiny_cnn(seed: int):
    import keras

    from trainer.ml.model import make_model

    keras.utils.set_random_seed(seed)
    return make_model(SIMPLE_CNN, (32, 32, 3), 2, augmentation="none")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small CNN and its serving files, exported once for the module."""
    from trainer.ml.export import export_serving

    model = _tiny_cnn(seed=1)
    return model, export_serving(model, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    import keras

    from trainer.ml.export import export_serving

    model = keras.saving.load_model(SHIPPED, compile=False)
    return model, export_serving(model, tmp_path_factory.mktemp("shipped"))


def _by_kind(exported):
    return {export.kind: export for export in exported}


def _assert_all_pass(exported, photos):
    from trainer.ml.agreement import TOLERANCE

    agreements = _by_kind(exported)
    assert set(agreements) == {"serving_onnx", "serving_tflite", "serving_head"}
    for kind, agreement in agreements.items():
        assert agreement.passed, (kind, agreement.error)
        assert agreement.photos_checked == len(photos)
        assert agreement.top1_disagreements == 0
        assert 0 <= agreement.max_difference <= TOLERANCE


def test_the_serving_files_of_a_small_cnn_answer_like_keras(tiny):
    from trainer.ml.export import verify

    model, files = tiny
    photos = _photos()
    _assert_all_pass(verify(model, photos, files), photos)


def test_the_serving_files_of_the_shipped_model_answer_like_keras(shipped):
    from trainer.ml.export import verify

    model, files = shipped
    photos = _photos()
    _assert_all_pass(verify(model, photos, files), photos)


def test_the_tflite_file_holds_the_weights_and_names_its_input_and_outputs(shipped):
    from ai_edge_litert.interpreter import Interpreter

    model, files = shipped
    # float32 weights: a file smaller than them left them out (and gave NaN).
    assert files["serving_tflite"].stat().st_size > 4 * model.count_params() * 0.9
    [signature] = Interpreter(model_path=str(files["serving_tflite"])).get_signature_list().values()
    assert signature["inputs"] == ["pixels"]
    assert sorted(signature["outputs"]) == ["feature_maps", "features", "probabilities"]


def test_the_onnx_file_takes_uint8_pixels_of_any_batch_and_names_its_outputs(tiny):
    import onnxruntime

    _, files = tiny
    session = onnxruntime.InferenceSession(str(files["serving_onnx"]), providers=["CPUExecutionProvider"])
    [pixels] = session.get_inputs()
    assert (pixels.name, pixels.type, pixels.shape[1:]) == ("pixels", "tensor(uint8)", [32, 32, 3])
    assert sorted(output.name for output in session.get_outputs()) == ["feature_maps", "features", "probabilities"]
    outputs = session.run(["probabilities"], {"pixels": np.zeros((3, 32, 32, 3), np.uint8)})
    assert outputs[0].shape == (3, 2)


def test_the_files_of_another_model_fail_verification(tiny):
    from trainer.ml.export import verify

    _, files = tiny
    agreements = _by_kind(verify(_tiny_cnn(seed=2), _photos(), files))
    for kind, agreement in agreements.items():
        assert not agreement.passed, kind
        assert "probabilities differ from Keras's by up to" in agreement.error
    assert "onnxruntime" in agreements["serving_onnx"].error and "openvino" in agreements["serving_onnx"].error
    assert "litert" in agreements["serving_tflite"].error


def test_files_of_weights_that_moved_by_one_percent_fail_verification(shipped):
    import keras

    from trainer.ml.agreement import TOLERANCE
    from trainer.ml.export import verify

    _, files = shipped
    moved = keras.saving.load_model(SHIPPED, compile=False)
    dense = moved.get_layer("head").layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 1.01, bias])
    for agreement in verify(moved, _photos(), files):
        assert not agreement.passed, agreement.kind
        assert agreement.max_difference > TOLERANCE


def test_a_file_no_engine_can_load_fails_and_says_so(tiny, tmp_path):
    from trainer.ml.export import verify

    model, files = tiny
    damaged = tmp_path / "serving.onnx"
    damaged.write_bytes(files["serving_onnx"].read_bytes()[:1000])
    [agreement] = verify(model, _photos(), {"serving_onnx": damaged})
    assert not agreement.passed
    assert "onnxruntime could not load it" in agreement.error


def test_without_test_photos_nothing_is_verified(tiny):
    from trainer.ml.export import verify

    model, files = tiny
    for agreement in verify(model, [], files):
        assert not agreement.passed
        assert "no test photos" in agreement.error


@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "litert"])
def test_the_kind_the_web_process_is_told_an_engine_reads_is_the_one_it_reads(name):
    from trainer.engines import KINDS, engine_class

    assert engine_class(name).kind == KINDS[name]
