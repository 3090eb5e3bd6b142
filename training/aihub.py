"""Import AI-Hub Korean speech into train/dev/test manifests (``talkratio-train aihub``).

Two AI-Hub layouts are read, told apart by each label JSON's keys:

- 자유대화 음성 (free conversation): one JSON per utterance with
  ``발화정보.{stt, fileNm, recrdTime}``, ``대화정보.recrdEnvrn`` and
  ``녹음자정보.{gender, age, recorderId}``. The WAV sits beside the JSON or in a
  separate tree (``[원천]...`` beside ``[라벨]...``, ``원천데이터``/``라벨링데이터``);
  it is found by ``fileNm`` (or the JSON's own name) anywhere under SRC.
  These utterances are filtered, balanced and split speaker-disjointly.
- 명령어 인식 가정 소음 (home-noise commands): one JSON (``file.name``,
  ``speaker.gender``, ``command.text``) for two recordings, far-field
  ``NAME-N.wav`` and near-field ``NAME-S.wav``; both go, unfiltered, to a
  test manifest with ``field`` = ``far`` / ``near``.

A bad record (broken JSON, missing field or WAV, empty or excluded transcript,
unknown gender) is skipped and counted, never fatal. Durations come from
``recrdTime`` or the WAV header; audio is never decoded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from training.korean import normalise
from training.manifest import (
    GENDERS,
    SECONDS_PER_HOUR,
    SPLITS,
    ManifestEntry,
    SplitFractions,
    hours_by_gender,
    split_by_speaker,
    write_manifest,
)

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
LABEL_SUFFIX = ".json"
SKIP_DIR_NAMES = frozenset({"__MACOSX"})  # zip artefacts, never data
POOL_MIN_FILES = 2000  # below this many labels a process pool costs more than it saves
POOL_CHUNK_FILES = 256  # labels sent to a worker at a time
HOME_NOISE_TEST = "home_noise_test"  # manifest name of the far/near-field test set
HOME_NOISE_ENV = "home-noise"
HOME_NOISE_FIELDS = (("-N", "far"), ("-S", "near"))  # file-name suffix -> microphone field
SUMMARY_FILE = "summary.json"

GENDER_WORDS = {
    "여": "female",
    "여성": "female",
    "여자": "female",
    "f": "female",
    "female": "female",
    "남": "male",
    "남성": "male",
    "남자": "male",
    "m": "male",
    "male": "male",
}
INDOOR_WORDS = ("실내", "스튜디오", "indoor", "studio")

# Why a record was skipped (bad data) ...
BROKEN_JSON = "broken_json"
NOT_A_LABEL = "not_a_label"  # a JSON of another kind, e.g. a corpus summary
MISSING_FIELD = "missing_field"
MISSING_AUDIO = "missing_audio"
UNREADABLE_AUDIO = "unreadable_audio"
EMPTY_TEXT = "empty_text"
EXCLUDED_TRANSCRIPT = "excluded_transcript"
UNKNOWN_GENDER = "unknown_gender"
DUPLICATE_AUDIO = "duplicate_audio"
# ... or left out by the selection options.
NOT_INDOOR = "not_indoor"
AGE_UNKNOWN = "age_unknown"
AGE_OUT_OF_RANGE = "age_out_of_range"
OVER_BUDGET = "over_budget_or_balance"
HELD_OUT_IN_TRAIN = "held_out_sentence_of_a_train_speaker"
SELECTION_REASONS = (NOT_INDOOR, AGE_UNKNOWN, AGE_OUT_OF_RANGE, OVER_BUDGET, HELD_OUT_IN_TRAIN)
HELD_OUT_SCRIPT_SET = "heldout"  # 발화정보.scriptSet of sentences kept out of training

Outcome = ManifestEntry | str  # an utterance, or the reason it was skipped
ProgressCallback = Callable[[str, int, Optional[int]], None]  # (stage, done, total)


@dataclass(frozen=True)
class ImportOptions:
    """What to take from the corpus and how to split it."""

    indoor_only: bool = False
    min_age: int | None = None  # years, inclusive
    max_age: int | None = None  # years, inclusive
    male_share: float | None = None  # share of hours spoken by men; 0.5 is 5:5
    hours: float | None = None  # budget for train + dev + test
    fractions: SplitFractions = field(default_factory=SplitFractions)
    seed: int = 0
    workers: int = 1
    source: str | None = None  # manifests' source; None: "synth" for synthetic labels, else "aihub"

    def __post_init__(self) -> None:
        if self.male_share is not None and not 0.0 <= self.male_share <= 1.0:
            raise ValueError(f"male_share must be between 0 and 1, not {self.male_share}")
        if self.hours is not None and self.hours <= 0:
            raise ValueError(f"hours must be positive, not {self.hours}")
        if None not in (self.min_age, self.max_age) and self.min_age > self.max_age:
            raise ValueError(f"min_age {self.min_age} is above max_age {self.max_age}")


RESEARCH_SELECTION = ImportOptions(
    indoor_only=True, min_age=20, max_age=40, male_share=0.5, hours=200.0
)  # the research project's choice: indoor, ages 20-40, male:female 5:5, 200 h


# ------------------------------------------------------------------ field parsing


def parse_gender(value: object) -> str | None:
    """``남``/``여`` (and 남성, 여자, M, female, ...) to ``male``/``female``; else None."""
    if not isinstance(value, str):
        return None
    return GENDER_WORDS.get(value.strip().lower())


def parse_age(value: object) -> int | None:
    """Age in years from ``34``, ``"34"``, ``"34세"`` or ``"30대"``; None when absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = re.search(r"\d+", value) if isinstance(value, str) else None
    return int(match.group()) if match else None


def parse_seconds(value: object) -> float | None:
    """A positive duration in seconds from ``3.52`` or ``"3.520"``; None otherwise."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 and seconds == seconds else None


def audio_seconds(path: str) -> float | None:
    """Duration from the audio file's header (no decoding); None if unreadable."""
    import soundfile

    try:
        info = soundfile.info(path)
    except (RuntimeError, OSError, ValueError):
        return None
    return info.frames / info.samplerate if info.samplerate and info.frames > 0 else None


def audio_key(name: str) -> str:
    """The name a label uses for its audio: base name without an audio/label extension.

    ``"a\\b\\x.wav"``, ``"x.WAV"``, ``"x"`` and ``"x.json"`` all give ``"x"``.
    """
    base = re.split(r"[\\/]", name.strip())[-1]
    stem, ext = os.path.splitext(base)
    ext = ext.lower()
    return stem if ext == LABEL_SUFFIX or ext.startswith((".wav", ".flac", ".pcm")) else base


# ------------------------------------------------------------------ scanning


class AudioIndex:
    """Audio files under SRC by ``audio_key``; a name found twice keeps all its paths."""

    def __init__(self) -> None:
        self._paths: dict[str, str] = {}
        self._more: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self._paths) + sum(len(v) for v in self._more.values())

    def add(self, path: str) -> None:
        key = audio_key(os.path.basename(path))
        if key in self._paths:
            self._more.setdefault(key, []).append(path)
        else:
            self._paths[key] = path

    def find(self, name: object, label_path: str) -> str | None:
        """The audio a label names (or, failing that, the label's own stem)."""
        keys = [audio_key(name)] if isinstance(name, str) and name.strip() else []
        keys.append(audio_key(os.path.basename(label_path)))
        for key in keys:
            if key in self._paths:
                return self._closest(key, label_path)
        return None

    def _closest(self, key: str, label_path: str) -> str:
        candidates = [self._paths[key], *self._more.get(key, [])]
        if len(candidates) == 1:
            return candidates[0]
        label_dirs = set(Path(label_path).parent.parts)
        return max(candidates, key=lambda p: len(label_dirs & set(Path(p).parent.parts)))


def scan_tree(
    src: Path, exclude: Path | None = None, progress: ProgressCallback | None = None
) -> tuple[list[str], AudioIndex]:
    """All label JSONs (sorted) and an index of audio files under ``src``, streamed with scandir."""
    labels: list[str] = []
    index = AudioIndex()
    for n, path in enumerate(_walk(str(src), str(exclude) if exclude else None), start=1):
        lower = path.lower()
        if lower.endswith(LABEL_SUFFIX):
            labels.append(path)
        elif lower.endswith(AUDIO_SUFFIXES):
            index.add(path)
        if progress and n % 5000 == 0:
            progress("scan", n, None)
    labels.sort()
    return labels, index


def _walk(top: str, exclude: str | None) -> Iterator[str]:
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as error:
            log.warning("cannot read folder %s: %s", error.filename, error.strerror)
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIP_DIR_NAMES:
                continue
            if entry.is_dir(follow_symlinks=True):
                if exclude is None or os.path.realpath(entry.path) != exclude:
                    stack.append(entry.path)
            elif entry.is_file(follow_symlinks=True):
                yield entry.path


# ------------------------------------------------------------------ label parsing

_worker_index: AudioIndex | None = None
_worker_source: str | None = None
SYNTHETIC_MARK = "synthVoice"  # 녹음자정보 key the synthetic generator adds


def _init_worker(index: AudioIndex, source: str | None) -> None:
    global _worker_index, _worker_source
    _worker_index, _worker_source = index, source


def parse_label_file(path: str) -> list[Outcome]:
    """One label JSON to its utterances, or to the reasons they were skipped."""
    try:
        doc = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return [BROKEN_JSON]
    if not isinstance(doc, dict):
        return [BROKEN_JSON]
    if "발화정보" in doc:
        return [_conversation_entry(path, doc)]
    if "command" in doc:
        return _home_noise_entries(path, doc)
    return [NOT_A_LABEL]


def _section(doc: dict, key: str) -> dict:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _transcript(raw: object) -> tuple[str, str | None]:
    """(normalised text, None) or ("", the reason the transcript cannot be used)."""
    if not isinstance(raw, str):
        return "", MISSING_FIELD
    text = normalise(raw)
    if text is None:
        return "", EXCLUDED_TRANSCRIPT
    return (text, None) if text else ("", EMPTY_TEXT)


def _conversation_entry(path: str, doc: dict) -> Outcome:
    utterance, talk, recorder = (_section(doc, k) for k in ("발화정보", "대화정보", "녹음자정보"))
    speaker = recorder.get("recorderId")
    if speaker is None or str(speaker).strip() == "":
        return MISSING_FIELD
    gender = parse_gender(recorder.get("gender"))
    if gender is None:
        return UNKNOWN_GENDER
    text, reason = _transcript(utterance.get("stt"))
    if reason:
        return reason
    audio = _worker_index.find(utterance.get("fileNm"), path)
    if audio is None:
        return MISSING_AUDIO
    seconds = parse_seconds(utterance.get("recrdTime")) or audio_seconds(audio)
    if seconds is None:
        return UNREADABLE_AUDIO
    return ManifestEntry(
        audio=os.path.abspath(audio),
        text=text,
        duration_s=seconds,
        gender=gender,
        age=parse_age(recorder.get("age")),
        speaker=str(speaker).strip(),
        env=str(talk.get("recrdEnvrn") or ""),
        source=_worker_source or ("synth" if SYNTHETIC_MARK in recorder else "aihub"),
        held_out=str(utterance.get("scriptSet", "")).lower() == HELD_OUT_SCRIPT_SET,
    )


def _home_noise_base(name: str) -> str:
    """``x-J.json``, ``x-N.wav``, ``x`` -> ``x``: the name both recordings share."""
    return re.sub(r"-[JNS]$", "", audio_key(name))


def _home_noise_entries(path: str, doc: dict) -> list[Outcome]:
    command, speaker, file_info = (_section(doc, k) for k in ("command", "speaker", "file"))
    gender = parse_gender(speaker.get("gender"))
    if gender is None:
        return [UNKNOWN_GENDER] * len(HOME_NOISE_FIELDS)
    text, reason = _transcript(command.get("text"))
    if reason:
        return [reason] * len(HOME_NOISE_FIELDS)
    name = file_info.get("name") if isinstance(file_info.get("name"), str) else ""
    base = _home_noise_base(name or os.path.basename(path))
    return [
        _home_noise_entry(path, base + suffix, mic, text, gender, speaker)
        for suffix, mic in HOME_NOISE_FIELDS
    ]


def _home_noise_entry(
    path: str, name: str, mic: str, text: str, gender: str, speaker: dict
) -> Outcome:
    audio = _worker_index.find(name + ".wav", path)
    if audio is None or audio_key(os.path.basename(audio)) != name:
        return MISSING_AUDIO
    seconds = audio_seconds(audio)
    if seconds is None:
        return UNREADABLE_AUDIO
    speaker_id = speaker.get("id") or speaker.get("speakerId") or name.rsplit("-", 1)[0]
    return ManifestEntry(
        audio=os.path.abspath(audio),
        text=text,
        duration_s=seconds,
        gender=gender,
        age=parse_age(speaker.get("age")),
        speaker=str(speaker_id),
        env=HOME_NOISE_ENV,
        source=_worker_source or "aihub",
        field=mic,
    )


def parse_labels(
    labels: Sequence[str],
    index: AudioIndex,
    options: ImportOptions,
    progress: ProgressCallback | None = None,
) -> Iterator[Outcome]:
    """Parse every label, in a process pool when there are many; outcomes in label order."""
    total = len(labels)
    if options.workers <= 1 or total < POOL_MIN_FILES:
        _init_worker(index, options.source)
        results: Iterable[list[Outcome]] = map(parse_label_file, labels)
        yield from _with_progress(results, total, progress)
        return
    with ProcessPoolExecutor(
        options.workers, initializer=_init_worker, initargs=(index, options.source)
    ) as pool:
        results = pool.map(parse_label_file, labels, chunksize=POOL_CHUNK_FILES)
        yield from _with_progress(results, total, progress)


def _with_progress(
    results: Iterable[list[Outcome]], total: int, progress: ProgressCallback | None
) -> Iterator[Outcome]:
    for done, outcomes in enumerate(results, start=1):
        yield from outcomes
        if progress and (done % 100 == 0 or done == total):
            progress("parse", done, total)


# ------------------------------------------------------------------ selection


def _selection_reason(entry: ManifestEntry, options: ImportOptions) -> str | None:
    if options.indoor_only and not any(w in entry.env.lower() for w in INDOOR_WORDS):
        return NOT_INDOOR
    if options.min_age is None and options.max_age is None:
        return None
    if entry.age is None:
        return AGE_UNKNOWN
    low = options.min_age if options.min_age is not None else 0
    high = options.max_age if options.max_age is not None else entry.age
    return None if low <= entry.age <= high else AGE_OUT_OF_RANGE


def gender_quotas_s(available_s: dict[str, float], options: ImportOptions) -> dict[str, float]:
    """Seconds to take per gender for the male share and the hours budget."""
    total_s = sum(available_s.values())
    share = options.male_share
    if share is not None:
        limits = [
            available_s["male"] / share if share > 0 else float("inf"),
            available_s["female"] / (1 - share) if share < 1 else float("inf"),
        ]
        total_s = min(limits)
    if options.hours is not None:
        total_s = min(total_s, options.hours * SECONDS_PER_HOUR)
    if share is not None:
        return {"male": total_s * share, "female": total_s * (1 - share)}
    scale = total_s / max(sum(available_s.values()), 1e-9)
    return {g: s * scale for g, s in available_s.items()}


def select(
    entries: Sequence[ManifestEntry], options: ImportOptions, counts: Counter[str]
) -> list[ManifestEntry]:
    """Apply the filters, then fill each gender's quota with utterances drawn at random.

    Drawing utterances rather than whole speakers keeps as many voices as the
    budget allows. Counts what was left out, by reason, into ``counts``.
    """
    kept = []
    for entry in entries:
        reason = _selection_reason(entry, options)
        if reason:
            counts[reason] += 1
        else:
            kept.append(entry)
    if options.male_share is None and options.hours is None:
        return kept
    available_s = {g: 0.0 for g in GENDERS}
    for entry in kept:
        available_s[entry.gender] += entry.duration_s
    quotas_s = gender_quotas_s(available_s, options)
    if kept and not any(quotas_s.values()):
        log.warning("nothing selected: male share %s needs both genders", options.male_share)
    rng = random.Random(options.seed)
    chosen = []
    for gender in GENDERS:
        pool = sorted((e for e in kept if e.gender == gender), key=lambda e: e.audio)
        rng.shuffle(pool)
        chosen.extend(_fill(pool, quotas_s[gender]))
    counts[OVER_BUDGET] += len(kept) - len(chosen)
    return chosen


def _fill(pool: Iterable[ManifestEntry], quota_s: float) -> list[ManifestEntry]:
    """Utterances in pool order while they fit in ``quota_s`` (float sums get slack)."""
    limit_s = quota_s * (1 + 1e-9) + 1e-6
    taken, used_s = [], 0.0
    for entry in pool:
        if used_s + entry.duration_s <= limit_s:
            taken.append(entry)
            used_s += entry.duration_s
    return taken


# ------------------------------------------------------------------ the import


@dataclass(frozen=True)
class ImportSummary:
    """What an import read, skipped, left out and wrote (``summary.json``)."""

    src: str
    out: str
    options: dict
    label_files: int
    audio_files: int
    skipped: dict[str, int]
    left_out: dict[str, int]
    manifests: dict[str, dict]
    seconds: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def describe(entries: Sequence[ManifestEntry]) -> dict:
    """Utterances, hours, speakers and hours per gender of one manifest."""
    hours = hours_by_gender(entries)
    return {
        "utterances": len(entries),
        "hours": round(sum(hours.values()), 4),
        "speakers": len({e.speaker for e in entries}),
        "female_hours": round(hours["female"], 4),
        "male_hours": round(hours["male"], 4),
    }


def _collect(outcomes: Iterable[Outcome], counts: Counter[str]) -> tuple[list, list]:
    """Split outcomes into conversation and home-noise entries; count skips and duplicates."""
    conversation, home_noise, seen = [], [], set()
    for outcome in outcomes:
        if isinstance(outcome, str):
            counts[outcome] += 1
        elif outcome.audio in seen:
            counts[DUPLICATE_AUDIO] += 1
        else:
            seen.add(outcome.audio)
            (home_noise if outcome.field else conversation).append(outcome)
    return conversation, home_noise


def import_aihub(
    src: str | Path,
    out: str | Path,
    options: ImportOptions = ImportOptions(),
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Read AI-Hub data under ``src`` and write manifests and ``summary.json`` to ``out``."""
    started = time.monotonic()
    src, out = Path(src).resolve(), Path(out).resolve()
    if not src.is_dir():
        raise FileNotFoundError(f"no such folder: {src}")
    labels, index = scan_tree(src, exclude=out, progress=progress)
    log.info("found %d label files and %d audio files under %s", len(labels), len(index), src)
    skipped: Counter[str] = Counter()
    conversation, home_noise = _collect(parse_labels(labels, index, options, progress), skipped)
    left_out: Counter[str] = Counter()
    splits = split_by_speaker(
        select(conversation, options, left_out), options.fractions, options.seed
    )
    splits["train"] = _without_held_out(splits["train"], left_out)
    manifests = {}
    if conversation:
        splits = {name: sorted(splits[name], key=lambda e: e.audio) for name in SPLITS}
        manifests = {name: _write(out, name, rows) for name, rows in splits.items()}
    if home_noise:
        manifests[HOME_NOISE_TEST] = _write(
            out, HOME_NOISE_TEST, sorted(home_noise, key=lambda e: e.audio)
        )
    summary = ImportSummary(
        src=str(src),
        out=str(out),
        options=_options_dict(options),
        label_files=len(labels),
        audio_files=len(index),
        skipped=dict(sorted(skipped.items())),
        left_out={r: left_out[r] for r in SELECTION_REASONS if left_out[r]},
        manifests=manifests,
        seconds=round(time.monotonic() - started, 2),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY_FILE).write_text(summary.to_json() + "\n", encoding="utf-8")
    return summary


def _without_held_out(train: list[ManifestEntry], left_out: Counter[str]) -> list[ManifestEntry]:
    """Train never hears a held-out sentence: those utterances of train speakers are dropped."""
    kept = [e for e in train if not e.held_out]
    left_out[HELD_OUT_IN_TRAIN] += len(train) - len(kept)
    return kept


def _write(out: Path, name: str, entries: list[ManifestEntry]) -> dict:
    write_manifest(out / f"{name}.jsonl", entries)
    return describe(entries)


def _options_dict(options: ImportOptions) -> dict:
    row = asdict(options)
    row.pop("workers")
    return row


# ------------------------------------------------------------------ command line


def _print_summary(summary: ImportSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"AI-Hub import: {summary.label_files} label files, {summary.audio_files} audio files"
    )
    for column in ("manifest", "utterances", "hours", "speakers", "female h", "male h"):
        table.add_column(column, justify="left" if column == "manifest" else "right")
    for name, row in summary.manifests.items():
        table.add_row(
            name,
            str(row["utterances"]),
            f"{row['hours']:.3f}",
            str(row["speakers"]),
            f"{row['female_hours']:.3f}",
            f"{row['male_hours']:.3f}",
        )
    console = Console()
    console.print(table)
    skipped = ", ".join(f"{k} {v}" for k, v in summary.skipped.items()) or "none"
    left_out = ", ".join(f"{k} {v}" for k, v in summary.left_out.items()) or "none"
    console.print(f"skipped (bad records): {skipped}")
    console.print(f"left out (selection options): {left_out}")
    console.print(f"written to {summary.out} in {summary.seconds:.1f} s")


def _progress_bar() -> tuple[object, ProgressCallback]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            label = "scanning files" if stage == "scan" else "reading labels"
            tasks[stage] = bar.add_task(label, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update


def cli(
    src: Annotated[Path, typer.Argument(help="Folder holding the unzipped AI-Hub data.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the manifests.")],
    research: Annotated[
        bool,
        typer.Option(
            "--research",
            help="The research selection: indoor, ages 20-40, 5:5, 200 h "
            "(options given explicitly override it).",
        ),
    ] = False,
    indoor_only: Annotated[
        Optional[bool],
        typer.Option(
            "--indoor-only/--any-env", help="Keep only indoor recordings (recrdEnvrn 실내)."
        ),
    ] = None,
    min_age: Annotated[Optional[int], typer.Option(help="Youngest speaker kept, years.")] = None,
    max_age: Annotated[Optional[int], typer.Option(help="Oldest speaker kept, years.")] = None,
    male_share: Annotated[
        Optional[float],
        typer.Option(help="Share of hours spoken by men, 0.5 for 5:5; default: as found."),
    ] = None,
    hours: Annotated[Optional[float], typer.Option(help="Hours budget for all splits.")] = None,
    dev: Annotated[float, typer.Option(help="Fraction of hours for dev.")] = 0.1,
    test: Annotated[float, typer.Option(help="Fraction of hours for test.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed for selection and splits.")] = 0,
    workers: Annotated[int, typer.Option(help="Parallel processes reading labels.")] = (
        min(4, os.cpu_count() or 1)
    ),
    source: Annotated[
        Optional[str],
        typer.Option(
            help="Manifests' source field; default: synth for synthetic labels, else aihub."
        ),
    ] = None,
) -> None:
    """Import AI-Hub 자유대화 음성 (and home-noise command) data into train/dev/test manifests.

    Example: talkratio-train aihub /data/aihub/자유대화 --out data/manifests --research --hours 1000
    """
    base = RESEARCH_SELECTION if research else ImportOptions()
    given = {
        "indoor_only": indoor_only,
        "min_age": min_age,
        "max_age": max_age,
        "male_share": male_share,
        "hours": hours,
    }
    try:
        options = ImportOptions(
            **{
                **{k: getattr(base, k) for k in given},
                **{k: v for k, v in given.items() if v is not None},
                "fractions": SplitFractions(train=1.0 - dev - test, dev=dev, test=test),
                "seed": seed,
                "workers": workers,
                "source": source,
            }
        )
    except ValueError as error:
        typer.echo(f"Error: {error}.", err=True)
        raise typer.Exit(2) from None
    if not src.is_dir():
        typer.echo(f"Error: {src} is not a folder.", err=True)
        raise typer.Exit(2)
    bar, update = _progress_bar()
    with bar:
        summary = import_aihub(src, out, options, progress=update)
    _print_summary(summary)
