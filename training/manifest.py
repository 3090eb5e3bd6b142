"""Data manifests (JSON Lines, one utterance a line) and speaker-disjoint splits.

The schema is DESIGN.md's: ``audio``, ``text``, ``duration_s``, ``gender``
(``female``/``male``), ``age``, ``speaker``, ``env``, ``source``; a test set
recorded at two distances adds ``field`` (``far``/``near``), and an
utterance of a sentence kept out of training adds ``"held_out": true``.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GENDERS = ("female", "male")
SPLITS = ("train", "dev", "test")
SEED_ORDER = ("train", "test", "dev")  # who gets a speaker first when speakers are few
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One utterance: its audio file, normalised transcript and speaker facts."""

    audio: str
    text: str
    duration_s: float
    gender: str
    age: int | None
    speaker: str
    env: str
    source: str
    field: str | None = None  # "far" / "near" for two-microphone test sets
    held_out: bool = False  # a sentence kept out of training (dev/test only)

    def to_json(self) -> str:
        row = {
            "audio": self.audio,
            "text": self.text,
            "duration_s": round(self.duration_s, 3),
            "gender": self.gender,
            "age": self.age,
            "speaker": self.speaker,
            "env": self.env,
            "source": self.source,
        }
        if self.field is not None:
            row["field"] = self.field
        if self.held_out:
            row["held_out"] = True
        return json.dumps(row, ensure_ascii=False)

    @classmethod
    def from_dict(cls, row: Mapping) -> ManifestEntry:
        return cls(
            audio=row["audio"],
            text=row["text"],
            duration_s=float(row["duration_s"]),
            gender=row["gender"],
            age=row.get("age"),
            speaker=row["speaker"],
            env=row.get("env", ""),
            source=row.get("source", ""),
            field=row.get("field"),
            held_out=bool(row.get("held_out", False)),
        )


def resolve_audio(audio: str, manifest: str | Path) -> Path:
    """A manifest's ``audio`` path: absolute as is; relative to the manifest's folder,
    else to the working directory."""
    path = Path(audio)
    if path.is_absolute():
        return path
    beside = Path(manifest).parent / path
    return beside if beside.exists() else Path.cwd() / path


def write_manifest(path: str | Path, entries: Iterable[ManifestEntry]) -> int:
    """Write entries as JSON Lines (atomically: a temporary file renamed); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    count = 0
    with partial.open("w", encoding="utf-8") as f:
        for entry in entries:
            f.write(entry.to_json() + "\n")
            count += 1
    partial.replace(path)
    return count


def read_manifest(path: str | Path) -> Iterator[ManifestEntry]:
    """Stream the entries of a manifest; blank lines are ignored."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield ManifestEntry.from_dict(json.loads(line))


@dataclass(frozen=True)
class SplitFractions:
    """Share of each gender's hours that goes to each split (sums to 1)."""

    train: float = 0.8
    dev: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        values = (self.train, self.dev, self.test)
        if min(values) < 0 or abs(sum(values) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, not {values}")

    def as_dict(self) -> dict[str, float]:
        return {"train": self.train, "dev": self.dev, "test": self.test}


def split_by_speaker(
    entries: Sequence[ManifestEntry], fractions: SplitFractions, seed: int
) -> dict[str, list[ManifestEntry]]:
    """Speaker-disjoint train/dev/test, each gender divided by the same fractions.

    Splitting every gender's speakers separately keeps the corpus' gender
    balance in each split. Speakers are shuffled with ``seed``; every split
    with a non-zero fraction first gets one speaker (train, then test, then
    dev while speakers last), then each speaker goes to the split furthest
    below its share of hours.
    """
    by_speaker: dict[str, list[ManifestEntry]] = defaultdict(list)
    for entry in entries:
        by_speaker[entry.speaker].append(entry)
    rng = random.Random(seed)
    splits: dict[str, list[ManifestEntry]] = {name: [] for name in SPLITS}
    for gender in sorted({e.gender for e in entries}):
        speakers = sorted(s for s, rows in by_speaker.items() if rows[0].gender == gender)
        rng.shuffle(speakers)
        for speaker, split in _assign_speakers(speakers, by_speaker, fractions).items():
            splits[split].extend(by_speaker[speaker])
    return splits


def _assign_speakers(
    speakers: list[str], by_speaker: Mapping[str, list[ManifestEntry]], fractions: SplitFractions
) -> dict[str, str]:
    seconds = {s: sum(e.duration_s for e in by_speaker[s]) for s in speakers}
    total_s = sum(seconds.values())
    target_s = {name: share * total_s for name, share in fractions.as_dict().items()}
    assigned_s = dict.fromkeys(SPLITS, 0.0)
    assignment: dict[str, str] = {}
    # every split gets a voice first; with too few speakers, train then test come first
    wanted = [n for n in SEED_ORDER if target_s[n] > 0]
    queue = list(speakers)
    for name in wanted[: len(queue)]:
        speaker = queue.pop(0)
        assignment[speaker] = name
        assigned_s[name] += seconds[speaker]
    for speaker in queue:
        name = max(SPLITS, key=lambda n: target_s[n] - assigned_s[n])
        assignment[speaker] = name
        assigned_s[name] += seconds[speaker]
    return assignment


def hours_by_gender(entries: Iterable[ManifestEntry]) -> dict[str, float]:
    """Hours of speech per gender."""
    hours = dict.fromkeys(GENDERS, 0.0)
    for entry in entries:
        hours[entry.gender] = hours.get(entry.gender, 0.0) + entry.duration_s / SECONDS_PER_HOUR
    return hours
