"""DeepSpeech2 for CTC: a 2D conv front end, a bidirectional LSTM stack, a linear layer.

Shapes: features ``(B, T, F)`` float32 (``edge.audio.compute_features`` rows),
log-probabilities ``(B, T_out, V)`` with ``T_out = output_length(T)``: the conv
front end subsamples time by the product of its time strides.

Presets (``PRESETS``) are the sizes the project uses:

- ``research``: the research model (161-bin spectrogram, 2 conv, 5 x 1024
  BiLSTM with the two directions summed, syllable CTC): ~89 M parameters.
- ``edge``: sized for a home device by INT8 onnxruntime speed on one thread.
- ``demo``: trainable on two CPU cores within an hour.
- ``tiny``: for tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HARDTANH_MAX = 20.0  # DS2 clipped ReLU: min(max(x, 0), 20)


@dataclass(frozen=True)
class ConvSpec:
    """One conv layer: output channels, kernel and stride as (time, freq)."""

    channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]


@dataclass(frozen=True)
class DS2Config:
    """Everything needed to rebuild the network; stored in checkpoints."""

    n_bins: int
    vocab_size: int
    convs: tuple[ConvSpec, ...]
    rnn_layers: int
    rnn_hidden: int
    sum_directions: bool = True  # DS2/deepspeech.pytorch: next layer sees fwd + bwd
    dropout: float = 0.0  # between LSTM layers, training only

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DS2Config:
        convs = tuple(
            ConvSpec(c["channels"], tuple(c["kernel"]), tuple(c["stride"])) for c in data["convs"]
        )
        return cls(**{**data, "convs": convs})

    @property
    def time_stride(self) -> int:
        stride = 1
        for conv in self.convs:
            stride *= conv.stride[0]
        return stride


# Conv front ends. (time, freq) kernels; padding is half the kernel so sizes depend on stride only.
RESEARCH_CONVS = (ConvSpec(32, (11, 41), (2, 2)), ConvSpec(32, (11, 21), (1, 2)))
EDGE_CONVS = (ConvSpec(32, (5, 11), (2, 2)), ConvSpec(32, (5, 11), (2, 2)))
DEMO_CONVS = (ConvSpec(32, (5, 11), (2, 2)), ConvSpec(32, (5, 11), (2, 2)))
TINY_CONVS = (ConvSpec(8, (5, 11), (2, 2)), ConvSpec(8, (5, 11), (2, 2)))

# model shape per preset (n_bins and vocab_size come from the features and tokenizer)
PRESET_SHAPES: dict[str, dict] = {
    "research": {
        "convs": RESEARCH_CONVS,
        "rnn_layers": 5,
        "rnn_hidden": 1024,
        "sum_directions": True,
    },
    "edge": {"convs": EDGE_CONVS, "rnn_layers": 4, "rnn_hidden": 384, "sum_directions": False},
    "demo": {"convs": DEMO_CONVS, "rnn_layers": 3, "rnn_hidden": 192, "sum_directions": False},
    "tiny": {"convs": TINY_CONVS, "rnn_layers": 2, "rnn_hidden": 64, "sum_directions": False},
}


def preset_config(preset: str, n_bins: int, vocab_size: int, dropout: float = 0.0) -> DS2Config:
    if preset not in PRESET_SHAPES:
        raise ValueError(f"unknown preset {preset!r}; one of {', '.join(PRESET_SHAPES)}")
    return DS2Config(n_bins=n_bins, vocab_size=vocab_size, dropout=dropout, **PRESET_SHAPES[preset])


def _conv_out(size: int | torch.Tensor, kernel: int, stride: int):
    """Output length of a conv with padding ``kernel // 2``."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


class ConvFrontEnd(nn.Module):
    """Conv2d + BatchNorm + Hardtanh blocks over ``(B, 1, T, F)``; padded frames masked."""

    def __init__(self, n_bins: int, convs: tuple[ConvSpec, ...]):
        super().__init__()
        blocks, channels, bins = [], 1, n_bins
        for spec in convs:
            padding = (spec.kernel[0] // 2, spec.kernel[1] // 2)
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(
                        channels, spec.channels, spec.kernel, spec.stride, padding, bias=False
                    ),
                    nn.BatchNorm2d(spec.channels),
                    nn.Hardtanh(0.0, HARDTANH_MAX, inplace=True),
                )
            )
            channels, bins = spec.channels, _conv_out(bins, spec.kernel[1], spec.stride[1])
        self.blocks = nn.ModuleList(blocks)
        self.specs = convs
        self.out_features = channels * bins

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, T, F)`` -> ``(B, T', C * F')`` and the new lengths."""
        x = x.unsqueeze(1)
        for block, spec in zip(self.blocks, self.specs, strict=True):
            x = block(x)
            if lengths is not None:
                lengths = _conv_out(lengths, spec.kernel[0], spec.stride[0])
                steps = torch.arange(x.shape[2], device=x.device)
                x = x * (steps[None, :] < lengths[:, None]).to(x.dtype)[:, None, :, None]
        batch, channels, time, bins = x.shape
        return x.permute(0, 2, 1, 3).reshape(batch, time, channels * bins), lengths


class DeepSpeech2(nn.Module):
    """features ``(B, T, F)`` -> log-probabilities ``(B, T_out, V)`` (index 0 the CTC blank)."""

    def __init__(self, config: DS2Config):
        super().__init__()
        self.config = config
        self.front = ConvFrontEnd(config.n_bins, config.convs)
        width = config.rnn_hidden if config.sum_directions else 2 * config.rnn_hidden
        sizes = [self.front.out_features] + [width] * (config.rnn_layers - 1)
        self.rnns = nn.ModuleList(
            nn.LSTM(size, config.rnn_hidden, batch_first=True, bidirectional=True) for size in sizes
        )
        self.dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, config.vocab_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for spec in self.config.convs:
            lengths = _conv_out(lengths, spec.kernel[0], spec.stride[0])
        return lengths

    def _rnn(self, rnn: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if lengths is None:  # one unpadded utterance (inference, export): no packing
            out, _ = rnn(x)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        if self.config.sum_directions:
            out = out[..., : self.config.rnn_hidden] + out[..., self.config.rnn_hidden :]
        return out

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Log-probabilities ``(B, T_out, V)`` and output lengths (None when ``lengths`` is)."""
        x, lengths = self.front(features, lengths)
        for index, rnn in enumerate(self.rnns):
            if index:
                x = self.dropout(x)
            x = self._rnn(rnn, x, lengths)
        logits = self.classifier(self.norm(x))
        return torch.log_softmax(logits.float(), dim=-1), lengths


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
