"""Home noise, mixing at a signal-to-noise ratio, reverberation and gain.

numpy in, numpy out: every function takes and returns ``(n,)`` float32 audio at
16 kHz, and every random choice comes from an ``np.random.Generator`` argument,
so the same generator state gives the same audio.

Used for on-the-fly augmentation in training::

    bank = NoiseBank.from_dir("data/corpus_v1/noise")
    noisy = augment(speech, rng, AugmentOptions(), bank)

and for the household scenes and the synthetic corpus.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, AudioError, load_audio, save_audio

log = logging.getLogger(__name__)

EPS_POWER = 1e-12  # floor on a mean square, so silence never divides by zero
NYQUIST_HZ = SAMPLE_RATE / 2  # 8000 Hz
SYLLABLE_RATE_HZ = 4.0  # speech envelope modulation, about 4 syllables a second
NOISE_PEAK = 0.5  # generated noise is scaled to this peak before writing
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
NOISE_KINDS = ("hum", "fan", "vacuum", "rumble", "babble", "tv")


# --------------------------------------------------------------------------- levels


def power(x: np.ndarray) -> float:
    """Mean square of ``x`` (full-scale units squared)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x)) if x.size else 0.0


def snr_db(speech: np.ndarray, noise: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: ``10 log10(mean(speech²) / mean(noise²))``."""
    return 10.0 * np.log10(max(power(speech), EPS_POWER) / max(power(noise), EPS_POWER))


def apply_gain(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` decibels (amplitude factor ``10 ** (gain_db / 20)``)."""
    return (np.asarray(x, dtype=np.float32) * np.float32(10.0 ** (gain_db / 20.0))).astype(
        np.float32
    )


def fit_length(
    noise: np.ndarray, n_samples: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Noise of exactly ``n_samples``: looped when short, a (random) crop when long."""
    noise = np.asarray(noise, dtype=np.float32)
    if noise.size == 0:
        raise ValueError("noise is empty")
    if noise.size < n_samples:
        noise = np.tile(noise, int(np.ceil(n_samples / noise.size)))
    start = 0 if rng is None else int(rng.integers(0, noise.size - n_samples + 1))
    return noise[start : start + n_samples]


def mix_at_snr(
    speech: np.ndarray,
    noise: np.ndarray,
    snr_db: float,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Add ``noise`` to ``speech`` so that their power ratio is ``snr_db``.

    SNR = 10 log10(mean(speech²) / mean(noise²)), both over the same samples:
    all of them, or only where the boolean mask ``active`` is true (use the
    speech segments of a long recording with pauses). Noise is looped or cropped
    to the speech length. Returns float32 ``(n,)``; it is not clipped.
    """
    speech = np.asarray(speech, dtype=np.float32)
    noise = fit_length(noise, speech.size)
    where = slice(None) if active is None else np.asarray(active, dtype=bool)
    p_speech = power(speech[where])
    p_noise = max(power(noise[where]), EPS_POWER)
    scale = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (speech + np.float32(scale) * noise).astype(np.float32)


# --------------------------------------------------------------------------- generators


def shaped_noise(
    n_samples: int, rng: np.random.Generator, gain_of_hz: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Gaussian noise coloured in the frequency domain by ``gain_of_hz(freqs_hz)``.

    Returned at unit RMS, float32 ``(n_samples,)``.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs_hz = np.fft.rfftfreq(n_samples, d=1.0 / SAMPLE_RATE)
    coloured = np.fft.irfft(spectrum * gain_of_hz(freqs_hz), n=n_samples)
    return _unit_rms(coloured)


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return (x / np.sqrt(max(power(x), EPS_POWER))).astype(np.float32)


def _band(low_hz: float, high_hz: float, slope: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    """Smooth band-pass gain; ``slope`` tilts it by ``f ** slope`` (-0.5 is pink)."""

    def gain(f: np.ndarray) -> np.ndarray:
        f = np.maximum(f, 1.0)
        edges = 1.0 / (1.0 + (low_hz / f) ** 4) / (1.0 + (f / high_hz) ** 4)
        return edges * f**slope

    return gain


def _slow_envelope(
    n_samples: int, rng: np.random.Generator, rate_hz: float, depth: float
) -> np.ndarray:
    """A positive random envelope varying at about ``rate_hz`` (1 ± depth)."""
    wobble = shaped_noise(n_samples, rng, _band(rate_hz / 4, rate_hz))
    return np.clip(1.0 + depth * wobble, 0.0, None).astype(np.float32)


def hum(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with decaying odd and even harmonics, a little hiss."""
    mains_hz = float(rng.choice([50.0, 60.0]))
    t = np.arange(n_samples) / SAMPLE_RATE
    x = np.zeros(n_samples)
    for k in range(1, 8):
        amplitude = rng.uniform(0.3, 1.0) / k
        x += amplitude * np.sin(2 * np.pi * k * mains_hz * t + rng.uniform(0, 2 * np.pi))
    return _unit_rms(_unit_rms(x) + 0.05 * shaped_noise(n_samples, rng, _band(100, 6000)))


def fan(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Fan or air conditioner: broad low band noise with a faint blade tone."""
    low_hz, high_hz = rng.uniform(60, 200), rng.uniform(1200, 3000)
    x = shaped_noise(n_samples, rng, _band(low_hz, high_hz, slope=-0.5))
    blade_hz = rng.uniform(80, 300)
    t = np.arange(n_samples) / SAMPLE_RATE
    return _unit_rms(x + 0.3 * np.sin(2 * np.pi * blade_hz * t))


def vacuum(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Vacuum cleaner or hair dryer: loud mid/high band with a motor whine."""
    x = shaped_noise(n_samples, rng, _band(rng.uniform(300, 800), rng.uniform(4000, 7000)))
    whine_hz = rng.uniform(400, 1200)
    t = np.arange(n_samples) / SAMPLE_RATE
    whine = np.sin(2 * np.pi * whine_hz * t * (1 + 0.002 * np.sin(2 * np.pi * 0.3 * t)))
    return _unit_rms(x * _slow_envelope(n_samples, rng, 0.5, 0.2) + 0.4 * whine)


def rumble(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Traffic, washing machine or footsteps through the floor: below ~200 Hz."""
    x = shaped_noise(n_samples, rng, _band(15, rng.uniform(120, 250), slope=-1.0))
    return _unit_rms(x * _slow_envelope(n_samples, rng, 0.3, 0.5))


def speech_shaped(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """One far-off talker: speech-spectrum noise gated at the syllable rate."""
    x = shaped_noise(n_samples, rng, _band(120, 4000, slope=-0.5))
    syllables = _slow_envelope(n_samples, rng, SYLLABLE_RATE_HZ, 1.5)
    phrases = _slow_envelope(n_samples, rng, 0.4, 1.2)
    return _unit_rms(x * syllables * phrases)


def babble(
    n_samples: int,
    rng: np.random.Generator,
    talkers: int | None = None,
    speech_clips: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Several far-off talkers at once (3 to 7 unless ``talkers`` is given).

    Each talker says random ``speech_clips`` one after another (real or
    synthetic speech, made distant by reverberation) when they are given, else
    is speech-shaped noise gated at the syllable rate.
    """
    talkers = talkers or int(rng.integers(3, 8))
    x = np.zeros(n_samples, dtype=np.float32)
    for _ in range(talkers):
        if speech_clips:
            voice = _unit_rms(far_field(_talker(speech_clips, n_samples, rng), rng))
        else:
            voice = speech_shaped(n_samples, rng)
        x += voice * np.float32(rng.uniform(0.5, 1.0))
    return _unit_rms(x)


def _talker(clips: Sequence[np.ndarray], n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Random clips back to back with short pauses, starting mid-clip, ``(n_samples,)``."""
    parts, total = [], 0
    while total < n_samples:
        clip = np.asarray(clips[int(rng.integers(len(clips)))], dtype=np.float32)
        pause = np.zeros(int(rng.uniform(0.1, 0.6) * SAMPLE_RATE), np.float32)
        parts += [clip, pause]
        total += clip.size + pause.size
    stream = np.concatenate(parts)
    start = int(rng.integers(0, max(1, stream.size - n_samples + 1)))
    return stream[start : start + n_samples]


def far_field(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A voice from another room: strong late reverberation and little direct sound."""
    return reverberate(x, rng, rt60_range_s=(0.4, 0.9), direct_ratio_range=(0.05, 0.3))


def tv(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A television in the room: one or two voices and music through a small speaker."""
    voices = babble(n_samples, rng, talkers=int(rng.integers(1, 3)))
    t = np.arange(n_samples) / SAMPLE_RATE
    notes_hz = 220.0 * 2 ** (rng.integers(0, 12, size=3) / 12)
    chord = sum(np.sin(2 * np.pi * f * t) for f in notes_hz)
    music = _unit_rms(chord) * _slow_envelope(n_samples, rng, 2.0, 0.8)
    mixed = voices + np.float32(rng.uniform(0.2, 0.8)) * music
    return _unit_rms(small_speaker(mixed))


def band_limit(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Smooth band-pass of a whole signal in the frequency domain, float32 ``(n,)``."""
    x = np.asarray(x, dtype=np.float32)
    gain = _band(low_hz, high_hz)(np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE))
    return np.fft.irfft(np.fft.rfft(x) * gain, n=x.size).astype(np.float32)


def small_speaker(x: np.ndarray) -> np.ndarray:
    """What a TV's small loudspeaker plays: roughly 180 Hz to 6 kHz."""
    return band_limit(x, 180.0, 6000.0)


GENERATORS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "hum": hum,
    "fan": fan,
    "vacuum": vacuum,
    "rumble": rumble,
    "babble": babble,
    "tv": tv,
}


def home_noise(n_samples: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """Unit-RMS noise of one ``kind`` of :data:`NOISE_KINDS` (random when None)."""
    kind = kind or str(rng.choice(NOISE_KINDS))
    if kind not in GENERATORS:
        raise ValueError(f"unknown noise kind {kind!r}; one of {', '.join(NOISE_KINDS)}")
    return GENERATORS[kind](n_samples, rng)


# --------------------------------------------------------------------------- reverberation


def room_impulse_response(
    rng: np.random.Generator, rt60_s: float, direct_ratio: float = 1.0
) -> np.ndarray:
    """Synthetic room impulse response: a direct impulse then a noise tail.

    The tail decays exponentially so that its energy falls 60 dB in ``rt60_s``
    (amplitude envelope ``exp(-6.91 t / rt60)``, 6.91 = ln(1000)). Length is
    ``rt60_s`` seconds. Normalised to unit energy.
    """
    n = max(int(rt60_s * SAMPLE_RATE), 2)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-np.log(1000.0) * t / rt60_s)
    tail[0] = 0.0
    tail *= np.sqrt(1.0 / max(direct_ratio, EPS_POWER) / max(np.sum(tail**2), EPS_POWER))
    tail[0] = 1.0
    return (tail / np.sqrt(np.sum(tail**2))).astype(np.float32)


def reverberate(
    x: np.ndarray,
    rng: np.random.Generator,
    rt60_range_s: tuple[float, float] = (0.2, 0.7),
    direct_ratio_range: tuple[float, float] = (0.5, 4.0),
) -> np.ndarray:
    """Convolve with a random room response; same length and RMS as the input."""
    x = np.asarray(x, dtype=np.float32)
    rir = room_impulse_response(
        rng, float(rng.uniform(*rt60_range_s)), float(rng.uniform(*direct_ratio_range))
    )
    n_fft = 1 << int(np.ceil(np.log2(x.size + rir.size)))
    wet = np.fft.irfft(np.fft.rfft(x, n_fft) * np.fft.rfft(rir, n_fft), n_fft)[: x.size]
    return (wet * np.sqrt(power(x) / max(power(wet), EPS_POWER))).astype(np.float32)


# --------------------------------------------------------------------------- noise banks


@dataclass(frozen=True)
class NoiseClip:
    """One noise recording held in memory: ``samples`` ``(n,)`` float32 at 16 kHz."""

    kind: str
    samples: np.ndarray
    source: str


def audio_files(folder: str | Path) -> list[Path]:
    """Every WAV/FLAC/OGG under ``folder`` (recursively), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioError(f"{folder}: not a folder of noise recordings")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


class NoiseBank:
    """A set of noise clips to draw random crops from."""

    def __init__(self, clips: Sequence[NoiseClip]):
        if not clips:
            raise ValueError("a noise bank needs at least one clip")
        self.clips = list(clips)

    @classmethod
    def from_dir(cls, folder: str | Path, max_seconds: float = 600.0) -> NoiseBank:
        """Load ``noise.jsonl`` from ``folder`` if present, else every audio file in it.

        Unreadable files are skipped with a warning; their kind is ``"user"``.
        """
        folder = Path(folder)
        index = folder / "noise.jsonl"
        if index.exists():
            rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
            entries = [(folder / r["audio"], r.get("kind", "user")) for r in rows]
        else:
            entries = [(p, "user") for p in audio_files(folder)]
        clips = []
        for path, kind in entries:
            try:
                clips.append(NoiseClip(kind, load_audio(path, max_seconds), str(path)))
            except AudioError as exc:
                log.warning("skipping noise file: %s", exc)
        return cls(clips)

    def sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """A random crop (looped if short) of a random clip, float32 ``(n_samples,)``."""
        clip = self.clips[int(rng.integers(len(self.clips)))]
        return fit_length(clip.samples, n_samples, rng)


def write_noise_bank(
    out_dir: str | Path,
    seed: int,
    clips_per_kind: int = 4,
    seconds: float = 30.0,
    speech_clips: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write generated home noise to ``out_dir/noise/*.wav`` and ``noise.jsonl``.

    Each line of ``noise.jsonl``: ``{"audio": "hum_00.wav", "duration_s": 30.0,
    "kind": "hum"}`` (audio relative to the noise folder). With ``speech_clips``
    the babble is overlapped far-off speech made of them. Returns the folder.
    """
    folder = Path(out_dir) / "noise"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    rows = []
    for kind in NOISE_KINDS:
        for i in range(clips_per_kind):
            if kind == "babble" and speech_clips:
                x = babble(n, rng, speech_clips=speech_clips)
            else:
                x = home_noise(n, rng, kind)
            name = f"{kind}_{i:02d}.wav"
            save_audio(folder / name, x * np.float32(NOISE_PEAK / max(np.abs(x).max(), 1e-6)))
            rows.append({"audio": name, "duration_s": round(seconds, 3), "kind": kind})
    (folder / "noise.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    log.info("wrote %d noise clips to %s", len(rows), folder)
    return folder


# --------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class AugmentOptions:
    """On-the-fly augmentation: each step happens with its probability."""

    noise_prob: float = 0.8
    snr_db: tuple[float, float] = (5.0, 25.0)  # uniform range of SNR when noise is added
    reverb_prob: float = 0.3
    rt60_s: tuple[float, float] = (0.2, 0.7)
    gain_db: tuple[float, float] = (-6.0, 6.0)  # overall level change
    # share of the noisy utterances given a fresh procedural noise of random kind
    # (training.noise_random) instead of a crop of the bank: noise in general, never a clip twice
    random_noise_prob: float = 0.0


def augment(
    speech: np.ndarray,
    rng: np.random.Generator,
    options: AugmentOptions = AugmentOptions(),
    bank: NoiseBank | None = None,
) -> np.ndarray:
    """Reverb, then noise at a random SNR (from ``bank`` or generated), then gain.

    With ``options.random_noise_prob`` that share of the noise is procedural noise
    of a random kind (:func:`training.noise_random.random_noise`), made fresh.

    Output is float32 ``(n,)``, clipped to [-1, 1].
    """
    x = np.asarray(speech, dtype=np.float32)
    if rng.random() < options.reverb_prob:
        x = reverberate(x, rng, options.rt60_s)
    if rng.random() < options.noise_prob:
        if options.random_noise_prob and rng.random() < options.random_noise_prob:
            from training.noise_random import random_noise  # it imports this module

            noise = random_noise(x.size, rng)
        else:
            noise = bank.sample(x.size, rng) if bank else home_noise(x.size, rng)
        x = mix_at_snr(x, noise, float(rng.uniform(*options.snr_db)))
    x = apply_gain(x, float(rng.uniform(*options.gain_db)))
    return np.clip(x, -1.0, 1.0)
