"""The files a version is served from, made from its Keras model and checked against it photo by photo.

TensorFlow trains and Keras's `.keras` stays the model of record; prediction workers run an inference
engine instead (trainer/engines/), which reads one of these files:

- "serving_onnx", ONNX (ONNX Runtime and OpenVINO read it), converted by tf2onnx;
- "serving_tflite", TFLite (LiteRT reads it), converted from a SavedModel so that the weights are in the
  file (a converted concrete function alone left them out: NaN in LiteRT);
- "serving_head", the head's dense layers (trainer/ml/heatmaps.py), for heatmaps without gradients.

Each takes pixels (n, size, size, 3) as uint8 under the name "pixels", rescales them itself and gives
"probabilities", "features" and "feature_maps" in one call. A file is only as good as its check:
`verify` decodes the test photos as the server does, runs every engine that reads each file and compares
their probabilities with Keras's. Imports TensorFlow: the training worker and management commands only.
"""

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import SERVING_FILES
from .agreement import ExportedFile, Tally, agreement
from .data import image_batches
from .heatmaps import DenseLayer, load_head, save_head
from .serving import head_layers, pixels_function, serving_model

SERVING_ONNX, SERVING_TFLITE, SERVING_HEAD = SERVING_FILES
ONNX_OPSET = 17
_BATCH = 32


def export_serving(model: keras.Model, folder: Path) -> dict[str, Path]:
    """Write the serving files of `model` into `folder`: {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, name in SERVING_FILES.items()}
    served = serving_model(model)
    serve = pixels_function(served)
    write_onnx(serve, paths[SERVING_ONNX])
    write_tflite(served, serve, paths[SERVING_TFLITE])
    save_head(head_layers(model), paths[SERVING_HEAD])
    return paths


def write_onnx(function: tf.types.experimental.GenericFunction, path: Path) -> Path:
    """`function` (a tf.function with an input signature) as an ONNX file; inputs and outputs keep their names."""
    import tf2onnx  # slow to import, and only needed here

    tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=ONNX_OPSET, output_path=str(path)
    )
    return path


def write_tflite(model: keras.Model, function: tf.types.experimental.GenericFunction, path: Path) -> Path:
    """`function`, which calls `model`, as a TFLite file with the weights inside, through a SavedModel."""
    with tempfile.TemporaryDirectory(prefix="catdog-export-") as tmp:
        return tflite_from_saved_model(write_saved_model(model, function, Path(tmp) / "saved_model"), path)


def tflite_from_saved_model(saved: Path, path: Path) -> Path:
    """The SavedModel `saved`'s "serving_default" signature as a TFLite file: its names, its weights inside."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serving_default"])
    path.write_bytes(converter.convert())
    return path


def write_saved_model(model: keras.Model, function: tf.types.experimental.GenericFunction, folder: Path) -> Path:
    """A SavedModel whose "serving_default" signature is `function`, holding the variables of `model` it reads."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", function)
    archive.write_out(str(folder), verbose=False)
    return folder


# --- Verification ------------------------------------------------------------------------------------------


def export_verified(model_path: Path, photos: list[Path], folder: Path) -> list[ExportedFile]:
    """The serving files of the saved model `model_path`, written into `folder`, each verified on `photos`."""
    model = keras.saving.load_model(model_path, compile=False)
    files = export_serving(model, folder)
    return verify(model, photos, files)


def verify(model: keras.Model, photos: list[Path], files: dict[str, Path]) -> list[ExportedFile]:
    """Check each of `files` ({kind: path}) against `model` on `photos`, decoded as the server decodes them.

    An engine file is run by every engine of trainer/engines that reads its kind; the head file is checked
    by giving Keras's features to its dense layers. A file passes when, with every engine, no photo's top
    class differs from Keras's and no probability by more than TOLERANCE (trainer/ml/agreement.py).
    """
    from trainer.engines import ENGINES, EngineUnavailable, engine_class

    engines, missing = [], []
    for name in ENGINES:
        try:
            engines.append(engine_class(name))
        except EngineUnavailable as error:  # it cannot say which files it reads: it fails every one
            missing.append(f"Not every engine could check it here: {error}")
    tallies, runners = {}, {}
    for kind, path in files.items():
        tallies[kind] = {}
        if kind == SERVING_HEAD:
            load_runner(kind, "NumPy", lambda path=path: _head_runner(path), tallies, runners)
            continue
        if missing:
            tallies[kind]["missing"] = Tally(error=" ".join(missing))
        readers = [engine for engine in engines if engine.kind == kind]
        if not readers:
            tallies[kind]["none"] = Tally(error=f"No engine reads a {kind} file.")
        for engine in readers:
            load_runner(kind, engine.name, lambda e=engine, path=path: _engine_runner(e, path), tallies, runners)
    serve = pixels_function(serving_model(model))
    tally(image_batches(list(photos), model.input_shape[1], _BATCH), serve, runners, tallies)
    return [agreement(kind, path, len(photos), tallies[kind]) for kind, path in files.items()]


def load_runner(kind: str, name: str, load: Callable, tallies: dict, runners: dict) -> None:
    """Load the file of `kind` with the runtime `name` into `runners`, or record on its tally why it could not."""
    tallies[kind][name] = Tally()
    try:
        runners[kind, name] = load()
    except Exception as error:  # the runtime refused the file
        tallies[kind][name].error = f"{name} could not load it: {error}"


def tally(batches: Iterable[np.ndarray], reference: Callable, runners: dict, tallies: dict) -> None:
    """Give each batch of pixels to `reference` (Keras) and to every runner ({(kind, runtime): run}) that has not
    failed yet, adding how they differ to the runner's tally."""
    for pixels in batches:
        expected = {name: np.asarray(value) for name, value in reference(pixels).items()}
        for (kind, name), run in runners.items():
            counted = tallies[kind][name]
            if not counted.error:
                try:
                    counted.add(expected["probabilities"], run(pixels, expected)["probabilities"])
                except Exception as error:
                    counted.error = f"{name} could not run it: {error}"


def _engine_runner(engine, path: Path):
    loaded = engine(path, len(os.sched_getaffinity(0)))
    return lambda pixels, reference: loaded.run(pixels)


def _head_runner(path: Path):
    """The head file's dense layers given Keras's own features: the probabilities they give."""
    head = load_head(path)
    return lambda pixels, reference: {"probabilities": head_probabilities(head, reference["features"])}


def head_probabilities(head: list[DenseLayer], features: np.ndarray) -> np.ndarray:
    """The class probabilities a head of dense layers gives for pooled features (n, k)."""
    x = np.asarray(features, dtype=np.float32)
    for layer in head:
        x = x @ layer.kernel + layer.bias
        if layer.activation == "relu":
            x = np.maximum(x, 0.0)
        elif layer.activation == "softmax":
            x = np.exp(x - x.max(axis=1, keepdims=True))
            x /= x.sum(axis=1, keepdims=True)
        elif layer.activation != "linear":
            raise ValueError(f"A {layer.activation} layer is not understood.")
    return x
