"""Manifests to batches: audio, augmentation, edge features, SpecAugment, CTC targets.

Every random choice for an utterance comes from a numpy generator seeded by
``(seed, epoch, index)``, so an epoch's batches and audio are the same whatever
the number of loader workers or processes, and a resumed run sees exactly the
data it would have seen.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from edge.audio import SAMPLE_RATE, FeatureConfig, compute_features, load_audio, resample
from training.korean import Tokenizer, normalise
from training.manifest import resolve_audio
from training.noise import AugmentOptions, NoiseBank, augment, band_limit

log = logging.getLogger(__name__)

MAX_UTTERANCE_S = 20.0  # longer manifest rows are skipped (memory, CTC alignment)


@dataclass(frozen=True)
class Entry:
    """One manifest row: absolute audio path, normalised text, duration in seconds, speaker."""

    audio: Path
    text: str
    duration_s: float
    speaker: str = ""


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time perturbations; ``enabled=False`` gives clean, fixed features."""

    enabled: bool = True
    speed: tuple[float, float] = (0.9, 1.1)  # tempo+pitch factor range (resampling)
    noise: AugmentOptions = field(default_factory=AugmentOptions)
    freq_masks: int = 2  # SpecAugment masks per utterance
    freq_mask_bins: int = 8  # widest frequency mask
    time_masks: int = 2
    time_mask_frac: float = 0.05  # widest time mask as a fraction of the utterance
    channel_prob: float = 0.0  # share of utterances passed through a simulated channel
    channel_low_hz: tuple[float, float] = (80.0, 400.0)  # its lower band edge (small speakers)
    channel_high_hz: tuple[float, float] = (3400.0, 7600.0)  # upper edge: telephone to wideband
    channel_mu_law_prob: float = 0.5  # of those, share also quantised by 8-bit mu-law (a codec)


def read_manifest(path: str | Path, max_duration_s: float = MAX_UTTERANCE_S) -> list[Entry]:
    """JSON Lines manifest (DESIGN.md schema) to entries; excluded or too long rows skipped."""
    path = Path(path)
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text = normalise(row["text"])
        if not text or float(row["duration_s"]) > max_duration_s:
            continue
        audio = resolve_audio(row["audio"], path)
        entries.append(Entry(audio, text, float(row["duration_s"]), str(row.get("speaker", ""))))
    log.info(
        "%s: %d utterances, %.2f h", path, len(entries), sum(e.duration_s for e in entries) / 3600
    )
    return entries


def noise_bank(manifest: str | Path | None) -> NoiseBank | None:
    """The noise bank of a ``noise.jsonl`` (or of a folder of clips); None for none."""
    if manifest is None:
        return None
    path = Path(manifest)
    return NoiseBank.from_dir(path.parent if path.is_file() else path)


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch), by resampling."""
    if abs(factor - 1.0) < 1e-3:
        return samples
    return resample(samples, int(round(SAMPLE_RATE * factor)), SAMPLE_RATE)


def spec_augment(
    features: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> np.ndarray:
    """Zero random frequency bands and time spans of ``(T, F)`` features (SpecAugment)."""
    out = features.copy()
    n_frames, n_bins = out.shape
    for _ in range(config.freq_masks):
        width = int(rng.integers(0, config.freq_mask_bins + 1))
        start = int(rng.integers(0, max(1, n_bins - width)))
        out[:, start : start + width] = 0.0
    max_width = int(config.time_mask_frac * n_frames)
    for _ in range(config.time_masks):
        width = int(rng.integers(0, max_width + 1))
        start = int(rng.integers(0, max(1, n_frames - width)))
        out[start : start + width] = 0.0
    return out


MU_LAW_LEVELS = 255  # 8-bit G.711-style companding


def channel(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """A microphone/codec channel: a random band limit, sometimes 8-bit mu-law quantisation."""
    low, high = rng.uniform(*config.channel_low_hz), rng.uniform(*config.channel_high_hz)
    x = band_limit(x, float(low), float(high))
    if rng.random() < config.channel_mu_law_prob:
        peak = max(float(np.abs(x).max()), 1e-6)
        y = np.sign(x) * np.log1p(MU_LAW_LEVELS * np.abs(x / peak)) / np.log1p(MU_LAW_LEVELS)
        y = np.round(y * 127) / 127  # the codec's 8 bits
        x = peak * np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU_LAW_LEVELS)) / MU_LAW_LEVELS
    return np.clip(x, -1.0, 1.0).astype(np.float32)


class SpeechDataset(torch.utils.data.Dataset):
    """``(features (T, F) float32 tensor, label ids (L,) int64 tensor)`` per entry.

    Call :meth:`set_epoch` before each epoch: augmentation is seeded by
    ``(seed, epoch, index)``.
    """

    def __init__(
        self,
        entries: Sequence[Entry],
        tokenizer: Tokenizer,
        features: FeatureConfig,
        augment_config: AugmentConfig = AugmentConfig(enabled=False),
        bank: NoiseBank | None = None,
        seed: int = 0,
    ):
        self.entries = list(entries)
        self.tokenizer = tokenizer
        self.features = features
        self.augment = augment_config
        self.bank = bank
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.entries)

    def samples(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """The (perturbed) audio of one entry, ``(n,)`` float32 at 16 kHz."""
        x = load_audio(self.entries[index].audio)
        if not self.augment.enabled:
            return x
        x = speed_perturb(x, float(rng.uniform(*self.augment.speed)))
        x = augment(x, rng, self.augment.noise, self.bank)
        if self.augment.channel_prob and rng.random() < self.augment.channel_prob:
            x = channel(x, rng, self.augment)
        return x

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        feats = compute_features(self.samples(index, rng), self.features)
        if self.augment.enabled:
            feats = spec_augment(feats, rng, self.augment)
        labels = self.tokenizer.encode(self.entries[index].text)
        return torch.from_numpy(feats), torch.tensor(labels, dtype=torch.long)


def collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad features to ``(B, T_max, F)``; targets concatenated (CTC's 1-D form)."""
    feats, labels = zip(*batch, strict=True)
    lengths = torch.tensor([f.shape[0] for f in feats])
    padded = torch.zeros(len(feats), int(lengths.max()), feats[0].shape[1])
    for i, f in enumerate(feats):
        padded[i, : f.shape[0]] = f
    return {
        "features": padded,
        "lengths": lengths,
        "targets": torch.cat(labels),
        "target_lengths": torch.tensor([lab.numel() for lab in labels]),
    }


class DurationBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of similar duration holding at most ``max_batch_s`` seconds of audio each.

    Epoch 0 (SortaGrad) runs the batches shortest first; later epochs shuffle
    the batches, made from a lightly shuffled duration order so that batches
    differ between epochs. With ``world_size`` processes, process ``rank`` gets
    every ``world_size``-th batch (the tail is dropped so all get the same count).
    """

    def __init__(
        self,
        durations_s: Sequence[float],
        max_batch_s: float,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_batch_size: int = 64,
    ):
        self.durations = np.asarray(durations_s, dtype=np.float64)
        self.max_batch_s = max_batch_s
        self.max_batch_size = max_batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.skip = 0  # batches of this epoch already done (resume)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch, 7919))
        jitter = 0.0 if self.epoch == 0 else rng.uniform(0.0, 0.3, self.durations.size)
        order = np.argsort(self.durations + jitter, kind="stable")
        batches, current = [], []
        for index in order.tolist():
            longest = max(self.durations[current + [index]]) if current else self.durations[index]
            if current and (
                longest * (len(current) + 1) > self.max_batch_s
                or len(current) >= self.max_batch_size
            ):
                batches.append(current)
                current = []
            current.append(index)
        if current:
            batches.append(current)
        if self.epoch > 0:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if len(batches) < self.world_size:
            raise ValueError(
                f"{len(batches)} batches cannot feed {self.world_size} processes; lower max_batch_s"
            )
        usable = len(batches) - len(batches) % self.world_size
        return batches[:usable][self.rank :: self.world_size]

    def __len__(self) -> int:
        return len(self._batches()) - self.skip

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()[self.skip :]
