"""Audio front end: files to 16 kHz mono float32, and the features every model uses.

This is the one feature module of the project. Training imports it, so the
features a model learns from and the features the runtime feeds it are the same
code. numpy, soundfile and soxr only: never torch.

Shapes: audio is ``(n_samples,)`` float32 in [-1, 1] at ``SAMPLE_RATE``;
features are ``(n_frames, n_bins)`` float32, one row every ``hop_length`` samples.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from edge.errors import UserError

SAMPLE_RATE = 16_000  # Hz; every model and the VAD run at 16 kHz
PCM16_SCALE = 32767  # float [-1, 1] to 16-bit PCM (webrtcvad and Vosk read it)
WIN_MS = 20  # DeepSpeech2 analysis window
HOP_MS = 10  # one feature frame every 10 ms
WIN_SAMPLES = SAMPLE_RATE * WIN_MS // 1000  # 320 samples in a 20 ms window
HOP_SAMPLES = SAMPLE_RATE * HOP_MS // 1000  # 160 samples in a 10 ms hop
SPEC_BINS = WIN_SAMPLES // 2 + 1  # 161 frequency bins from a 320-point FFT
BLOCK_SECONDS = 10.0  # streaming read size for long files
# STFT frames per FFT call: an 8 s utterance's whole spectrum at once is a megabyte-sized
# buffer, and a fresh buffer that size costs the kernel a page fault per 4 KiB on every call
# (more CPU than the FFT itself); 64 frames' spectra stay small enough for malloc to reuse
STFT_BLOCK_FRAMES = 64
NORM_STD_FLOOR = 0.1  # bins quieter than this (silent bands, dither) are not blown up to unit variance


class AudioError(UserError, ValueError):
    """An audio file that cannot be used, with a message fit for the user."""


@dataclass(frozen=True)
class FeatureConfig:
    """How samples become features. Stored as JSON in each model's metadata.

    ``type`` is ``"spectrogram"`` (DeepSpeech2: log1p magnitude, 161 bins),
    ``"logmel"`` (log mel energies, ``n_mels`` bins) or ``"mel"`` (mel power, no
    log: the speaker encoder). ``mel_scale`` is ``"htk"`` (filters normalised to
    unit sum) or ``"slaney"`` (Slaney's scale, linear below 1 kHz, with Slaney's
    area normalisation 2 / bandwidth in Hz: librosa's default). ``normalisation``
    is ``"utterance"`` (each bin to zero mean, unit variance over the utterance),
    ``"volume"`` (the waveform's RMS raised, never lowered, to ``target_dbfs``
    before the STFT) or ``"none"``.
    """

    type: str = "spectrogram"
    sample_rate: int = SAMPLE_RATE
    n_fft: int = WIN_SAMPLES
    win_length: int = WIN_SAMPLES
    hop_length: int = HOP_SAMPLES
    window: str = "hamming"
    n_mels: int = 0
    normalisation: str = "utterance"
    mel_scale: str = "htk"
    target_dbfs: float | None = None  # "volume" normalisation only

    @property
    def n_bins(self) -> int:
        return self.n_mels if self.type in ("logmel", "mel") else self.n_fft // 2 + 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureConfig:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


SPECTROGRAM = FeatureConfig()
LOGMEL = FeatureConfig(type="logmel", n_fft=512, win_length=400, n_mels=64)


# --------------------------------------------------------------------------- reading


def _open(path: str | Path) -> sf.SoundFile:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if not path.is_file():  # a pipe or a device would block the read until someone writes
        raise AudioError(f"{path}: not a regular file (a pipe or a device); give a recording")
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"{path}: not a readable audio file (WAV, FLAC or OGG expected): {exc}"
        ) from None


def to_mono(block: np.ndarray) -> np.ndarray:
    """``(n,)`` or ``(n, channels)`` to ``(n,)`` float32 by averaging channels."""
    block = np.asarray(block, dtype=np.float32)
    return block.mean(axis=1) if block.ndim == 2 else block


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (libsoxr, high quality) of a mono float32 signal."""
    samples = np.asarray(samples, dtype=np.float32)
    if rate_in == rate_out or samples.size == 0:
        return samples
    return soxr.resample(samples, rate_in, rate_out, quality="HQ").astype(np.float32)


def iter_audio_blocks(
    path: str | Path, block_seconds: float = BLOCK_SECONDS
) -> Iterator[np.ndarray]:
    """Stream a file of any rate, channel count and bit depth as 16 kHz mono blocks.

    Memory stays bounded by ``block_seconds`` whatever the file's length.
    Raises :class:`AudioError` for a missing, unreadable, truncated or empty file, and
    for NaN or infinite samples.
    """
    with _open(path) as f:
        rate = f.samplerate
        resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(
            rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ"
        )
        block_frames = max(1, int(block_seconds * rate))
        produced = 0
        try:
            # read() rather than blocks(): blocks() refuses files libsndfile cannot seek
            # (GSM 6.10 WAV), which read() streams like any other
            while (raw := f.read(block_frames, dtype="float32", always_2d=True)).size:
                mono = to_mono(raw)
                if not np.isfinite(mono).all():  # the VAD would hear it as silence
                    raise AudioError(
                        f"{path}: contains NaN or infinite samples near "
                        f"{produced / SAMPLE_RATE:.1f} s; it cannot be analysed"
                    )
                out = mono if resampler is None else resampler.resample_chunk(mono)
                produced += out.size
                if out.size:
                    yield out
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
                produced += tail.size
                if tail.size:
                    yield tail
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{path}: audio data is corrupt or truncated: {exc}") from None
        if produced == 0:
            raise AudioError(f"{path}: contains no audio")


def load_audio(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """Read a whole file as ``(n,)`` float32 mono at 16 kHz.

    ``max_seconds`` refuses files longer than that (use :func:`iter_audio_blocks`
    for long recordings) instead of filling memory.
    """
    if max_seconds is not None:
        with _open(path) as f:
            seconds = f.frames / f.samplerate if f.samplerate else 0.0
        if seconds > max_seconds:
            raise AudioError(
                f"{path}: {seconds:.0f} s is longer than the {max_seconds:.0f} s this step accepts"
            )
    return np.concatenate(list(iter_audio_blocks(path)))


def save_audio(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM WAV (or FLAC by suffix). Used by data generation only."""
    sf.write(str(path), np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")


# --------------------------------------------------------------------------- features


@lru_cache(maxsize=8)
def _window(kind: str, length: int) -> np.ndarray:
    if kind == "hamming":
        return np.hamming(length).astype(np.float32)
    if kind == "hann":
        return np.hanning(length).astype(np.float32)
    if kind == "hann_periodic":  # the FFT convention (scipy/librosa/torch "hann")
        return np.hanning(length + 1)[:-1].astype(np.float32)
    raise ValueError(f"unknown window {kind!r}")


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)  # HTK mel scale


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


# Slaney's Auditory Toolbox scale: linear (3 mel per 200 Hz) below 1 kHz, logarithmic above
SLANEY_HZ_PER_MEL = 200.0 / 3
SLANEY_BREAK_HZ = 1000.0
SLANEY_BREAK_MEL = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL  # 15 mel at 1 kHz
SLANEY_LOG_STEP = np.log(6.4) / 27.0  # 27 mel per factor 6.4 in Hz above the break


def _hz_to_slaney(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_part = SLANEY_BREAK_MEL + np.log(np.maximum(hz, SLANEY_BREAK_HZ) / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP
    return np.where(hz < SLANEY_BREAK_HZ, hz / SLANEY_HZ_PER_MEL, log_part)


def _slaney_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_part = SLANEY_BREAK_HZ * np.exp(SLANEY_LOG_STEP * (np.maximum(mel, SLANEY_BREAK_MEL) - SLANEY_BREAK_MEL))
    return np.where(mel < SLANEY_BREAK_MEL, mel * SLANEY_HZ_PER_MEL, log_part)


def _mel_edges_hz(sample_rate: int, n_mels: int, scale: str) -> np.ndarray:
    """``n_mels + 2`` filter edges, equally spaced on the mel scale from 0 Hz to Nyquist."""
    if scale == "htk":
        return _mel_to_hz(np.linspace(0.0, _hz_to_mel(np.array(sample_rate / 2)), n_mels + 2))
    if scale == "slaney":
        return _slaney_to_hz(np.linspace(0.0, _hz_to_slaney(sample_rate / 2), n_mels + 2))
    raise ValueError(f"unknown mel scale {scale!r}")


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, scale: str = "htk") -> np.ndarray:
    """``(n_fft // 2 + 1, n_mels)`` triangular filters, 0 Hz to Nyquist.

    ``htk``: each filter sums to one; every filter spans at least one FFT bin, so
    none is empty (the research MFCC with n_fft 320 and 128 mels had empty
    filters). ``slaney``: each filter's peak is 2 / (its bandwidth in Hz), as
    librosa's ``filters.mel`` (``htk=False, norm="slaney"``) makes them.
    """
    n_bins = n_fft // 2 + 1
    bin_hz = np.linspace(0.0, sample_rate / 2, n_bins)
    edges_hz = _mel_edges_hz(sample_rate, n_mels, scale)
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(rising, falling))
    if scale == "slaney":
        return (fb * (2.0 / (upper - lower))).astype(np.float32)
    empty = fb.sum(axis=0) == 0
    if empty.any():  # too many mels for this FFT: give each empty filter its nearest bin
        fb[np.abs(bin_hz[:, None] - centre[empty]).argmin(axis=0), np.flatnonzero(empty)] = 1.0
    return (fb / fb.sum(axis=0, keepdims=True)).astype(np.float32)


def frame_count(n_samples: int, hop_length: int = HOP_SAMPLES) -> int:
    """Feature frames for ``n_samples`` (centred frames: one per hop, plus one)."""
    return 1 + n_samples // hop_length


def stft_magnitude(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``(n_frames, n_fft // 2 + 1)`` magnitude of centred, windowed frames."""
    samples = np.asarray(samples, dtype=np.float32)
    pad = config.n_fft // 2
    mode = "reflect" if samples.size > pad else "constant"
    padded = np.pad(samples, pad, mode=mode)
    if padded.size < config.n_fft:
        padded = np.pad(padded, (0, config.n_fft - padded.size))
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length]
    frames = frames[: frame_count(samples.size, config.hop_length)]
    window = np.zeros(config.n_fft, np.float32)
    offset = (config.n_fft - config.win_length) // 2
    window[offset : offset + config.win_length] = _window(config.window, config.win_length)
    magnitude = np.empty((frames.shape[0], config.n_fft // 2 + 1), np.float32)
    for i in range(0, frames.shape[0], STFT_BLOCK_FRAMES):  # row by row, the same numbers
        block = np.fft.rfft(frames[i : i + STFT_BLOCK_FRAMES] * window, axis=1)
        np.abs(block, out=magnitude[i : i + STFT_BLOCK_FRAMES], casting="same_kind")
    return magnitude


def normalise(features: np.ndarray) -> np.ndarray:
    """Each bin to zero mean and unit variance over the utterance."""
    mean = features.mean(axis=0, keepdims=True)
    std = features.std(axis=0, keepdims=True)
    return ((features - mean) / np.maximum(std, NORM_STD_FLOOR)).astype(np.float32)


def raise_volume(samples: np.ndarray, target_dbfs: float) -> np.ndarray:
    """``samples`` scaled up so their RMS is ``target_dbfs`` (full scale = 1.0); never scaled down.

    Silence (RMS 0) is returned unchanged.
    """
    samples = np.asarray(samples, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms == 0.0:
        return samples
    gain_db = target_dbfs - 20.0 * np.log10(rms)
    return samples if gain_db <= 0 else (samples * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def compute_features(samples: np.ndarray, config: FeatureConfig = SPECTROGRAM) -> np.ndarray:
    """16 kHz mono samples ``(n,)`` to ``(n_frames, config.n_bins)`` float32 features.

    spectrogram: ``log1p(|STFT|)``; logmel: ``log(mel energies + 1e-6)``; mel:
    mel energies (|STFT|^2 through the filterbank), no log.
    """
    if config.sample_rate != SAMPLE_RATE:
        raise ValueError(f"features are defined at {SAMPLE_RATE} Hz, not {config.sample_rate}")
    if config.normalisation == "volume":
        samples = raise_volume(samples, config.target_dbfs)
    magnitude = stft_magnitude(samples, config)
    if config.type == "spectrogram":
        features = np.log1p(magnitude, out=magnitude)
    elif config.type in ("logmel", "mel"):
        bank = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.mel_scale)
        features = np.square(magnitude, out=magnitude) @ bank
        features = np.log(features + 1e-6) if config.type == "logmel" else features
    else:
        raise ValueError(f"unknown feature type {config.type!r}")
    if config.normalisation == "utterance":
        features = normalise(features)
    elif config.normalisation not in ("none", "volume"):
        raise ValueError(f"unknown normalisation {config.normalisation!r}")
    return features.astype(np.float32)
