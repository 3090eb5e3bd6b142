"""Household noise generated in numpy, for noisy copies of a parent's enrolment speech.

A parent is enrolled in a quiet room but heard later over a fan, the mains hum
or a vacuum cleaner, and noise moves the speaker vectors. Noisy copies of the
enrolment (extra voiceprint prototypes) were measured by
:mod:`training.household_match` and not shipped (``edge/assets/speaker.md``).
The noises need nothing but numpy and come from a fixed seed, so that a device
could make them too and the same enrolment always gives the same prototypes.
"""

from __future__ import annotations

import numpy as np

from edge.audio import SAMPLE_RATE

NOISE_SEED = 20261202  # fixed: an enrolment is reproducible
EPS_POWER = 1e-12  # floor on a mean square, so silence never divides by zero
MAINS_HZ = 50.0
HUM_HARMONICS = 6


def _coloured(n_samples: int, rng: np.random.Generator, low_hz: float, high_hz: float,
              slope: float) -> np.ndarray:  # fmt: skip
    """Gaussian noise band-passed between ``low_hz`` and ``high_hz``, tilted by ``f ** slope``."""
    freqs_hz = np.maximum(np.fft.rfftfreq(n_samples, 1.0 / SAMPLE_RATE), 1.0)
    gain = freqs_hz**slope / (1 + (low_hz / freqs_hz) ** 4) / (1 + (freqs_hz / high_hz) ** 4)
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(n_samples)) * gain, n=n_samples)


def fan(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A fan or air conditioner: pink noise from 100 Hz to 2 kHz."""
    return _coloured(n_samples, rng, 100.0, 2000.0, -0.5)


def hum(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum with its harmonics (falling as 1/k) and a little hiss."""
    t = np.arange(n_samples) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * k * MAINS_HZ * t + rng.uniform(0, 2 * np.pi)) / k
               for k in range(1, HUM_HARMONICS + 1))  # fmt: skip
    hiss = _coloured(n_samples, rng, 100.0, 6000.0, 0.0)
    return _unit(tone) + 0.05 * _unit(hiss)


def broadband(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A vacuum cleaner or running water: mid and high band noise, 400 Hz to 6 kHz."""
    return _coloured(n_samples, rng, 400.0, 6000.0, 0.0)


NOISES = {"fan": fan, "hum": hum, "broadband": broadband}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(max(float(np.mean(np.square(x))), EPS_POWER))


def noisy_copy(speech: np.ndarray, kind: str, snr_db: float) -> np.ndarray:
    """``speech`` with the ``kind`` noise mixed in at ``snr_db`` (against its mean power)."""
    rng = np.random.default_rng([NOISE_SEED, sorted(NOISES).index(kind)])
    noise = _unit(NOISES[kind](speech.size, rng))
    power = max(float(np.mean(np.square(speech, dtype=np.float64))), EPS_POWER)
    scaled = noise * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(speech + scaled, -1.0, 1.0).astype(np.float32)
