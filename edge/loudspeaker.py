"""Is a voice played by a loudspeaker (a TV, a radio)? Channel statistics the speaker vector ignores.

GE2E speaker vectors are trained to ignore the channel, so a presenter on TV and
the same voice in the room land close together. A loudspeaker leaves traces of
its own that no voice has: a long-term spectrum cut at both ends (small drivers,
broadcast band limits), broadcast compression (a narrow dynamic range, a low
crest factor), a flatter spectrum where a codec or a music bed fills it in, and
a slower, shallower loudness modulation than a talker's syllables.

:func:`channel_features` turns an utterance into :data:`FEATURE_NAMES` (numpy
only). :class:`LoudspeakerDetector` is a logistic model on them and on the voice
model's own odds of ``other``, stored as JSON in the voice model's metadata
(``talkratio.loudspeaker``) by ``talkratio-train loudspeaker``
(:mod:`training.loudspeaker`); its threshold by ``talkratio-train tv-rule``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edge.audio import SAMPLE_RATE

FRAME_SAMPLES = 400  # 25 ms analysis window at 16 kHz
HOP_SAMPLES = 160  # 10 ms: one frame every hop
N_FFT = 512  # 31.25 Hz bins
HANN = np.hanning(FRAME_SAMPLES)
BLOCK_FRAMES = 32  # frames per FFT call: 32 x 257 float64 spectra = 66 KiB, reused by malloc
# long-term spectrum bands (Hz): a TV driver rolls off under 150-400 Hz and over 3.5-7.5 kHz
BAND_EDGES_HZ = (0, 150, 300, 600, 1200, 2400, 4000, 6000, 8000)
ACTIVE_SHARE = 0.5  # the loudest half of the frames: the voice, mostly, not the room
MODULATION_HZ = (2.0, 8.0)  # syllable rate: a talker's loudness moves here
FRAME_RATE_HZ = SAMPLE_RATE / HOP_SAMPLES  # 100 frames per second
EPS = 1e-10
FEATURE_NAMES = (
    *(f"band_{lo}_{hi}_db" for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:], strict=True)),
    "dynamic_range_db",
    "crest_factor_db",
    "flatness_db",
    "modulation_share",
    "rolloff_low_hz",
    "rolloff_high_hz",
)


def _frames(x: np.ndarray) -> np.ndarray:
    """``(T, FRAME_SAMPLES)`` view of the 25 ms frames every 10 ms of ``x`` (no copy)."""
    if x.size < FRAME_SAMPLES:
        x = np.pad(x, (0, FRAME_SAMPLES - x.size))
    return np.lib.stride_tricks.sliding_window_view(x, FRAME_SAMPLES)[::HOP_SAMPLES]


def _power_frames(frames: np.ndarray) -> np.ndarray:
    """``(T, N_FFT // 2 + 1)`` power spectra of ``frames`` through a Hann window (float64:
    the window's product promotes float32 samples exactly)."""
    return np.abs(np.fft.rfft(frames * HANN, N_FFT)) ** 2


def _frame_spectra(frames: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each frame's level (dB) and the frames' power spectra, in blocks of BLOCK_FRAMES.

    In blocks: an 8 s utterance's spectra at once are megabytes, and a fresh buffer that
    size costs the kernel a page fault per 4 KiB on every call (more than the FFT itself).
    """
    blocks = [
        _power_frames(frames[i : i + BLOCK_FRAMES]) for i in range(0, len(frames), BLOCK_FRAMES)
    ]
    level_db = [10 * np.log10(power.sum(axis=1) + EPS) for power in blocks]
    return np.concatenate(level_db), blocks


def _loud_statistics(blocks: list[np.ndarray], loud: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``loud`` frames' mean power spectrum (the voice's long-term spectrum) and each
    loud frame's spectral flatness (log of the geometric over the arithmetic mean power)."""
    total, flatness = np.zeros(N_FFT // 2 + 1), []
    for i, power in enumerate(blocks):
        power = power[loud[i * BLOCK_FRAMES : (i + 1) * BLOCK_FRAMES]]
        total += power.sum(axis=0)
        flatness.append(np.mean(np.log(power + EPS), axis=1) - np.log(power.mean(axis=1) + EPS))
    return total / max(int(loud.sum()), 1), np.concatenate(flatness)


def _band_levels_db(ltas: np.ndarray) -> np.ndarray:
    """Each band's mean power in dB, relative to the mean over bands (a shape, not a level)."""
    hz = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    levels = []
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:], strict=True):
        inside = (hz >= lo) & (hz < hi) if hi < BAND_EDGES_HZ[-1] else hz >= lo
        levels.append(10 * np.log10(ltas[inside].mean() + EPS))
    levels = np.asarray(levels)
    return levels - levels.mean()


def _rolloffs_hz(ltas: np.ndarray) -> tuple[float, float]:
    """Frequencies under which 3 % and 97 % of the long-term power lie (the band's edges)."""
    hz = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    cumulative = np.cumsum(ltas) / (ltas.sum() + EPS)
    return float(hz[np.searchsorted(cumulative, 0.03)]), float(
        hz[np.searchsorted(cumulative, 0.97)]
    )


def _modulation_share(frame_db: np.ndarray) -> float:
    """Share of the loudness envelope's variation at syllable rate (2-8 Hz)."""
    envelope = frame_db - frame_db.mean()
    spectrum = np.abs(np.fft.rfft(envelope)) ** 2
    hz = np.fft.rfftfreq(envelope.size, 1 / FRAME_RATE_HZ)
    inside = (hz >= MODULATION_HZ[0]) & (hz <= MODULATION_HZ[1])
    return float(spectrum[inside].sum() / (spectrum[1:].sum() + EPS))


def channel_features(samples: np.ndarray) -> np.ndarray:
    """16 kHz mono float32 ``(n,)`` to the ``(len(FEATURE_NAMES),)`` channel statistics."""
    x = np.asarray(samples, dtype=np.result_type(samples, np.float32))  # float32 stays as is
    frame_db, blocks = _frame_spectra(_frames(x))
    loud = frame_db >= np.quantile(frame_db, 1 - ACTIVE_SHARE)
    ltas, flatness = _loud_statistics(blocks, loud)
    rms = np.sqrt(np.einsum("i,i->", x, x, dtype=np.float64) / max(x.size, 1) + EPS)
    peak = float(np.quantile(np.abs(x), 0.999)) if x.size else 0.0
    low, high = _rolloffs_hz(ltas)
    return np.array([
        *_band_levels_db(ltas),
        np.quantile(frame_db, 0.95) - np.quantile(frame_db, 0.2),
        20 * np.log10(peak / rms + EPS),
        10 / np.log(10) * float(np.median(flatness)),
        _modulation_share(frame_db),
        low,
        high,
    ], dtype=np.float32)  # fmt: skip


@dataclass(frozen=True)
class LoudspeakerDetector:
    """A logistic model: ``p(loudspeaker) = sigmoid(w . (z - mean) / scale + bias)``.

    ``z`` is :func:`channel_features` followed by the voice model's log-odds of ``other``
    (what the speaker vector already says); ``threshold`` is the probability from which
    an utterance is called ``other`` (chosen on dev household scenes by
    ``talkratio-train tv-rule``; 1.0 until then: never).
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 1.0

    def probability(self, features: np.ndarray, p_other: float) -> float:
        """p(loudspeaker) from an utterance's channel statistics and the voice model's p(other)."""
        p = min(max(float(p_other), 1e-6), 1 - 1e-6)
        z = np.append(np.asarray(features, np.float64), np.log(p / (1 - p)))
        score = float(np.dot(self.weights, (z - np.asarray(self.mean)) / np.asarray(self.scale)))
        return float(1 / (1 + np.exp(-np.clip(score + self.bias, -50, 50))))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LoudspeakerDetector:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
