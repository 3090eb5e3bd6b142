"""The F0 tracker: right pitch on voices of any register, no pitch in silence, noise or hum."""

from __future__ import annotations

import numpy as np
import pytest

from edge import pitch
from edge.audio import SAMPLE_RATE, frame_count
from edge.pitch import (
    N_PITCH_FEATURES,
    female_probability,
    judgeable,
    pitch_features,
    pitch_statistics,
    track_pitch,
)


def synthetic_voice(f0_hz: float, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A speech-like signal that owes nothing to espeak: harmonics of a wandering F0
    (intonation +-8 %, 1 % jitter), a formant-like spectral envelope and syllables
    (4 per second) separated by short pauses. ``(n,)`` float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    contour = 1 + 0.08 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    jitter = 1 + 0.01 * np.convolve(rng.standard_normal(n), np.ones(80) / 80 * 9, "same")
    phase = 2 * np.pi * np.cumsum(f0_hz * contour * jitter) / SAMPLE_RATE
    formants = (rng.uniform(500, 800), rng.uniform(1200, 1900))
    voice = np.zeros(n)
    for k in range(1, int(3800 / f0_hz)):
        hz = k * f0_hz
        gain = sum(1 / (1 + ((hz - f) / 150) ** 2) for f in formants) + 0.05
        voice += gain / k**0.5 * np.sin(k * phase + rng.uniform(0, 6))
    syllables = np.clip(np.sin(2 * np.pi * 2.0 * t) * 1.5 + 0.3, 0, 1)
    voice *= syllables
    return (0.3 * voice / np.abs(voice).max()).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(x.size)
    scale = np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (x + scale * noise).astype(np.float32)


@pytest.mark.parametrize("f0_hz", [85.0, 115.0, 150.0, 190.0, 240.0, 320.0])
def test_median_f0_within_three_percent(f0_hz):
    track = track_pitch(synthetic_voice(f0_hz))
    assert track.voiced.mean() > 0.4
    assert np.median(track.voiced_f0) == pytest.approx(f0_hz, rel=0.03)


@pytest.mark.parametrize("f0_hz", [110.0, 210.0])
def test_pitch_survives_5db_white_noise(f0_hz):
    track = track_pitch(add_noise(synthetic_voice(f0_hz), snr_db=5.0))
    assert track.voiced.sum() > 50
    assert np.median(track.voiced_f0) == pytest.approx(f0_hz, rel=0.04)


def test_missing_fundamental_of_a_telephone_channel_is_still_found():
    voice = synthetic_voice(120.0)
    spectrum = np.fft.rfft(voice)
    spectrum[np.fft.rfftfreq(voice.size, 1 / SAMPLE_RATE) < 300] = 0  # no F0, no 2nd harmonic
    track = track_pitch(np.fft.irfft(spectrum, voice.size).astype(np.float32))
    assert np.median(track.voiced_f0) == pytest.approx(120.0, rel=0.04)


def test_frames_align_with_the_feature_frames():
    for n in (SAMPLE_RATE // 2, SAMPLE_RATE + 37, 100):
        assert track_pitch(np.zeros(n, np.float32)).f0_hz.shape == (frame_count(n),)


def test_silence_noise_and_hum_have_no_judgeable_voice():
    rng = np.random.default_rng(0)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    inputs = {
        "silence": np.zeros(t.size),
        "dither": 1e-5 * rng.standard_normal(t.size),
        "white": 0.2 * rng.standard_normal(t.size),
        "brown": np.cumsum(rng.standard_normal(t.size)) * 1e-3,
        "mains hum": 0.3 * np.sin(2 * np.pi * 120 * t) + 0.1 * np.sin(2 * np.pi * 240 * t),
    }
    for name, x in inputs.items():
        x = x.astype(np.float32)
        assert not judgeable(x, track_pitch(x)), name


def test_female_probability_follows_the_adult_ranges():
    assert female_probability(160.0) == pytest.approx(0.5)
    assert female_probability(120.0) < 0.05 and female_probability(210.0) > 0.95
    probs = [female_probability(f) for f in (90, 130, 150, 170, 190, 250)]
    assert probs == sorted(probs)


def test_pitch_features_are_log_levels_relative_to_the_boundary():
    features = pitch_features(synthetic_voice(240.0))
    assert features.shape == (N_PITCH_FEATURES,) and features.dtype == np.float32
    assert features[0] == pytest.approx(np.log2(240 / 160), abs=0.05)
    assert features[-1] == 1.0
    assert not pitch_statistics(track_pitch(np.zeros(8000, np.float32))).any()


@pytest.mark.parametrize("seconds", [0.5, 1.28, 9.6])
def test_the_track_in_blocks_is_the_same_numbers_as_all_frames_at_once(monkeypatch, seconds):
    """Frames are correlated ``BLOCK_FRAMES`` at a time (no megabyte buffers to fault in):
    every frame's F0, voicing and correlation are exactly what one call over all frames gives."""
    x = add_noise(synthetic_voice(130.0, seconds=10.0), snr_db=15.0)[: int(seconds * SAMPLE_RATE)]
    x[: x.size // 3] *= 0.01  # a quiet stretch: the loudness gate sees every block
    assert frame_count(x.size) > pitch.BLOCK_FRAMES or seconds < 1  # one block, or several
    blocked = track_pitch(x)
    monkeypatch.setattr(pitch, "BLOCK_FRAMES", 10**9)
    whole = track_pitch(x)
    for a, b in zip(
        (blocked.f0_hz, blocked.voiced, blocked.nccf),
        (whole.f0_hz, whole.voiced, whole.nccf),
        strict=True,
    ):
        assert np.array_equal(a, b)
    assert blocked.voiced.any()


def test_the_band_pass_gain_is_kept_read_only():
    gain = pitch._band_gain(1 << 15)
    assert gain is pitch._band_gain(1 << 15) and not gain.flags.writeable


def test_the_correlation_is_linear_with_the_shorter_fft():
    """The FFT of one frame's length holds every lag's correlation without wrap-around:
    the same as the sums written out."""
    x = pitch._band_pass(add_noise(synthetic_voice(100.0, seconds=1.0), snr_db=10.0))
    frames = pitch._frames(x, frame_count(SAMPLE_RATE))[40:60]
    head = frames[:, : pitch.WINDOW_SAMPLES]
    direct = np.empty((frames.shape[0], pitch.MAX_LAG + 1))
    for lag in range(pitch.MAX_LAG + 1):
        lagged = frames[:, lag : lag + pitch.WINDOW_SAMPLES]
        energy = (head**2).sum(axis=1) * (lagged**2).sum(axis=1)
        direct[:, lag] = (head * lagged).sum(axis=1) / np.sqrt(energy + 1e-12)
    assert np.abs(pitch._nccf(frames) - direct).max() < 1e-9
