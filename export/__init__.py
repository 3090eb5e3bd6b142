import edge  # noqa: F401  (edge/__init__.py turns onnxruntime telemetry off: the one place)
