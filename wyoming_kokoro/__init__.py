"""wyoming-kokoro: the Kokoro-82M voice for Home Assistant and every Wyoming client."""

import os

# Every module that imports onnxruntime is imported after this package's __init__, so this one
# line keeps ONNX Runtime's telemetry off everywhere (it reads the variable at import).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
