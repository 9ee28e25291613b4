"""face-api (npm ``@vladmandic/face-api``) nets re-implemented in PyTorch and exported to ONNX."""
