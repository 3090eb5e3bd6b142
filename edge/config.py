"""The daemon's TOML configuration (see ``deploy/config.example.toml``).

Every key is optional; a missing file section keeps the defaults. Unknown
keys are refused, so a typo does not silently leave a setting at its default.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from edge.pipeline import PipelineOptions
from edge.segmenter import SegmenterOptions
from edge.voice_change import VoiceChangeOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path("/etc/talkratio/config.toml")


class ConfigError(ValueError):
    """A configuration file that cannot be used, with a message for the user."""


@dataclass(frozen=True)
class AudioConfig:
    device: str | int | None = None  # index or part of the name; None: the system default
    block_ms: int = 100
    input_file: str | None = None  # play a file at real-time pace instead (tests, demos)
    speed: float = 1.0  # with input_file: how many times faster than real time


@dataclass(frozen=True)
class ModelsConfig:
    stt: str | None = None  # None: the bundled model
    voice: str | None = None  # None: the bundled model, else the pitch tagger
    threads: int = 1
    voice_threshold: float | None = None  # None: the model's own threshold


@dataclass(frozen=True)
class StorageConfig:
    database: str | None = None  # None: the platform data directory
    transcripts: bool = True  # store the text of utterances (counts are always stored)
    retention_days: float = 365.0  # utterances older than this are deleted; 0 keeps all


@dataclass(frozen=True)
class LabelsConfig:
    mother: str = "mother"  # the words shown for each role (DESIGN.md: configurable)
    father: str = "father"
    child: str = "child"
    other: str = "other"  # TV, radio, guests
    unknown: str = "unknown"

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DaemonConfig:
    audio: AudioConfig = field(default_factory=AudioConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    vad: SegmenterOptions = field(default_factory=SegmenterOptions)
    storage: StorageConfig = field(default_factory=StorageConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    voice_change: VoiceChangeOptions = field(default_factory=VoiceChangeOptions)
    transcribe: bool = True
    denoise_stt: bool = False
    max_backlog: int = 2

    def pipeline_options(self) -> PipelineOptions:
        return PipelineOptions(
            segmenter=self.vad,
            transcribe=self.transcribe,
            denoise_stt=self.denoise_stt,
            max_backlog=self.max_backlog,
            voice_change=self.voice_change,
        )


SECTIONS = {
    "audio": AudioConfig,
    "models": ModelsConfig,
    "vad": SegmenterOptions,
    "storage": StorageConfig,
    "labels": LabelsConfig,
    "voice_change": VoiceChangeOptions,
}


def _section(name: str, cls: type, values: dict):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key [{name}] {unknown[0]}; known: {', '.join(sorted(known))}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{name}]: {exc}") from None


def parse_config(data: dict) -> DaemonConfig:
    """A :class:`DaemonConfig` from parsed TOML."""
    top = {f.name for f in fields(DaemonConfig)} - set(SECTIONS)
    built, plain = {}, {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table")
            built[key] = _section(key, SECTIONS[key], value)
        elif key in top:
            plain[key] = value
        else:
            raise ConfigError(
                f"unknown key {key!r}; known: {', '.join(sorted(top | set(SECTIONS)))}"
            )
    return DaemonConfig(**built, **plain)


def load_config(path: str | Path | None) -> DaemonConfig:
    """Read ``path``; ``None`` and a missing default file give the defaults."""
    if path is None:
        if not DEFAULT_CONFIG_PATH.is_file():
            return DaemonConfig()
        path = DEFAULT_CONFIG_PATH
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_config(data)
