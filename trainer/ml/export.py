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
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .data import image_batches
from .heatmaps import DenseLayer, load_head, save_head
from .serving import head_layers, pixels_function, serving_model

# The largest difference from Keras's probabilities an exported file may give on any test photo; and its
# top answer must be Keras's on every one. The engines measured here stay under 1e-6 on the shipped model.
TOLERANCE = 1e-4
SERVING_ONNX, SERVING_TFLITE, SERVING_HEAD = "serving_onnx", "serving_tflite", "serving_head"
SERVING_FILES = {SERVING_ONNX: "serving.onnx", SERVING_TFLITE: "serving.tflite", SERVING_HEAD: "head.npz"}
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
        saved = write_saved_model(model, function, Path(tmp) / "saved_model")
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


@dataclass
class Agreement:
    """How an exported file answered the test photos, against Keras."""

    photos_checked: int
    max_difference: float  # the largest |probability - Keras's| over every photo, class and engine
    top1_disagreements: int  # photos whose top class differs from Keras's, with the worst engine
    error: str = ""  # why it failed, in words an administrator understands; "" when it passed

    @property
    def passed(self) -> bool:
        return not self.error


def verify(model: keras.Model, photos: list[Path], files: dict[str, Path]) -> dict[str, Agreement]:
    """Check each of `files` ({kind: path}) against `model` on `photos`, decoded as the server decodes them.

    An engine file is run by every engine of trainer/engines that reads its kind; the head file is checked
    by giving Keras's features to its dense layers. A file passes when, with every engine, no photo's top
    class differs from Keras's and no probability by more than TOLERANCE.
    """
    size = model.input_shape[1]
    serve = pixels_function(serving_model(model))
    tallies, runners = _load_runners(files)
    for pixels in image_batches(list(photos), size, _BATCH):
        reference = {name: value.numpy() for name, value in serve(pixels).items()}
        for (kind, name), run in runners.items():
            tally = tallies[kind][name]
            if not tally.error:
                try:
                    tally.add(reference["probabilities"], run(pixels, reference))
                except Exception as error:
                    tally.error = f"{name} could not run it: {error}"
    return {kind: _agreement(len(photos), tallies[kind]) for kind in files}


def _load_runners(files: dict[str, Path]) -> tuple[dict[str, dict[str, "_Tally"]], dict]:
    """For each file, a tally per engine that reads it, and those engines loaded: {(kind, engine name): run}."""
    from trainer.engines import ENGINES, EngineUnavailable, engine_class

    engines, missing = [], []
    for name in ENGINES:
        try:
            engines.append(engine_class(name))
        except EngineUnavailable as error:  # it cannot say which files it reads: it fails every one
            missing.append(f"Not every engine could check it here: {error}")
    tallies, runners = {}, {}
    for kind, path in files.items():
        if kind == SERVING_HEAD:
            loaders = {"NumPy": lambda path=path: _head_runner(path)}
        else:
            loaders = {e.name: lambda e=e, path=path: _engine_runner(e, path) for e in engines if e.kind == kind}
        tallies[kind] = {name: _Tally() for name in loaders}
        if missing and kind != SERVING_HEAD:
            tallies[kind]["missing"] = _Tally(error=" ".join(missing))
        if not loaders:
            tallies[kind]["none"] = _Tally(error=f"No engine reads a {kind} file.")
        for name, load in loaders.items():
            try:
                runners[kind, name] = load()
            except Exception as error:  # the engine refused the file
                tallies[kind][name].error = f"{name} could not load it: {error}"
    return tallies, runners


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


@dataclass
class _Tally:
    photos: int = 0
    max_difference: float = 0.0
    disagreements: int = 0
    error: str = ""

    def add(self, reference: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
        probabilities = np.asarray(outputs["probabilities"], dtype=np.float32)
        if probabilities.shape != reference.shape:
            raise ValueError(f"it gives probabilities of shape {probabilities.shape}, Keras {reference.shape}")
        difference = float(np.abs(probabilities - reference).max()) if len(reference) else 0.0
        self.max_difference = max(self.max_difference, difference if np.isfinite(difference) else float("inf"))
        self.disagreements += int((probabilities.argmax(axis=1) != reference.argmax(axis=1)).sum())
        self.photos += len(reference)


def _agreement(photos: int, tallies: dict[str, _Tally]) -> Agreement:
    worst_difference = max((t.max_difference for t in tallies.values()), default=0.0)
    worst_disagreements = max((t.disagreements for t in tallies.values()), default=0)
    agreement = Agreement(photos, worst_difference, worst_disagreements)
    errors = [t.error for t in tallies.values() if t.error]
    if not photos:
        errors.append("There were no test photos to check it on.")
    for name, tally in tallies.items():
        if tally.error:
            continue
        if tally.disagreements:
            errors.append(
                f"With {name}, its top answer differs from Keras's on {tally.disagreements} of {photos} test photos."
            )
        if tally.max_difference > TOLERANCE:
            errors.append(
                f"With {name}, its probabilities differ from Keras's by up to {tally.max_difference:.2g} "
                f"(at most {TOLERANCE:g} is accepted)."
            )
    agreement.error = " ".join(errors)
    return agreement
