"""The daemon's TOML configuration (see ``deploy/config.example.toml``).

Every key is optional; a missing file section keeps the defaults. Unknown
keys are refused, so a typo does not silently leave a setting at its default.
"""

from __future__ import annotations

import math
import sys
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from edge.errors import UserError
from edge.pipeline import PipelineOptions
from edge.segmenter import SegmenterOptions
from edge.voice_change import VoiceChangeOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path("/etc/talkratio/config.toml")


class ConfigError(UserError, ValueError):
    """A configuration file that cannot be used, with a message for the user."""


@dataclass(frozen=True)
class AudioConfig:
    device: str | int | None = None  # index or part of the name; None: the system default
    block_ms: int = 32  # one neural VAD window (edge.sources.LIVE_BLOCK_SECONDS)
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
    # log each stored utterance (its time and voice: who spoke when) to the journal; off by
    # default so the journal, which other users and tools may read, stays free of it
    log_utterances: bool = False

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
TOP_LEVEL = "(top level)"  # keys outside any [section]


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a numeric key (``None``: unbounded on that side)."""

    low: float | None = 0.0
    high: float | None = None

    def describe(self) -> str:
        if self.high is None:
            return f"at least {self.low:g}"
        return f"from {self.low:g} to {self.high:g}"

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


LABEL_MAX_CHARS = 40  # a word or two for a table column, not a sentence
# Types come from the dataclasses' annotations; numbers are finite and >= 0 unless listed here.
# Adding a key is adding a field (and, when 0 or huge make no sense, one line here).
RANGES: dict[str, Range] = {
    "audio.block_ms": Range(10, 1000),  # 10 ms (a VAD frame) to 1 s (the watchdog still sees it)
    "audio.speed": Range(0.01, 1000),  # 0 would never deliver a block
    "models.threads": Range(1, 64),
    "models.voice_threshold": Range(0, 1),  # a probability
    "storage.retention_days": Range(0, 36_500),  # 0 keeps everything; 100 years is the most
    "max_backlog": Range(0, 32),  # 32: the live queue's length (LIVE_QUEUE_SEGMENTS)
}


def _type_name(hint) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return " or ".join(names.get(t, getattr(t, "__name__", str(t))) for t in _allowed(hint))


def _allowed(hint) -> tuple:
    """The plain types a field annotated ``hint`` accepts (``None`` cannot be written in TOML)."""
    return tuple(t for t in typing.get_args(hint) or (hint,) if t is not type(None))


def _type_ok(value, hint) -> bool:
    for allowed in _allowed(hint):
        if allowed is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if allowed is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if allowed in (bool, str) and isinstance(value, allowed):
            return True
    return False


def _checked(where: str, key: str, value, hint) -> object:
    """``value`` when it has the field's type and range, else a ConfigError naming the key."""
    name = key if where == TOP_LEVEL else f"[{where}] {key}"
    if not _type_ok(value, hint):
        raise ConfigError(f"{name} must be {_type_name(hint)}, not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        limits = RANGES.get(key if where == TOP_LEVEL else f"{where}.{key}", Range())
        if not math.isfinite(value) or not limits.holds(value):
            raise ConfigError(f"{name} must be {limits.describe()}, not {value!r}")
    if isinstance(value, str) and where == "labels" and not 0 < len(value) <= LABEL_MAX_CHARS:
        raise ConfigError(f"{name} must be 1 to {LABEL_MAX_CHARS} characters")
    return float(value) if float in _allowed(hint) and isinstance(value, int) else value


def _built(where: str, cls: type, values: dict):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown key [{where}] {key}; known: {', '.join(sorted(known))}")
    checked = {key: _checked(where, key, value, hints[key]) for key, value in values.items()}
    try:
        return cls(**checked)
    except (TypeError, ValueError) as exc:  # the options' own cross-checks (__post_init__)
        raise ConfigError(f"[{where}]: {exc}") from None


def parse_config(data: dict) -> DaemonConfig:
    """A :class:`DaemonConfig` from parsed TOML; raises :class:`ConfigError` naming the key."""
    top = {f.name for f in fields(DaemonConfig)} - set(SECTIONS)
    sections, plain = {}, {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table")
            sections[key] = _built(key, SECTIONS[key], value)
        elif key in top:
            plain[key] = value
        else:
            raise ConfigError(
                f"unknown key {key!r}; known: {', '.join(sorted(top | set(SECTIONS)))}"
            )
    return replace(_built(TOP_LEVEL, DaemonConfig, plain), **sections)


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
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
