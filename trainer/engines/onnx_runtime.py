"""ONNX Runtime on the CPU, reading the served model's ONNX export."""

import numpy as np
import onnxruntime

from . import OUTPUTS, Engine


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"
    kind = "serving_onnx"

    def __init__(self, path, threads):
        super().__init__(path, threads)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Its threads would spin for a while after each call, waiting for more work: on a machine whose cores
        # the web server, the decoding and other workers share, they take the cores those need (README
        # "Serving engine": 2x slower under load with spinning).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(OUTPUTS, self._session.run(list(OUTPUTS), {self._input: pixels}), strict=True))
