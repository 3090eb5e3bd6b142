"""Speaker-encoder checks on synthetic voices: speech for parity, and the household match threshold.

Example:
    talkratio-train speaker-eval --model edge/assets/speaker.int8.onnx --out runs/speaker/eval.json
"""

from __future__ import annotations

import numpy as np

from training.synth import Speaker, synthesize

DEFAULT_SPEED_WPM = 160


def espeak_speech(
    text: str, variant: str, pitch: int, speed: int = DEFAULT_SPEED_WPM
) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``ko+variant`` at ``-p pitch``: 16 kHz float32, trimmed."""
    speaker = Speaker(f"eval_{variant}_{pitch}", "unknown", 0, variant, pitch, speed, 0.0)
    return synthesize(text, speaker)
