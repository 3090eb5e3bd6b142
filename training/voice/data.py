"""Manifests to training views and batches for the voice classifier.

Each utterance is turned into a few *views* once (the clean utterance with a
faint noise floor, and augmented copies: home noise at a random SNR, a room,
a random channel EQ or band limit, gain), each stored as raw log-mel
``(T, n_mels)`` float16 plus its frame-aligned F0 track. Batches are random
crops of views, normalised per crop exactly as the runtime normalises an
utterance, with pitch statistics computed on the same crop. Computing views
once keeps the two shared CPU cores free during the epochs.

What is never done: pitch shifting (it would move a voice across the boundary
the model must learn), or anything that leaves espeak's digital silence in
place (the clean view gets a noise floor too).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from edge.audio import NORM_STD_FLOOR, SAMPLE_RATE, FeatureConfig, compute_features, load_audio
from edge.pitch import MIN_VOICED_FRAMES, PitchTrack, pitch_statistics, track_pitch
from training.noise import NoiseBank, home_noise, mix_at_snr, power, reverberate, shaped_noise

log = logging.getLogger(__name__)

OCTAVES_PER_DB_TILT = 1.0  # EQ tilt is given in dB per octave around TILT_PIVOT_HZ
TILT_PIVOT_HZ = 1000.0
PHONE_BAND_HZ = (300.0, 3400.0)
CROP_TRIES = 4  # random crop positions tried to find one with enough voicing


@dataclass(frozen=True)
class VoiceEntry:
    """One utterance: absolute audio path, label index, speaker, duration in seconds."""

    audio: Path
    label: int
    speaker: str
    duration_s: float


@dataclass(frozen=True)
class ViewOptions:
    """How many views of each utterance and how they are perturbed."""

    views: int = 3  # the first is clean (with a noise floor), the rest augmented
    snr_db: tuple[float, float] = (0.0, 25.0)  # noise of augmented views
    floor_snr_db: tuple[float, float] = (35.0, 55.0)  # noise floor of the clean view
    reverb_prob: float = 0.35
    eq_prob: float = 0.6
    phone_prob: float = 0.15  # of EQ: a telephone band instead of a tilt
    tilt_db_per_octave: tuple[float, float] = (-4.0, 4.0)
    gain_db: tuple[float, float] = (-12.0, 6.0)
    seed: int = 0


@dataclass
class View:
    """Raw log-mel ``(T, F)`` float16 and F0 ``(T,)`` float32 (0: unvoiced) of one view."""

    logmel: np.ndarray
    f0_hz: np.ndarray
    label: int

    def crop(self, start: int, stop: int) -> View:
        return View(self.logmel[start:stop], self.f0_hz[start:stop], self.label)


def read_voice_manifest(
    path: str | Path, labels: tuple[str, ...], per_speaker: int = 0
) -> list[VoiceEntry]:
    """Rows whose ``gender`` is one of ``labels`` (at most ``per_speaker`` per speaker when
    not 0); relative audio paths resolve beside the manifest or from the working directory."""
    path = Path(path)
    entries, skipped, seen = [], 0, Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        if row.get("gender") not in labels:
            skipped += bool(row)
            continue
        seen[row["speaker"]] += 1
        if per_speaker and seen[row["speaker"]] > per_speaker:
            continue
        audio = Path(row["audio"])
        if not audio.is_absolute():
            audio = path.parent / audio if (path.parent / audio).exists() else Path.cwd() / audio
        label = labels.index(row["gender"])
        entries.append(VoiceEntry(audio, label, row["speaker"], float(row["duration_s"])))
    log.info("%s: %d utterances (%d with other labels skipped)", path, len(entries), skipped)
    return entries


def equalise(x: np.ndarray, rng: np.random.Generator, options: ViewOptions) -> np.ndarray:
    """A random channel: a spectral tilt (dB per octave around 1 kHz) or a telephone band."""
    spectrum = np.fft.rfft(x)
    hz = np.maximum(np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE), 1.0)
    if rng.random() < options.phone_prob:
        low, high = PHONE_BAND_HZ
        gain = 1.0 / (1.0 + (low / hz) ** 4) / (1.0 + (hz / high) ** 8)
    else:
        tilt = rng.uniform(*options.tilt_db_per_octave)
        gain = 10 ** (tilt * np.log2(hz / TILT_PIVOT_HZ) / 20)
    y = np.fft.irfft(spectrum * gain, x.size)
    return (y * np.sqrt(power(x) / max(power(y), 1e-12))).astype(np.float32)


def pink(hz: np.ndarray) -> np.ndarray:
    """Amplitude gain of pink noise (power falls 3 dB per octave)."""
    return 1.0 / np.sqrt(np.maximum(hz, 20.0))


def perturb(
    x: np.ndarray,
    rng: np.random.Generator,
    options: ViewOptions,
    bank: NoiseBank | None,
    clean: bool,
) -> np.ndarray:
    """One view's audio: [room, channel,] noise at an SNR, gain; clipped to [-1, 1]."""
    if not clean and rng.random() < options.reverb_prob:
        x = reverberate(x, rng)
    if not clean and rng.random() < options.eq_prob:
        x = equalise(x, rng, options)
    if clean:
        noise = shaped_noise(x.size, rng, pink)
    else:
        noise = bank.sample(x.size, rng) if bank is not None else home_noise(x.size, rng)
    snr = rng.uniform(*(options.floor_snr_db if clean else options.snr_db))
    x = mix_at_snr(x, noise, float(snr))
    gain = 10 ** (rng.uniform(*options.gain_db) / 20)
    peak = max(float(np.abs(x).max()), 1e-6)
    return np.clip(x * min(gain, 0.99 / peak), -1.0, 1.0).astype(np.float32)


def raw_features(config: FeatureConfig) -> FeatureConfig:
    """The model's feature config without normalisation (that happens per crop)."""
    return replace(config, normalisation="none")


def make_view(samples: np.ndarray, label: int, config: FeatureConfig) -> View:
    logmel = compute_features(samples, raw_features(config)).astype(np.float16)
    return View(logmel, track_pitch(samples).f0_hz.astype(np.float32), label)


def build_views(
    entries: list[VoiceEntry], config: FeatureConfig, options: ViewOptions, bank: NoiseBank | None
) -> list[list[View]]:
    """``views[i][k]``: view ``k`` of utterance ``i``. Deterministic given ``options.seed``."""
    out = []
    for i, entry in enumerate(entries):
        rng = np.random.default_rng([options.seed, i])
        samples = load_audio(entry.audio)
        out.append(
            [
                make_view(perturb(samples, rng, options, bank, k == 0), entry.label, config)
                for k in range(options.views)
            ]
        )
        if (i + 1) % 500 == 0:
            log.info("views: %d / %d utterances", i + 1, len(entries))
    return out


def cache_key(
    entries: list[VoiceEntry], config: FeatureConfig, options: ViewOptions, bank_name: str
) -> str:
    text = json.dumps(
        [[str(e.audio), e.label] for e in entries] + [config.to_json(), asdict(options), bank_name]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_views(
    entries: list[VoiceEntry],
    config: FeatureConfig,
    options: ViewOptions,
    bank: NoiseBank | None,
    cache_dir: Path | None,
    bank_name: str = "",
) -> list[list[View]]:
    """:func:`build_views`, stored in ``cache_dir`` (a torch file) and reused when present."""
    if cache_dir is None:
        return build_views(entries, config, options, bank)
    path = Path(cache_dir) / f"views-{cache_key(entries, config, options, bank_name)}.pt"
    if path.exists():
        log.info("reusing views from %s", path)
        return torch.load(path, weights_only=False)
    views = build_views(entries, config, options, bank)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(views, path)
    return views


# --------------------------------------------------------------------------- batches


def normalise_crop(logmel: torch.Tensor) -> torch.Tensor:
    """``(B, T, F)`` raw log-mel to per-utterance normalised features, as
    :func:`edge.audio.normalise` does for one utterance."""
    mean = logmel.mean(dim=1, keepdim=True)
    std = logmel.std(dim=1, keepdim=True, unbiased=False)
    return (logmel - mean) / std.clamp_min(NORM_STD_FLOOR)


def crop_pitch(f0_hz: np.ndarray) -> np.ndarray:
    voiced = f0_hz > 0
    return pitch_statistics(PitchTrack(f0_hz, voiced, voiced.astype(np.float32)))


@dataclass(frozen=True)
class CropOptions:
    min_seconds: float = 0.3
    max_seconds: float = 5.0  # longer crops cost time and add little; pooling is over time
    hop_seconds: float = 0.01
    batch_size: int = 32


def batches(
    views: list[list[View]], options: CropOptions, rng: np.random.Generator
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of ``(features (B, T, F), pitch (B, K), labels (B,))`` batches.

    Each utterance contributes one random view and one random crop; crops of
    similar length share a batch and are cut to the batch's shortest.
    """
    picks = []
    for utterance in views:
        view = utterance[int(rng.integers(len(utterance)))]
        want = int(rng.uniform(options.min_seconds, options.max_seconds) / options.hop_seconds)
        picks.append((min(want, view.logmel.shape[0]), view))
    picks.sort(key=lambda p: p[0])
    out = []
    for start in range(0, len(picks), options.batch_size):
        group = picks[start : start + options.batch_size]
        length = group[0][0]
        feats, pitch, labels = [], [], []
        for _, view in group:
            first = voiced_crop_start(view, length, rng)
            feats.append(view.logmel[first : first + length].astype(np.float32))
            pitch.append(crop_pitch(view.f0_hz[first : first + length]))
            labels.append(view.label)
        out.append(
            (
                normalise_crop(torch.from_numpy(np.stack(feats))),
                torch.from_numpy(np.stack(pitch)),
                torch.tensor(labels),
            )
        )
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def voiced_crop_start(view: View, length: int, rng: np.random.Generator) -> int:
    """Start of a random crop holding enough voicing for the runtime to judge it (the
    most voiced of ``CROP_TRIES`` random starts)."""
    starts = rng.integers(0, view.logmel.shape[0] - length + 1, size=CROP_TRIES)
    voiced = [int((view.f0_hz[s : s + length] > 0).sum()) for s in starts]
    enough = [s for s, v in zip(starts, voiced, strict=True) if v >= MIN_VOICED_FRAMES]
    return int(enough[0] if enough else starts[int(np.argmax(voiced))])


def whole_view(view: View) -> tuple[torch.Tensor, torch.Tensor]:
    """One full view as a batch of one: ``(1, T, F)`` features and ``(1, K)`` pitch."""
    feats = normalise_crop(torch.from_numpy(view.logmel.astype(np.float32))[None])
    return feats, torch.from_numpy(crop_pitch(view.f0_hz))[None]
