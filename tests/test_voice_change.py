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


# --------------------------------------------------------------------------- speaker change

GAP_S = 0.12  # a reply faster than the VAD's hangover: one segment holds both voices


@pytest.fixture(scope="module")
def encoder():
    from edge.speaker import SpeakerEncoder

    return SpeakerEncoder()


def two_voices(first: np.ndarray, second: np.ndarray) -> tuple[Segment, float]:
    """One segment: ``first``, a short pause, ``second``; with the true change time."""
    pad = np.zeros(int(0.15 * SAMPLE_RATE), np.float32)
    pause = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    samples = np.concatenate([pad, first, pause, second, pad])
    change = (pad.size + first.size + pause.size / 2) / SAMPLE_RATE
    return Segment(0.15, samples.size / SAMPLE_RATE - 0.15, 0.0, samples), change


def test_a_quick_female_to_male_reply_is_cut_near_the_change(encoder, tmp_path):
    segment, change = two_voices(
        speak("오늘 저녁에 뭐 먹을까요", "ko+f3", tmp_path),
        speak("김치찌개 어때요 맛있겠다", "ko+m3", tmp_path),
    )
    merged = split_segment(segment, VoiceChangeOptions(enabled=False), encoder)
    assert len(merged) == 1
    first, second = split_segment(segment, VoiceChangeOptions(), encoder)
    assert first.end == pytest.approx(change, abs=0.15)
    assert second.start == pytest.approx(change, abs=0.15)


def test_one_voice_whose_pitch_rises_is_not_cut(encoder):
    from training.speaker_eval import espeak_speech

    segment, _ = two_voices(
        espeak_speech("오늘 저녁에 뭐 먹을까요", "f3", 40),
        espeak_speech("좋아요 두부도 넣을게요", "f3", 70),
    )
    assert len(split_segment(segment, VoiceChangeOptions(), encoder)) == 1


def test_windows_are_computed_only_where_two_speakers_fit(tmp_path):
    class CountingEncoder:
        calls = 0

        def embed_windows(self, *args):
            self.calls += 1
            raise AssertionError("a short utterance needs no windows")

    short = speak("김치찌개", "ko+f3", tmp_path)
    counting = CountingEncoder()
    (kept,) = split_segment(
        Segment(0.0, short.size / SAMPLE_RATE, 0.0, short), VoiceChangeOptions(), counting
    )
    assert counting.calls == 0 and kept.end <= short.size / SAMPLE_RATE
