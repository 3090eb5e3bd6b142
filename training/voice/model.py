"""Voice classifiers as torch modules, rebuilt from a frozen config stored in each checkpoint.

Presets:

- ``small`` (the shipped one): three 3x3 conv blocks (16/32/64 channels, batch
  norm, 2x2 max-pooling) over utterance-normalised log-mel ``(T, 64)``, mean and
  standard deviation over time of every channel x frequency band, a 64-unit
  embedding and per-class logits. Any length from 0.3 s up. Pitch statistics
  (:func:`edge.pitch.pitch_features`) enter through their own small network and
  the two logits are *added*, with the spectral logits bounded to
  ``+-SPECTRAL_LOGIT_BOUND``: a clear F0 always carries the answer, the spectrum
  decides where F0 is ambiguous. The bound is a prior for transfer: pitch is the
  cue that real voices share with synthetic ones; a synthesiser's spectral
  envelope is its own.
- ``research``: the research project's CNN for comparison: the same three
  conv blocks without batch norm on a fixed 6 s window of 128 coefficients at a
  20 ms hop (300 frames), flattened into Linear(37888 -> 128 -> n_labels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from edge.audio import LOGMEL, FeatureConfig
from edge.pitch import N_PITCH_FEATURES

SPECTRAL_LOGIT_BOUND = 1.5  # per class logit: the spectrum alone says at most p = 0.95 (e^3 : 1)
RESEARCH_FEATURES = FeatureConfig(
    type="logmel", n_fft=320, win_length=320, hop_length=320, n_mels=128, window="hamming"
)
RESEARCH_FRAMES = 300  # 6 s at a 20 ms hop
RESEARCH_HIDDEN = 128
CONV_CHANNELS = (16, 32, 64)
POOLINGS = len(CONV_CHANNELS)  # each block halves time and frequency


@dataclass(frozen=True)
class VoiceModelConfig:
    """Everything needed to rebuild a classifier (stored in checkpoints)."""

    preset: str = "small"
    labels: tuple[str, ...] = ("female", "male")
    n_mels: int = LOGMEL.n_mels
    embed: int = 64  # spectral embedding width
    pitch_hidden: int = 16  # width of the pitch network (0: no pitch input)
    dropout: float = 0.2

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def uses_pitch(self) -> bool:
        return self.preset == "small" and self.pitch_hidden > 0

    def features(self) -> FeatureConfig:
        return RESEARCH_FEATURES if self.preset == "research" else LOGMEL

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VoiceModelConfig:
        data = dict(data)
        data["labels"] = tuple(data["labels"])
        return cls(**data)


def conv_block(c_in: int, c_out: int, batch_norm: bool) -> nn.Sequential:
    """3x3 conv (same padding), [batch norm], ReLU, 2x2 max-pool: ``(B, c_in, T, F)`` to
    ``(B, c_out, T // 2, F // 2)``."""
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1)]
    layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
    return nn.Sequential(*layers, nn.ReLU(), nn.MaxPool2d(2))


def conv_stack(batch_norm: bool) -> nn.Sequential:
    channels = (1, *CONV_CHANNELS)
    return nn.Sequential(
        *(conv_block(a, b, batch_norm) for a, b in zip(channels, channels[1:], strict=False))
    )


class SmallVoiceCNN(nn.Module):
    """``features (B, T, n_mels)`` [+ ``pitch (B, N_PITCH_FEATURES)``] to logits ``(B, C)``."""

    def __init__(self, config: VoiceModelConfig):
        super().__init__()
        self.config = config
        self.convs = conv_stack(batch_norm=True)
        pooled = CONV_CHANNELS[-1] * (config.n_mels >> POOLINGS) * 2  # mean and std
        self.spectral = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(pooled, config.embed),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.embed, config.n_labels),
        )
        self.pitch = None
        if config.uses_pitch:
            self.pitch = nn.Sequential(
                nn.Linear(N_PITCH_FEATURES, config.pitch_hidden),
                nn.ReLU(),
                nn.Linear(config.pitch_hidden, config.n_labels),
            )

    def spectral_logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` to bounded logits ``(B, C)``; T >= 8 frames."""
        x = self.convs(features.unsqueeze(1))  # (B, 64, T/8, F/8)
        x = x.permute(0, 1, 3, 2).flatten(1, 2)  # (B, 64 * F/8, T/8)
        stats = torch.cat([x.mean(dim=2), x.std(dim=2, unbiased=False)], dim=1)
        return SPECTRAL_LOGIT_BOUND * torch.tanh(self.spectral(stats) / SPECTRAL_LOGIT_BOUND)

    def forward(self, features: torch.Tensor, pitch: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.spectral_logits(features)
        if self.pitch is not None and pitch is not None:
            logits = logits + self.pitch(pitch)
        return logits


class ResearchVoiceCNN(nn.Module):
    """The research CNN: ``features (B, 300, 128)`` (fixed window) to logits ``(B, C)``."""

    def __init__(self, config: VoiceModelConfig):
        super().__init__()
        self.config = config
        self.convs = conv_stack(batch_norm=False)
        flat = (
            CONV_CHANNELS[-1]
            * (RESEARCH_FRAMES >> POOLINGS)
            * (RESEARCH_FEATURES.n_mels >> POOLINGS)
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, RESEARCH_HIDDEN),  # 64 * 37 * 16 = 37888 inputs
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(RESEARCH_HIDDEN, config.n_labels),
        )

    def forward(self, features: torch.Tensor, pitch: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.convs(fixed_window(features).unsqueeze(1)))


def fixed_window(features: torch.Tensor, frames: int = RESEARCH_FRAMES) -> torch.Tensor:
    """Centre-crop or zero-pad ``(B, T, F)`` to ``(B, frames, F)``."""
    t = features.shape[1]
    if t >= frames:
        start = (t - frames) // 2
        return features[:, start : start + frames]
    return nn.functional.pad(features, (0, 0, 0, frames - t))


def build_model(config: VoiceModelConfig) -> nn.Module:
    if config.preset == "small":
        return SmallVoiceCNN(config)
    if config.preset == "research":
        return ResearchVoiceCNN(config)
    raise ValueError(f"unknown voice model preset {config.preset!r}; use small or research")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
