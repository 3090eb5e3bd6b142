"""Utterance times are tightened to voiced speech: noise the VAD let through is not talk."""

from __future__ import annotations

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE
from edge.segmenter import Segment
from edge.voice_change import VoiceChangeOptions, split_segment
from tests.conftest import speak

NOISE_BEFORE_S = 0.6  # fan-like noise the VAD counted as the start of the utterance
NOISE_AFTER_S = 0.4


def noisy_segment(tmp_path) -> tuple[Segment, float]:
    rng = np.random.default_rng(3)
    speech = speak("오늘 저녁에 뭐 먹을까요", "ko+f3", tmp_path)
    noise = lambda s: (0.03 * rng.standard_normal(int(s * SAMPLE_RATE))).astype(np.float32)  # noqa: E731
    samples = np.concatenate([noise(NOISE_BEFORE_S), speech, noise(NOISE_AFTER_S)])
    audio_start = 10.0
    segment = Segment(audio_start, audio_start + samples.size / SAMPLE_RATE, audio_start, samples)
    return segment, speech.size / SAMPLE_RATE


def test_times_shrink_to_the_voiced_speech(tmp_path):
    segment, speech_s = noisy_segment(tmp_path)
    (trimmed,) = split_segment(segment, VoiceChangeOptions())
    assert trimmed.start == pytest.approx(segment.start + NOISE_BEFORE_S, abs=0.12)
    assert trimmed.end == pytest.approx(segment.start + NOISE_BEFORE_S + speech_s, abs=0.12)
    # the recognisers still get every sample, padding included
    assert trimmed.samples.size == segment.samples.size


def test_trimming_can_be_turned_off(tmp_path):
    segment, _ = noisy_segment(tmp_path)
    options = VoiceChangeOptions(enabled=False, trim_to_voicing=False)
    (kept,) = split_segment(segment, options)
    assert (kept.start, kept.end) == (segment.start, segment.end)


def test_noise_only_segment_keeps_its_times():
    rng = np.random.default_rng(5)
    samples = (0.05 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    segment = Segment(2.0, 3.0, 2.0, samples)
    (kept,) = split_segment(segment)
    assert (kept.start, kept.end) == (2.0, 3.0)
