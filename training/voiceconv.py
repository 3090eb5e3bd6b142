"""Voice conversion with the WORLD vocoder: pitch, vocal tract and tempo, each on its own.

WORLD splits speech into an F0 contour, a spectral envelope (the vocal tract)
and an aperiodicity. Changing one and resynthesising leaves the others alone:

- ``f0_scale`` multiplies F0 (a mother's raised voice to her child, a man at
  250 Hz) without moving formants;
- ``f0_range`` widens (> 1) or flattens (< 1) the contour around its median in
  log frequency (child-directed speech has a wide, sing-song contour);
- ``formant_scale`` warps the envelope's frequency axis (VTLP): > 1 moves every
  formant up by that factor, as a shorter vocal tract does (children);
- ``tempo`` > 1 speaks faster without changing pitch or formants.

Used to make home-like voice-type data (training/voice/home.py) and to augment
STT training.

Example:
    y = convert(x, VoiceChange(f0_scale=1.6, formant_scale=1.18, tempo=1.15))
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from edge.audio import SAMPLE_RATE

FRAME_PERIOD_MS = 5.0  # WORLD's analysis hop; finer than 10 ms keeps fast F0 moves
F0_FLOOR_HZ = 50.0  # lowest F0 searched (deep male voices)
F0_CEIL_HZ = 800.0  # highest F0 searched (a shouting child)
OUTPUT_F0_CEIL_HZ = 1000.0  # converted F0 is clipped here; WORLD aliases far above
PEAK_LIMIT = 0.99  # resynthesis can overshoot; output is scaled below full scale


@dataclass(frozen=True)
class VoiceChange:
    """How to change a voice; the defaults change nothing."""

    f0_scale: float = 1.0  # multiply F0
    f0_range: float = 1.0  # scale log-F0 deviations from the median
    formant_scale: float = 1.0  # > 1: shorter vocal tract, every formant higher
    tempo: float = 1.0  # > 1: faster
    f0_median_hz: float = 0.0  # when > 0: move the median voiced F0 here (instead of f0_scale)

    def is_identity(self) -> bool:
        moves = (self.f0_scale, self.f0_range, self.formant_scale, self.tempo)
        return moves == (1, 1, 1, 1) and self.f0_median_hz <= 0


def _world():
    """pyworld, imported late (a ``train`` extra) and without its pkg_resources warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyworld

    return pyworld


@dataclass
class WorldParts:
    """WORLD analysis of one utterance; rows are frames every ``FRAME_PERIOD_MS``."""

    f0_hz: np.ndarray  # (T,) 0 where unvoiced
    envelope: np.ndarray  # (T, K) power spectral envelope, bins 0 .. rate / 2
    aperiodicity: np.ndarray  # (T, K)


def analyse(samples: np.ndarray, rate: int = SAMPLE_RATE) -> WorldParts:
    """F0 (DIO refined by StoneMask), CheapTrick envelope and D4C aperiodicity."""
    pw = _world()
    x = np.ascontiguousarray(samples, dtype=np.float64)
    f0, times = pw.dio(x, rate, F0_FLOOR_HZ, F0_CEIL_HZ, frame_period=FRAME_PERIOD_MS)
    f0 = pw.stonemask(x, f0, times, rate)
    envelope = pw.cheaptrick(x, f0, times, rate)
    aperiodicity = pw.d4c(x, f0, times, rate)
    return WorldParts(f0, envelope, aperiodicity)


def synthesise(parts: WorldParts, rate: int = SAMPLE_RATE) -> np.ndarray:
    """WORLD parts back to float32 audio, peak-limited."""
    pw = _world()
    y = pw.synthesize(
        np.ascontiguousarray(parts.f0_hz),
        np.ascontiguousarray(parts.envelope),
        np.ascontiguousarray(parts.aperiodicity),
        rate,
        FRAME_PERIOD_MS,
    )
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > PEAK_LIMIT:
        y *= PEAK_LIMIT / peak
    return y.astype(np.float32)


def change_f0(f0_hz: np.ndarray, change: VoiceChange) -> np.ndarray:
    """Voiced F0 scaled (or its median moved to ``f0_median_hz``) and its log deviations
    from the median multiplied by ``f0_range``."""
    out = np.zeros_like(f0_hz)
    voiced = f0_hz > 0
    if not voiced.any():
        return out
    log_f0 = np.log(f0_hz[voiced])
    centre = float(np.median(log_f0))
    if change.f0_median_hz > 0:
        target = np.log(change.f0_median_hz)
    else:
        target = centre + np.log(change.f0_scale)
    moved = target + change.f0_range * (log_f0 - centre)
    out[voiced] = np.minimum(np.exp(moved), OUTPUT_F0_CEIL_HZ)
    return out


def warp_frequency(spectra: np.ndarray, scale: float) -> np.ndarray:
    """``out[:, k] = spectra[:, k / scale]`` (linear interpolation, edge bin held).

    ``scale`` > 1 moves spectral peaks up by that factor (the top of the band is
    pushed out); < 1 moves them down (the top bin's value fills the gap).
    """
    n_bins = spectra.shape[1]
    source = np.minimum(np.arange(n_bins) / scale, n_bins - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, n_bins - 1)
    frac = source - low
    return spectra[:, low] * (1 - frac) + spectra[:, high] * frac


def change_tempo(parts: WorldParts, tempo: float) -> WorldParts:
    """Fewer (``tempo`` > 1) or more frames; each new frame copies its nearest source frame."""
    n_frames = parts.f0_hz.size
    count = max(1, int(round(n_frames / tempo)))
    source = np.minimum(np.round(np.arange(count) * tempo).astype(int), n_frames - 1)
    return WorldParts(parts.f0_hz[source], parts.envelope[source], parts.aperiodicity[source])


def convert(samples: np.ndarray, change: VoiceChange, rate: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` (float32 mono) spoken with ``change`` applied; the input when it is identity."""
    if change.is_identity() or samples.size == 0:
        return np.asarray(samples, dtype=np.float32)
    parts = analyse(samples, rate)
    parts.f0_hz = change_f0(parts.f0_hz, change)
    if change.formant_scale != 1.0:
        parts.envelope = warp_frequency(parts.envelope, change.formant_scale)
        parts.aperiodicity = warp_frequency(parts.aperiodicity, change.formant_scale)
    if change.tempo != 1.0:
        parts = change_tempo(parts, change.tempo)
    return synthesise(parts, rate)
