"""Training configurations: presets in code, optionally overridden by a TOML file.

A TOML file names a preset and changes what it needs::

    preset = "demo"
    epochs = 12
    lr = 2e-3
    [augment]
    speed = [0.9, 1.1]
    [augment.noise]
    snr_db = [0.0, 20.0]
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from edge.audio import LOGMEL, SPECTROGRAM, FeatureConfig
from training.ds2.data import AugmentConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FEATURES = {"spectrogram": SPECTROGRAM, "logmel": LOGMEL}


@dataclass(frozen=True)
class TrainConfig:
    """How to train one model. ``model`` names a shape in ``model.PRESET_SHAPES``."""

    model: str = "demo"
    features: str = "logmel"  # key of FEATURES
    vocab: str = "jamo"  # "jamo" or "syllable"
    epochs: int = 10
    lr: float = 1.5e-3  # peak learning rate (AdamW)
    weight_decay: float = 1e-2
    warmup_steps: int = 300
    final_lr_ratio: float = 0.05  # cosine decay ends at lr * this
    grad_clip: float = 5.0  # max global L2 norm of the gradients
    max_batch_s: float = 160.0  # padded audio seconds per batch and process
    max_batch_size: int = 48
    dropout: float = 0.1
    seed: int = 1234
    threads: int = 2  # torch CPU threads per process
    workers: int = 1  # data loader processes
    log_every: int = 20  # steps between metrics log lines
    keep_epochs: bool = False  # also keep OUT/epoch_N.pt for every epoch
    checkpoint_every: int = 0  # steps between mid-epoch OUT/last.pt saves (0: epoch ends only)
    dev_limit: int = 400  # dev utterances scored each epoch (a fixed random sample); 0 = all
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @property
    def feature_config(self) -> FeatureConfig:
        return FEATURES[self.features]


NO_AUGMENT = AugmentConfig(enabled=False)
PRESETS: dict[str, TrainConfig] = {
    "research": TrainConfig(
        model="research",
        features="spectrogram",
        vocab="syllable",
        epochs=30,
        lr=3e-4,
        warmup_steps=1000,
        max_batch_s=600.0,
        max_batch_size=64,
        dropout=0.1,
        threads=4,
        workers=4,
    ),
    "edge": TrainConfig(
        model="edge",
        epochs=30,
        lr=1e-3,
        warmup_steps=1000,
        max_batch_s=600.0,
        max_batch_size=64,
        threads=4,
        workers=4,
    ),
    "demo": TrainConfig(),
    "tiny": TrainConfig(
        model="tiny",
        epochs=60,
        lr=5e-3,
        warmup_steps=10,
        max_batch_s=60.0,
        dropout=0.0,
        threads=1,
        workers=0,
        log_every=1,
        keep_epochs=True,
        augment=NO_AUGMENT,
    ),
}


def _merge(base, overrides: dict):
    """A copy of dataclass ``base`` with ``overrides`` applied (nested tables recurse)."""
    changes = {}
    for key, value in overrides.items():
        if key not in {f.name for f in dataclasses.fields(base)}:
            raise ValueError(f"unknown setting {key!r} in {type(base).__name__}")
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            value = _merge(current, value)
        elif isinstance(current, tuple):
            value = tuple(value)
        changes[key] = value
    return replace(base, **changes)


def load_config(name_or_path: str, **overrides) -> TrainConfig:
    """A preset name (``research``, ``edge``, ``demo``, ``tiny``) or a TOML file."""
    if name_or_path in PRESETS:
        config = PRESETS[name_or_path]
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(
                f"{name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor a TOML file"
            )
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        config = _merge(PRESETS[data.pop("preset", "demo")], data)
    config = _merge(config, {k: v for k, v in overrides.items() if v is not None})
    if config.features not in FEATURES or config.vocab not in ("jamo", "syllable"):
        raise ValueError(f"features must be one of {list(FEATURES)} and vocab jamo or syllable")
    return config


def config_to_dict(config: TrainConfig) -> dict:
    return dataclasses.asdict(config)
