"""``talkratio-export``: checkpoint to ONNX fp32 and INT8, with parity checks.

Example:
    talkratio-export ds2 runs/ds2/best.pt --out ds2.onnx --int8
"""

from __future__ import annotations

from edge.lazy_cli import lazy_app

# subcommand -> module whose ``cli`` function implements it
COMMANDS = {
    "ds2": "export.ds2",
    "voice": "export.voice",
    "vad": "export.vad",
    "speaker": "export.speaker",
}

main = lazy_app(
    "talkratio-export",
    "Export trained checkpoints to ONNX (fp32 and INT8) with talkratio metadata.",
    COMMANDS,
)
