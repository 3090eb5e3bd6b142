"""Fundamental frequency (F0) of speech and a training-free female/male decision.

The tracker is a normalised cross-correlation (NCCF) pitch tracker in numpy:
decimate to 4 kHz, band-pass 50-1000 Hz, correlate each 25 ms window with the
signal up to one 60 Hz period later, take the shortest lag whose correlation
is close to the best one (which avoids the classic period-doubling error), and
call a frame voiced when that correlation is strong, the frame is not quiet and
it belongs to a run of voiced frames (isolated "voiced" frames are noise).

Frames are aligned with :func:`edge.audio.compute_features`: frame ``i`` is
centred on sample ``i * HOP_SAMPLES`` and there are
``edge.audio.frame_count(n_samples)`` of them.

The decision uses only the median F0 of the voiced frames against the published
adult ranges (male about 85-155 Hz, female about 165-255 Hz), so it owes nothing
to any training corpus. It is the runtime's fallback when no classifier is
installed and an input to the learned classifier (:func:`pitch_features`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soxr

from edge.audio import HOP_SAMPLES, SAMPLE_RATE, frame_count

TRACK_RATE = 4_000  # Hz; the 50-1000 Hz band fits below its 2 kHz Nyquist
DECIMATION = SAMPLE_RATE // TRACK_RATE  # 4
BAND_LOW_HZ = 50.0  # removes hum-free DC drift and rumble below any adult F0
BAND_HIGH_HZ = 1_000.0  # keeps F0 and the strongest harmonics, drops most broadband noise
BAND_TAPER_HZ = 100.0  # cosine edge of the band-pass, avoids ringing
F0_MIN_HZ = 60.0  # lowest adult male voices
F0_MAX_HZ = 500.0  # above high female and child voices
WINDOW_MS = 25
WINDOW_SAMPLES = TRACK_RATE * WINDOW_MS // 1000  # 100 samples at 4 kHz
HOP_TRACK_SAMPLES = HOP_SAMPLES // DECIMATION  # 40 samples at 4 kHz = 10 ms, the feature hop
MIN_LAG = int(TRACK_RATE // F0_MAX_HZ)  # 8 samples = 500 Hz
MAX_LAG = int(np.ceil(TRACK_RATE / F0_MIN_HZ))  # 67 samples = 60 Hz
NEAR_BEST = 0.9  # a shorter lag within 90 % of the best correlation wins (no octave drops)
VOICING_NCCF = 0.6  # correlation a voiced frame reaches; noise stays well below
QUIET_DB = 40.0  # frames this far below the utterance's loud frames are silence
ABS_FLOOR_RMS = 3e-4  # about -70 dBFS: digital silence and dither are never voiced
MIN_RUN_FRAMES = 5  # voiced speech comes in runs of >= 50 ms; shorter runs are noise
MAX_JUMP_OCTAVES = 0.15  # within a run F0 moves < 11 % per 10 ms frame; noise jumps about
STEADY_RUN_FRAMES = 30  # a run of 300 ms or more ...
STEADY_RUN_SEMITONES = 0.1  # ... whose F0 spread (std, 0.6 %) is below even voice jitter: a machine
MEDIAN_FRAMES = 5  # F0 smoothing across neighbouring voiced frames
# frames correlated per FFT call: an 8 s utterance's spectra at once are megabytes, and a fresh
# buffer that size costs the kernel a page fault per 4 KiB on every call (more CPU than the
# FFTs); 128 frames' (half a megabyte) malloc keeps reusing. Each frame's numbers are the same.
BLOCK_FRAMES = 128

ADULT_MAX_F0_HZ = 280.0  # above adult speaking medians (women ~165-255 Hz): a young child, a whine or a whistle
BOUNDARY_HZ = 160.0  # between the male (85-155 Hz) and female (165-255 Hz) ranges
SOFT_MARGIN_OCTAVES = 0.12  # logistic scale: 148 Hz -> p(female) 0.28, 180 Hz -> 0.80
MIN_VOICED_FRAMES = 15  # 150 ms of voicing: below this no voice can be judged
STEADY_TONE_SEMITONES = 0.15  # speech F0 wanders more than this; hums and beeps do not
SATURATED_LEVEL = 0.99  # |x| at or above this is a clipped sample
MAX_SATURATED_FRACTION = 0.02  # more clipped samples than this: the signal is destroyed
PITCH_FEATURES = ("log2_f0_median", "log2_f0_p25", "log2_f0_p75", "has_pitch")
N_PITCH_FEATURES = len(PITCH_FEATURES)


@dataclass(frozen=True)
class PitchTrack:
    """Frame-level F0. ``f0_hz`` ``(n_frames,)`` (0 where unvoiced), ``voiced`` bool
    ``(n_frames,)``, ``nccf`` ``(n_frames,)`` correlation of the chosen lag."""

    f0_hz: np.ndarray
    voiced: np.ndarray
    nccf: np.ndarray

    @property
    def voiced_f0(self) -> np.ndarray:
        return self.f0_hz[self.voiced]

    def crop(self, start: int, stop: int) -> PitchTrack:
        """Frames ``start:stop`` (aligned with a crop of the features)."""
        return PitchTrack(self.f0_hz[start:stop], self.voiced[start:stop], self.nccf[start:stop])


def _band_pass(samples: np.ndarray) -> np.ndarray:
    """Decimate to ``TRACK_RATE`` (soxr's anti-alias filter), then a zero-phase FFT
    band-pass 50-1000 Hz with cosine edges."""
    x = soxr.resample(samples, SAMPLE_RATE, TRACK_RATE, quality="MQ").astype(np.float64)
    n_fft = 1 << max(1, int(np.ceil(np.log2(x.size))))
    spectrum = np.fft.rfft(x - x.mean(), n_fft)
    spectrum *= _band_gain(n_fft)
    return np.fft.irfft(spectrum, n_fft)[: x.size]


@lru_cache(maxsize=8)
def _band_gain(n_fft: int) -> np.ndarray:
    """The band-pass's gain on the ``n_fft``-point FFT's bins (read-only, kept per size)."""
    hz = np.fft.rfftfreq(n_fft, 1.0 / TRACK_RATE)
    gain = np.ones_like(hz)
    for edge_hz, rising in ((BAND_LOW_HZ, True), (BAND_HIGH_HZ, False)):
        t = np.clip((hz - edge_hz) / BAND_TAPER_HZ + 0.5, 0.0, 1.0)
        ramp = 0.5 - 0.5 * np.cos(np.pi * t)
        gain *= ramp if rising else 1.0 - ramp
    gain.flags.writeable = False
    return gain


def _frames(x: np.ndarray, n_frames: int) -> np.ndarray:
    """``(n_frames, WINDOW_SAMPLES + MAX_LAG)`` windows, frame ``i`` centred at hop ``i``."""
    span = WINDOW_SAMPLES + MAX_LAG
    left = WINDOW_SAMPLES // 2
    padded = np.pad(x, (left, span + n_frames * HOP_TRACK_SAMPLES))
    view = np.lib.stride_tricks.sliding_window_view(padded, span)
    return view[: n_frames * HOP_TRACK_SAMPLES : HOP_TRACK_SAMPLES]


def _nccf(frames: np.ndarray) -> np.ndarray:
    """``(n_frames, MAX_LAG + 1)`` normalised cross-correlation of each window with its lags."""
    # a lag L <= MAX_LAG reaches sample k + L < WINDOW_SAMPLES + MAX_LAG = frames.shape[1] of
    # the frame: an FFT that long already holds the linear correlation (no wrap-around)
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1])))
    head = frames[:, :WINDOW_SAMPLES]
    cross = np.fft.irfft(np.conj(np.fft.rfft(head, n_fft)) * np.fft.rfft(frames, n_fft), n_fft)[
        :, : MAX_LAG + 1
    ]
    power = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(MAX_LAG + 1)
    lagged_energy = power[:, lags + WINDOW_SAMPLES] - power[:, lags]
    energy = power[:, WINDOW_SAMPLES : WINDOW_SAMPLES + 1]
    return cross / np.sqrt(energy * lagged_energy + 1e-12)


def _pick_lags(nccf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the shortest local-maximum lag within ``NEAR_BEST`` of the best one.

    Returns fractional lags (parabolic interpolation) and their correlation.
    """
    c = nccf[:, MIN_LAG - 1 : MAX_LAG + 1]
    peak = (c[:, 1:-1] >= c[:, :-2]) & (c[:, 1:-1] > c[:, 2:])
    scores = np.where(peak, c[:, 1:-1], -1.0)
    best = scores.max(axis=1, keepdims=True)
    good = peak & (scores >= NEAR_BEST * best) & (best > 0)
    first = np.where(good.any(axis=1), good.argmax(axis=1), scores.argmax(axis=1))
    rows = np.arange(c.shape[0])
    left, mid, right = c[rows, first], c[rows, first + 1], c[rows, first + 2]
    curvature = left - 2 * mid + right
    offset = np.where(curvature < 0, 0.5 * (left - right) / np.minimum(curvature, -1e-9), 0.0)
    return first + MIN_LAG + np.clip(offset, -0.5, 0.5), mid


def _frame_lags(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: the :func:`_pick_lags` lag and its correlation, and the window's RMS;
    ``BLOCK_FRAMES`` frames at a time."""
    lag, strength, rms = (np.empty(frames.shape[0]) for _ in range(3))
    for i in range(0, frames.shape[0], BLOCK_FRAMES):
        block = frames[i : i + BLOCK_FRAMES]
        lag[i : i + BLOCK_FRAMES], strength[i : i + BLOCK_FRAMES] = _pick_lags(_nccf(block))
        rms[i : i + BLOCK_FRAMES] = np.sqrt(np.mean(block[:, :WINDOW_SAMPLES] ** 2, axis=1))
    return lag, strength, rms


def _runs(candidate: np.ndarray, f0: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of runs of candidate frames whose F0 moves smoothly."""
    octaves = np.abs(np.diff(np.log2(np.maximum(f0, 1.0))))
    joined = candidate[1:] & candidate[:-1] & (octaves < MAX_JUMP_OCTAVES)
    starts = [i for i in range(f0.size) if candidate[i] and (i == 0 or not joined[i - 1])]
    runs = []
    for start in starts:
        stop = start + 1
        while stop < f0.size and joined[stop - 1]:
            stop += 1
        runs.append((start, stop))
    return runs


def _voice_like(f0_run: np.ndarray) -> bool:
    """Long enough, and not held at one frequency like a hum, whine or musical note."""
    if f0_run.size < MIN_RUN_FRAMES:
        return False
    return f0_run.size < STEADY_RUN_FRAMES or np.std(12 * np.log2(f0_run)) >= STEADY_RUN_SEMITONES


def _voiced_frames(candidate: np.ndarray, f0: np.ndarray) -> np.ndarray:
    voiced = np.zeros_like(candidate)
    for start, stop in _runs(candidate, f0):
        if _voice_like(f0[start:stop]):
            voiced[start:stop] = True
    return voiced


def _smooth(f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Running median over the voiced frames only (removes single-frame octave jumps)."""
    values = f0[voiced]
    if values.size < MEDIAN_FRAMES:
        return f0
    half = MEDIAN_FRAMES // 2
    padded = np.pad(values, half, mode="edge")
    smoothed = f0.copy()
    smoothed[voiced] = np.median(
        np.lib.stride_tricks.sliding_window_view(padded, MEDIAN_FRAMES), axis=1
    )
    return smoothed


def track_pitch(samples: np.ndarray) -> PitchTrack:
    """16 kHz mono float32 ``(n,)`` to a :class:`PitchTrack` of ``frame_count(n)`` frames."""
    samples = np.asarray(samples, dtype=np.float32)
    n_frames = frame_count(samples.size)
    if samples.size < 2 * WINDOW_SAMPLES:
        zeros = np.zeros(n_frames, np.float32)
        return PitchTrack(zeros, np.zeros(n_frames, bool), zeros)
    lag, strength, rms = _frame_lags(_frames(_band_pass(samples), n_frames))
    loud = np.percentile(rms, 95)
    audible = (rms >= loud * 10 ** (-QUIET_DB / 20)) & (rms >= ABS_FLOOR_RMS)
    raw_f0 = TRACK_RATE / lag
    voiced = _voiced_frames((strength >= VOICING_NCCF) & audible, raw_f0)
    f0 = np.where(voiced, raw_f0, 0.0)
    return PitchTrack(_smooth(f0, voiced).astype(np.float32), voiced, strength.astype(np.float32))


def saturated_fraction(samples: np.ndarray) -> float:
    """Fraction of samples at full scale (clipped)."""
    samples = np.asarray(samples)
    return float(np.mean(np.abs(samples) >= SATURATED_LEVEL)) if samples.size else 0.0


def is_steady_tone(track: PitchTrack) -> bool:
    """A hum, beep or whistle: voiced, but with an F0 that does not move like speech does."""
    f0 = track.voiced_f0
    if f0.size < MIN_VOICED_FRAMES:
        return False
    q25, q75 = np.percentile(12 * np.log2(f0), [25, 75])
    return bool(q75 - q25 < STEADY_TONE_SEMITONES)


def judgeable(
    samples: np.ndarray, track: PitchTrack, max_f0_hz: float | None = ADULT_MAX_F0_HZ
) -> bool:
    """Enough real voicing to judge a voice: not silence, noise, a tone or a clipped mess,
    and (unless ``max_f0_hz`` is None) a median F0 an adult voice can have."""
    f0 = track.voiced_f0
    return (
        f0.size >= MIN_VOICED_FRAMES
        and saturated_fraction(samples) <= MAX_SATURATED_FRACTION
        and not is_steady_tone(track)
        and (max_f0_hz is None or float(np.median(f0)) <= max_f0_hz)
    )


def female_probability(median_f0_hz: float) -> float:
    """p(female) from the median voiced F0 on a logistic around ``BOUNDARY_HZ``."""
    octaves = np.log2(max(median_f0_hz, 1.0) / BOUNDARY_HZ)
    return float(1.0 / (1.0 + np.exp(-octaves / SOFT_MARGIN_OCTAVES)))


def pitch_statistics(track: PitchTrack) -> np.ndarray:
    """``(N_PITCH_FEATURES,)`` float32: log2(F0 / BOUNDARY_HZ) median, p25, p75, has_pitch.

    Level statistics only (no contour shape, voicing rate or periodicity
    strength): those describe a synthesiser more than a speaker. All zeros
    when there are too few voiced frames to trust.
    """
    f0 = track.voiced_f0
    if f0.size < MIN_VOICED_FRAMES:
        return np.zeros(N_PITCH_FEATURES, np.float32)
    levels = np.percentile(np.log2(f0 / BOUNDARY_HZ), [50, 25, 75])
    return np.concatenate([levels, [1.0]]).astype(np.float32)


def pitch_features(samples: np.ndarray) -> np.ndarray:
    """16 kHz mono ``(n,)`` to the classifier's pitch input ``(N_PITCH_FEATURES,)`` float32."""
    return pitch_statistics(track_pitch(samples))
