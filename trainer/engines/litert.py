"""LiteRT (TensorFlow Lite's runtime) with its XNNPACK CPU delegate, reading the served model's TFLite export."""

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from . import OUTPUTS, Engine


class LiteRtEngine(Engine):
    name = "litert"
    kind = "serving_tflite"

    def __init__(self, path, threads):
        super().__init__(path, threads)
        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._runner = self._interpreter.get_signature_runner()

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self._runner(pixels=pixels)  # resizes its tensors to the batch when the batch changes
        return {name: outputs[name] for name in OUTPUTS}
