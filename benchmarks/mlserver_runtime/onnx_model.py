"""A small MLServer runtime serving one ONNX model on onnxruntime (CPU).

Loaded by MLServer 1.7.1 in its own virtual environment (.venv-mlserver: it pins
protobuf < 7, this project needs 7), never imported by XCloud itself. It is what a user of
MLServer would write for an ONNX model: decode the request's first input with MLServer's
NumpyCodec, run the session, encode every output. Batching is MLServer's adaptive batcher
(``max_batch_size`` / ``max_batch_time`` in model-settings.json), which stacks concurrent
requests along the first axis before ``predict`` and splits the answers after it.

model-settings.json ``parameters.uri`` is the model.onnx path; ``parameters.extra``
``intra_op_threads`` (0: onnxruntime's default) sizes the session's thread pool.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxModel(MLModel):
    async def load(self) -> bool:
        parameters = self.settings.parameters
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = int((parameters.extra or {}).get("intra_op_threads", 0))
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(parameters.uri, sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        rows = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
        results = self._session.run(self._outputs, {self._input: rows})
        return InferenceResponse(
            model_name=self.name,
            outputs=[NumpyCodec.encode_output(name, value)
                     for name, value in zip(self._outputs, results)],
        )
