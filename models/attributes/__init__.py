"""Trained face-attribute heads (beauty, race, gender) over frozen face-network features.

Pipeline, the same at training, evaluation and serving time: our MTCNN's 5 landmarks ->
``align_face`` at the gateway's shared margin -> ``reframe`` to the model's own framing ->
one ONNX graph (backbones + head) whose input is RGB 0..255.
"""
