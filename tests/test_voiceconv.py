"""WORLD voice conversion moves F0, formants and tempo independently, by the amount asked."""

import numpy as np
import pytest
from scipy.signal import lfilter

from edge.audio import SAMPLE_RATE
from training.voiceconv import VoiceChange, analyse, convert

pytest.importorskip("pyworld")

FORMANT_HZ = 700.0  # one resonance of the test vowel
SEARCH_HZ = (450.0, 1300.0)  # where the (moved) resonance is looked for


def vowel(f0_hz: float = 120.0, seconds: float = 1.0, vibrato: float = 0.0) -> np.ndarray:
    """A glottal pulse train through one resonator at FORMANT_HZ: a crude /a/."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = f0_hz * (1 + vibrato * np.sin(2 * np.pi * 3 * t))
    phase = np.cumsum(f0) / SAMPLE_RATE
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    r = np.exp(-np.pi * 120 / SAMPLE_RATE)
    theta = 2 * np.pi * FORMANT_HZ / SAMPLE_RATE
    x = lfilter([1.0], [1, -2 * r * np.cos(theta), r * r], pulses)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def median_f0(x: np.ndarray) -> float:
    f0 = analyse(x).f0_hz
    return float(np.median(f0[f0 > 0]))


def formant_hz(x: np.ndarray) -> float:
    """Frequency of the envelope's peak inside SEARCH_HZ, from the middle frames."""
    env = analyse(x).envelope
    middle = np.log(env[env.shape[0] // 4 : -env.shape[0] // 4]).mean(axis=0)
    hz = np.linspace(0, SAMPLE_RATE / 2, env.shape[1])
    inside = (hz > SEARCH_HZ[0]) & (hz < SEARCH_HZ[1])
    return float(hz[inside][np.argmax(middle[inside])])


def test_f0_scale_moves_pitch_and_leaves_the_formant():
    x = vowel(120.0)
    y = convert(x, VoiceChange(f0_scale=1.5))
    assert median_f0(y) == pytest.approx(180.0, rel=0.05)
    assert formant_hz(y) == pytest.approx(formant_hz(x), rel=0.08)


def test_f0_median_target_is_reached():
    y = convert(vowel(210.0), VoiceChange(f0_median_hz=330.0))
    assert median_f0(y) == pytest.approx(330.0, rel=0.05)


def test_formant_scale_moves_the_formant_and_leaves_pitch():
    x = vowel(120.0)
    y = convert(x, VoiceChange(formant_scale=1.25))
    assert formant_hz(y) == pytest.approx(1.25 * formant_hz(x), rel=0.08)
    assert median_f0(y) == pytest.approx(120.0, rel=0.05)


def test_range_widening_spreads_the_contour():
    x = vowel(200.0, vibrato=0.1)
    f0_in = analyse(x).f0_hz
    f0_out = analyse(convert(x, VoiceChange(f0_range=2.0))).f0_hz
    spread_in = np.std(np.log(f0_in[f0_in > 0]))
    spread_out = np.std(np.log(f0_out[f0_out > 0]))
    assert spread_out == pytest.approx(2.0 * spread_in, rel=0.2)


def test_tempo_shortens_without_moving_pitch():
    x = vowel(150.0, seconds=1.2)
    y = convert(x, VoiceChange(tempo=1.5))
    assert y.size == pytest.approx(x.size / 1.5, rel=0.05)
    assert median_f0(y) == pytest.approx(150.0, rel=0.05)


def test_identity_returns_the_input():
    x = vowel()
    assert np.array_equal(convert(x, VoiceChange()), x)
