"""talkratio's edge runtime: numpy + onnxruntime only, never torch.

onnxruntime reports telemetry unless told not to; setting the switch here, before
any ``edge`` module can load onnxruntime, covers every import path.
"""

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
