"""Inference engines: each runs a served model exported by trainer/ml/export.py, without TensorFlow.

An engine is one small module here holding a subclass of `Engine`; adding one is a new file and a line
in ENGINES. Only the chosen engine's runtime is imported. The served model takes pixels (n, size, size, 3)
as uint8 and gives, in one call, the three OUTPUTS of trainer/ml/serving.py.
"""

from importlib import import_module
from pathlib import Path

import numpy as np

OUTPUTS = ("probabilities", "features", "feature_maps")

# setting name -> "module:class"
ENGINES = {
    "onnxruntime": "trainer.engines.onnx_runtime:OnnxRuntimeEngine",
    "openvino": "trainer.engines.openvino:OpenVinoEngine",
    "litert": "trainer.engines.litert:LiteRtEngine",
}

# setting name -> the ModelExport kind it reads (each class's `kind`), known without importing its runtime:
# the web process asks it to tell whether a version can be served (trainer/actions/exports.py).
KINDS = {"onnxruntime": "serving_onnx", "openvino": "serving_onnx", "litert": "serving_tflite"}


class EngineUnavailable(Exception):
    """The engine's runtime is not installed here, or it refused the model file."""


class Engine:
    """A served model loaded by one runtime. Subclasses set `kind` and implement `_load` and `run`."""

    name: str
    kind: str  # the trainer.models.ModelExport.Kind this engine reads

    def __init__(self, path: Path, threads: int):
        self.path = Path(path)
        self.threads = threads

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """{"probabilities": (n, classes), "features": (n, k), "feature_maps": (n, h, w, k)} for uint8 pixels."""
        raise NotImplementedError


def engine_class(name: str) -> type[Engine]:
    """The engine called `name` in ENGINES; raises EngineUnavailable for an unknown name or a missing runtime."""
    try:
        module_name, class_name = ENGINES[name].split(":")
    except KeyError:
        raise EngineUnavailable(f"No engine is called {name!r}; the engines are {', '.join(ENGINES)}.") from None
    try:
        module = import_module(module_name)
    except ImportError as error:
        raise EngineUnavailable(f"The {name} engine's runtime is not installed here: {error}") from error
    return getattr(module, class_name)


def load_engine(name: str, path: Path, threads: int) -> Engine:
    return engine_class(name)(path, threads)
