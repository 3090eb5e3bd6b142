"""The CPU profile of analyze: each part's seconds counted once, and the report shows them."""

from __future__ import annotations

import time
from collections import Counter

from benchmarks import cpu_profile


def _busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_part_called_inside_another_part_is_counted_once():
    spent: Counter = Counter()
    inner = cpu_profile._timed(lambda: _busy(0.02), "inner", spent)
    outer = cpu_profile._timed(lambda: (_busy(0.02), inner()), "outer", spent)
    outer()
    assert spent["outer"] >= 0.04 and "inner" not in spent  # not 0.06 in all


def test_the_report_lists_every_part_with_its_share():
    result = {
        "command": "x", "recording": "h.wav", "audio_s": 90.0, "commit": "abc",
        "load_average": (1.0, 1.0, 1.0),
        "whole_command": [{"step": "python -c pass (the interpreter)", "cpu_s": 0.03,
                           "cpu_s_runs": [0.03]}],
        "analysis": {"cpu_s": 0.5, "cpu_s_runs": [0.5],
                     "parts": {"speaker encoder, ONNX": 0.25, "pitch track": 0.05}},
        "vad_alone": {"windows": 2812, "bundled, 32 per call": 0.04},
    }
    text = cpu_profile.markdown(result)
    assert "| speaker encoder, ONNX | 0.250 | 50% |" in text
    assert "RTF 0.0056" in text and "| bundled, 32 per call | 0.040 |" in text
