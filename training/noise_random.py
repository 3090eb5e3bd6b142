"""Procedural noise of random kind: noise in general, not a bank of clips.

A fine-tune that always hears the same few dozen noise recordings learns those
recordings; noise it never met then costs more than before (edge/assets/stt.md,
round 3). This module draws a fresh noise for every call, each of a randomly
built kind, so that no clip is heard twice:

- ``coloured``: Gaussian noise under a random smooth spectral envelope (random
  levels at points on a log-frequency axis), a random tilt, random peaks and
  notches and random band edges;
- ``modulated``: coloured noise with a random amplitude envelope, slow (swells,
  0.1-2 Hz) or fast (flutter and gurgle, 3-40 Hz, sharpened so that it comes in
  bursts);
- ``grains``: a random rate of short grains, damped sinusoids with a pitch glide
  (bubbles, drips, clatter);
- ``transients``: clicks and short bursts of coloured noise with decaying
  envelopes (knocks, taps, crackle);
- ``tonal``: one to four harmonic tones (chords), notes changing at random
  times, random harmonic roll-off and vibrato; sometimes over a noise bed;
- ``sweep``: two coloured noises cross-fading slowly (a spectrum that moves);
- ``mixed``: two or three of the kinds above at random relative levels.

Every random choice comes from the ``np.random.Generator`` argument, so one
generator state gives one noise. The result is float32 ``(n,)`` at 16 kHz and
unit RMS; :func:`training.noise.mix_at_snr` sets its level.

Used by the DeepSpeech2 trainer's augmentation (``random_noise_prob`` in
``[augment.noise]``): that share of the noisy utterances gets a fresh
procedural noise instead of a crop of the noise bank.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.signal import fftconvolve

from edge.audio import SAMPLE_RATE
from training.noise import NYQUIST_HZ, power, shaped_noise
from training.noise import _unit_rms as _unit

KINDS = ("coloured", "modulated", "grains", "transients", "tonal", "sweep")
MIX_KIND = "mixed"
ALL_KINDS = (*KINDS, MIX_KIND)
KIND_WEIGHTS = (0.22, 0.22, 0.1, 0.1, 0.1, 0.08, 0.18)  # of ALL_KINDS, in order

LOW_HZ = 20.0  # the log-frequency axis of the random envelopes
ENVELOPE_POINTS = (4, 14)  # control points of a random spectral envelope (range)
ENVELOPE_DB = 12.0  # their spread (standard deviation, dB)
TILT_DB_PER_OCTAVE = (-6.0, 4.0)
MAX_BUMPS = 4  # peaks or notches per envelope
BUMP_DB = (-30.0, 18.0)  # a notch (negative) or a resonance (positive)


def random_envelope(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A random smooth amplitude response over frequency (Hz in, linear gain out).

    Random levels at a few points on a log-frequency axis (interpolated), a tilt in
    dB per octave, a few Gaussian peaks or notches, and random band edges.
    """
    n_points = int(rng.integers(ENVELOPE_POINTS[0], ENVELOPE_POINTS[1] + 1))
    log_lo, log_hi = np.log2(LOW_HZ), np.log2(NYQUIST_HZ)
    points = np.linspace(log_lo, log_hi, n_points)
    levels_db = rng.normal(0.0, ENVELOPE_DB * rng.uniform(0.3, 1.0), n_points)
    tilt = rng.uniform(*TILT_DB_PER_OCTAVE)
    bumps = [
        (rng.uniform(np.log2(100.0), log_hi), rng.uniform(0.05, 0.8), rng.uniform(*BUMP_DB))
        for _ in range(int(rng.integers(0, MAX_BUMPS + 1)))
    ]
    low_edge = float(np.exp(rng.uniform(np.log(LOW_HZ), np.log(600.0))))
    high_edge = float(np.exp(rng.uniform(np.log(1500.0), np.log(NYQUIST_HZ * 1.5))))
    order = float(rng.uniform(1.0, 4.0))

    def gain(freqs_hz: np.ndarray) -> np.ndarray:
        octave = np.log2(np.maximum(freqs_hz, LOW_HZ))
        db = np.interp(octave, points, levels_db) + tilt * (octave - log_lo)
        for centre, width, depth in bumps:
            db = db + depth * np.exp(-0.5 * ((octave - centre) / width) ** 2)
        f = np.maximum(freqs_hz, 1.0)
        edges = 1.0 / (1.0 + (low_edge / f) ** (2 * order)) / (1.0 + (f / high_edge) ** (2 * order))
        return 10.0 ** ((db - db.max()) / 20.0) * edges

    return gain


def coloured(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise under a random spectral envelope, unit RMS."""
    # the envelope is drawn after the noise (inside the call), as the recipe's files were made
    return shaped_noise(n_samples, rng, lambda freqs: random_envelope(rng)(freqs))


def _lowpass_noise(n_samples: int, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    """Unit-RMS Gaussian noise with nothing above about ``cutoff_hz`` (a random control signal)."""
    return shaped_noise(n_samples, rng, lambda freqs: 1.0 / (1.0 + (freqs / cutoff_hz) ** 4))


def amplitude_envelope(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A random positive envelope: slow swells or fast flutter/gurgle, sometimes both."""
    env = np.ones(n_samples)
    style = rng.choice(["slow", "fast", "both"])
    if style in ("slow", "both"):
        wobble = _lowpass_noise(n_samples, rng, rng.uniform(0.1, 2.0))
        env *= np.exp(rng.uniform(0.3, 1.2) * wobble)  # log-normal swells
    if style in ("fast", "both"):
        rate = rng.uniform(3.0, 40.0)
        flutter = _lowpass_noise(n_samples, rng, rate)
        sharp = rng.uniform(1.0, 4.0)  # > 1: bursts with gaps between them
        env *= np.maximum(1.0 + rng.uniform(0.5, 1.5) * flutter, 0.0) ** sharp
    return env


def modulated(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Coloured noise under a random amplitude envelope."""
    return _unit(coloured(n_samples, rng) * amplitude_envelope(n_samples, rng))


def _event_times(n_samples: int, rng: np.random.Generator, rate_hz: float) -> np.ndarray:
    """Sample indices of a Poisson process of ``rate_hz`` events a second (at least one)."""
    count = max(1, int(rng.poisson(rate_hz * n_samples / SAMPLE_RATE)))
    return np.sort(rng.integers(0, n_samples, count))


def grains(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Short damped sinusoids with a pitch glide at random times (bubbles, drips, clatter)."""
    out = np.zeros(n_samples)
    rate = float(np.exp(rng.uniform(np.log(2.0), np.log(80.0))))
    lo, hi = sorted(np.exp(rng.uniform(np.log(150.0), np.log(5000.0), 2)))
    hi = max(hi, lo * 1.2)
    decay_ms = rng.uniform(2.0, 40.0)
    glide = rng.uniform(-1.0, 1.5)  # octaves over one decay time
    for start in _event_times(n_samples, rng, rate):
        length = min(int(decay_ms * 5e-3 * SAMPLE_RATE), n_samples - start)
        if length < 2:
            continue
        t = np.arange(length) / SAMPLE_RATE
        tau = decay_ms * rng.uniform(0.5, 1.5) / 1000.0
        f0 = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        freq = np.minimum(f0 * 2.0 ** (glide * t / tau), NYQUIST_HZ * 0.95)
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        out[start : start + length] += rng.lognormal(0.0, 0.7) * np.exp(-t / tau) * np.sin(phase)
    return _unit(out + 1e-3 * rng.standard_normal(n_samples))


def transients(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Clicks and short decaying bursts of coloured noise (knocks, taps, crackle)."""
    impulses = np.zeros(n_samples)
    rate = float(np.exp(rng.uniform(np.log(0.5), np.log(30.0))))
    times = _event_times(n_samples, rng, rate)
    impulses[times] = rng.lognormal(0.0, 0.8, times.size) * rng.choice([-1.0, 1.0], times.size)
    # each impulse rings with a decaying noise of one random colour and length
    decay_ms = rng.uniform(0.5, 80.0)
    n_ring = max(2, min(n_samples, int(decay_ms * 6e-3 * SAMPLE_RATE)))
    ring = coloured(n_ring, rng) * np.exp(-np.arange(n_ring) / (decay_ms * 1e-3 * SAMPLE_RATE))
    out = fftconvolve(impulses, ring)[:n_samples]
    bed = rng.uniform(0.0, 0.1) * coloured(n_samples, rng)  # sometimes a faint floor
    return _unit(out / max(np.sqrt(power(out)), 1e-9) + bed)


def tonal(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """One to four harmonic tones, notes changing at random times; sometimes over noise."""
    t = np.arange(n_samples) / SAMPLE_RATE
    out = np.zeros(n_samples)
    note_s = rng.uniform(0.15, 3.0)
    n_notes = max(1, int(np.ceil(n_samples / SAMPLE_RATE / note_s)))
    for _ in range(int(rng.integers(1, 5))):
        # a piecewise-constant pitch (a melody line), glided over 10 ms at each change
        pitches = np.exp(rng.uniform(np.log(60.0), np.log(1200.0), n_notes))
        steps = np.minimum((t / note_s).astype(int), n_notes - 1)
        f0 = np.convolve(pitches[steps], np.ones(160) / 160, mode="same")
        vibrato = 1.0 + rng.uniform(0.0, 0.02) * np.sin(2 * np.pi * rng.uniform(3.0, 7.0) * t)
        phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SAMPLE_RATE
        rolloff = rng.uniform(0.3, 2.5)  # harmonic k at k ** -rolloff
        odd_only = rng.random() < 0.25
        for k in range(1, 40):
            if odd_only and k % 2 == 0:
                continue
            if k * pitches.max() >= NYQUIST_HZ:
                break
            out += k**-rolloff * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    attack = rng.uniform(0.0, 1.0)  # 0: steady organ, 1: plucked notes decaying
    within = (t % note_s) / note_s
    out *= 1.0 - attack + attack * np.exp(-within * rng.uniform(2.0, 8.0))
    out = _unit(out)
    if rng.random() < 0.4:
        out = out + rng.uniform(0.05, 0.5) * coloured(n_samples, rng)
    return _unit(out)


def sweep(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Two coloured noises cross-fading slowly: a spectrum that moves over time."""
    a, b = coloured(n_samples, rng), coloured(n_samples, rng)
    fade = 0.5 + 0.5 * np.tanh(2.0 * _lowpass_noise(n_samples, rng, rng.uniform(0.1, 1.5)))
    return _unit(np.sqrt(fade) * a + np.sqrt(1.0 - fade) * b)


_MAKERS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "coloured": coloured,
    "modulated": modulated,
    "grains": grains,
    "transients": transients,
    "tonal": tonal,
    "sweep": sweep,
}


def mixed(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Two or three different kinds at random relative levels (within 15 dB)."""
    kinds = rng.choice(KINDS, size=int(rng.integers(2, 4)), replace=False)
    out = np.zeros(n_samples)
    for kind in kinds:
        out += 10.0 ** (rng.uniform(-15.0, 0.0) / 20.0) * _MAKERS[str(kind)](n_samples, rng)
    return _unit(out)


def random_noise(n_samples: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A fresh noise of ``kind`` (random by :data:`KIND_WEIGHTS` if None): float32, unit RMS."""
    if n_samples <= 0:
        raise ValueError("n_samples must be positive")
    if kind is None:
        kind = str(rng.choice(ALL_KINDS, p=np.asarray(KIND_WEIGHTS) / sum(KIND_WEIGHTS)))
    if kind == MIX_KIND:
        return mixed(n_samples, rng)
    if kind not in _MAKERS:
        raise ValueError(f"unknown noise kind {kind!r}: one of {', '.join(ALL_KINDS)}")
    return _MAKERS[kind](n_samples, rng)
