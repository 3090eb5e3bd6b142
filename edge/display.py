"""What the CLI shows on a terminal: tables, utterance lines and the progress bar (rich)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import soundfile as sf
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from edge.capture import LiveCounters
from edge.pipeline import FileAnalysis
from edge.stats import ROLES, Period, Summary, role_of
from edge.utterance import Utterance

PROGRESS_MIN_SECONDS = 60.0  # shorter files finish before a bar would help

# markup off: labels come from the user's config and file names from disk; "엄마[/]" is text
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, markup=False)


def _share(summary: Summary) -> str:
    share = summary.mother_share
    return "-" if share is None else f"{share:.1%}"


def summary_table(summary: Summary, title: str, labels: dict[str, str] | None = None) -> Table:
    table = Table(title=title)
    for column in ("who", "speech s", "utterances", "syllables", "eojeol"):
        table.add_column(column, justify="left" if column == "who" else "right")
    labels = labels or {}
    for role in ROLES:
        table.add_row(
            f"{role} ({labels[role]})" if labels.get(role, role) != role else role,
            f"{summary.seconds[role]:.1f}",
            str(summary.utterances[role]),
            str(summary.syllables[role]),
            str(summary.eojeol[role]),
        )
    table.caption = (
        f"mother share {_share(summary)}, turns {summary.turns}, child turns {summary.child_turns}"
    )
    return table


def utterance_table(utterances: Sequence[Utterance], labels: dict[str, str] | None = None) -> Table:
    """Each utterance: its times in the file, who (with the family's word), voice, confidence,
    text."""
    table = Table(box=None, pad_edge=False)
    for column in ("start", "end", "who", "voice", "p", "text"):
        table.add_column(column, justify="right" if column in ("start", "end", "p") else "left")
    labels = labels or {}
    for u in utterances:
        text = u.text if u.text is not None else "(not transcribed)"
        role = role_of(u)
        who = labels.get(role, role)
        table.add_row(f"{u.start:.2f}", f"{u.end:.2f}", who, u.voice, f"{u.voice_prob:.2f}", text)
    return table


def print_analysis(result: FileAnalysis, labels: dict[str, str] | None = None) -> None:
    title = f"{result.file} ({result.duration_s:.1f} s)"
    out.print(utterance_table(result.utterances, labels))
    out.print(summary_table(result.summary, title, labels))


def print_utterance(u: Utterance) -> None:
    """One line: local clock time, seconds into the capture, length, voice, confidence, text."""
    clock = datetime.fromtimestamp(u.wall_start).strftime("%H:%M:%S")
    text = u.text if u.text is not None else "(not transcribed)"
    who = role_of(u)
    out.print(
        f"{clock} {u.start:8.2f}s {u.duration:5.2f}s  {who:<7} {u.voice:<7} {u.voice_prob:.2f}  "
        f"{text}",
    )


def print_utterance_json(u: Utterance) -> None:
    out.file.write(json.dumps(u.to_json(), ensure_ascii=False) + "\n")
    out.file.flush()


def print_live_summary(summary: Summary, counters: LiveCounters) -> None:
    err.print(summary_table(summary, f"live: {counters.audio_s:.1f} s of audio"))
    if counters.transcripts_skipped:
        err.print(
            f"{counters.transcripts_skipped} utterances were not transcribed "
            "(recognition fell behind); their speech time and voice are counted"
        )
    if counters.dropped_s or counters.overflows:
        err.print(
            f"{counters.dropped_s:.1f} s of audio were lost ({counters.overflows} overflows, "
            f"clock re-anchored {counters.reanchors} times); that time is not counted"
        )


def print_periods(
    periods: Sequence[Period], total: Summary, by: str, labels: dict[str, str] | None = None
) -> None:
    table = Table(title=f"talk per {by}")
    for column in (
        "from",
        "mother s",
        "father s",
        "child s",
        "mother share",
        "turns",
        "child turns",
    ):
        table.add_column(column, justify="left" if column == "from" else "right")
    for p in periods:
        s = p.summary
        table.add_row(
            p.start.isoformat(timespec="minutes"),
            f"{s.seconds['mother']:.0f}",
            f"{s.seconds['father']:.0f}",
            f"{s.seconds['child']:.0f}",
            _share(s),
            str(s.turns),
            str(s.child_turns),
        )
    out.print(table)
    out.print(summary_table(total, "total", labels))


def print_models(described: dict) -> None:
    table = Table(title="models")
    for column in ("kind", "name", "version", "features", "size", "path"):
        table.add_column(column)
    for info in described.values():
        size = f"{info['size_bytes'] / 1e6:.1f} MB" if "size_bytes" in info else "-"
        table.add_row(
            info["kind"],
            info["name"],
            str(info.get("version")),
            str(info.get("features", "-")),
            size,
            info.get("path", info.get("note", "")),
        )
    out.print(table)


def print_household(described: Sequence[dict]) -> None:
    """The enrolled voiceprints (``Voiceprint.describe()`` dicts), never their embeddings."""
    if not described:
        out.print("no household enrolled: voices count as mother (female) and father (male)")
        return
    table = Table(title="household")
    for column in ("role", "enrolled", "model", "speech", "quality"):
        table.add_column(column)
    for v in described:
        table.add_row(
            v["role"],
            datetime.fromtimestamp(v["created_at"]).strftime("%Y-%m-%d %H:%M"),
            v["model"],
            f"{v['speech_s']:.0f} s",
            f"{v['quality']:.2f}",
        )
    out.print(table)


def print_devices(devices) -> None:
    table = Table(title="audio inputs")
    for column in ("index", "name", "channels", "rate", "default"):
        table.add_column(column)
    for d in devices:
        table.add_row(
            str(d.index),
            d.name,
            str(d.channels),
            f"{d.default_rate:.0f}",
            "yes" if d.is_default else "",
        )
    out.print(table)


@contextmanager
def progress_bar(path: Path, enabled: bool = True) -> Iterator[Callable[[float], None] | None]:
    """A progress bar on stderr for long files on a terminal; yields the update callback."""
    total_s = _seconds(path) if enabled and err.is_terminal else 0.0
    if total_s < PROGRESS_MIN_SECONDS:
        yield None
        return
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(Path(path).name, total=total_s)
        yield lambda done_s: progress.update(task, completed=done_s)


def _seconds(path: Path) -> float:
    """The recording's length; 0 for anything unreadable (the pipeline reports it properly)."""
    if not Path(path).is_file():  # a pipe would block this read until someone writes to it
        return 0.0
    try:
        return sf.info(str(path)).duration
    except Exception:
        return 0.0
