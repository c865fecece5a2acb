"""Device side: numpy + one runtime; never torch/TF/onnx."""
