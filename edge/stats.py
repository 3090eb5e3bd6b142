"""Talk statistics exactly as DESIGN.md defines them, as pure functions over records.

A record is anything with ``start``, ``end`` (seconds on one timeline), ``voice``,
``syllables`` and ``eojeol``: a runtime :class:`edge.pipeline.Utterance`, a
stored one moved to the wall clock, or a scene's ground truth (:class:`TalkSpan`).

- speech seconds of a voice: the sum of its utterances' durations;
- a turn: an adult utterance that follows the previous adult utterance of the
  other adult voice (female <-> male) after a gap of at most 5 s; child and
  unknown utterances in between neither make nor break a turn;
- ``mother_share`` = female_s / (female_s + male_s), ``None`` when both are 0;
- hours and days are the device's local time; an utterance counts in the
  period in which it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

VOICES = ("female", "male", "child", "unknown")
ADULT_VOICES = ("female", "male")
TURN_MAX_GAP_S = 5.0  # DESIGN.md: a reply within 5 s is a turn
PERIODS = ("hour", "day")
SECONDS_DECIMALS = 3  # totals to the millisecond: the same on file and wall-clock timelines


class TalkRecord(Protocol):
    start: float
    end: float
    voice: str
    syllables: int
    eojeol: int


@dataclass(frozen=True)
class TalkSpan:
    """The minimal record: what a scene's ground truth needs to reuse these statistics."""

    start: float
    end: float
    voice: str
    syllables: int = 0
    eojeol: int = 0


@dataclass(frozen=True)
class Summary:
    """Per-voice totals over a set of utterances (every voice in :data:`VOICES` present)."""

    seconds: dict[str, float]
    utterances: dict[str, int]
    syllables: dict[str, int]
    eojeol: dict[str, int]
    turns: int

    @property
    def mother_share(self) -> float | None:
        adults = self.seconds["female"] + self.seconds["male"]
        return None if adults <= 0 else self.seconds["female"] / adults

    def to_json(self) -> dict:
        """The ``summary`` object of DESIGN.md (plus per-voice ``eojeol``)."""
        share = self.mother_share
        out: dict = {f"{v}_s": round(s, 3) for v, s in self.seconds.items()}
        out["mother_share"] = None if share is None else round(share, 3)
        out.update(
            utterances=dict(self.utterances),
            syllables=dict(self.syllables),
            eojeol=dict(self.eojeol),
            turns=self.turns,
        )
        return out


def _is_turn(previous: TalkRecord | None, record: TalkRecord, max_gap_s: float) -> bool:
    return (
        previous is not None
        and record.voice in ADULT_VOICES
        and previous.voice != record.voice
        and record.start - previous.end <= max_gap_s
    )


def turn_flags(records: Sequence[TalkRecord], max_gap_s: float = TURN_MAX_GAP_S) -> list[bool]:
    """For records in time order: does each one answer the other adult (a turn)?"""
    flags, previous_adult = [], None
    for record in records:
        flags.append(_is_turn(previous_adult, record, max_gap_s))
        if record.voice in ADULT_VOICES:
            previous_adult = record
    return flags


class Tally:
    """Statistics built one record at a time, in time order, in constant memory (live runs)."""

    def __init__(self, max_gap_s: float = TURN_MAX_GAP_S):
        self.max_gap_s = max_gap_s
        self.seconds = dict.fromkeys(VOICES, 0.0)
        self.utterances, self.syllables, self.eojeol = (dict.fromkeys(VOICES, 0) for _ in range(3))
        self.turns = 0
        self._previous_adult: TalkRecord | None = None

    def add(self, record: TalkRecord, is_turn: bool | None = None) -> None:
        """Count ``record``; ``is_turn`` overrides the turn found from the previous record."""
        if is_turn is None:
            is_turn = _is_turn(self._previous_adult, record, self.max_gap_s)
        if record.voice in ADULT_VOICES:
            self._previous_adult = record
        voice = record.voice if record.voice in VOICES else "unknown"
        self.seconds[voice] += max(0.0, record.end - record.start)
        self.utterances[voice] += 1
        self.syllables[voice] += record.syllables
        self.eojeol[voice] += record.eojeol
        self.turns += is_turn

    def summary(self) -> Summary:
        seconds = {voice: round(total, SECONDS_DECIMALS) for voice, total in self.seconds.items()}
        return Summary(
            seconds, dict(self.utterances), dict(self.syllables), dict(self.eojeol), self.turns
        )


def _in_time_order(records: Iterable[TalkRecord]) -> list[TalkRecord]:
    return sorted(records, key=lambda r: (r.start, r.end))


def summarize(records: Iterable[TalkRecord], max_gap_s: float = TURN_MAX_GAP_S) -> Summary:
    """Totals per voice, turns and (through :attr:`Summary.mother_share`) the share."""
    tally = Tally(max_gap_s)
    for record in _in_time_order(records):
        tally.add(record)
    return tally.summary()


@dataclass(frozen=True)
class Period:
    """One hour or day of local time and its statistics."""

    start: datetime
    summary: Summary

    def to_json(self) -> dict:
        return {"start": self.start.isoformat(), **self.summary.to_json()}


def period_start(unix_s: float, by: str, tz: tzinfo | None = None) -> datetime:
    """The local hour or day (as an aware datetime) holding Unix time ``unix_s``."""
    moment = (
        datetime.fromtimestamp(unix_s, tz) if tz else datetime.fromtimestamp(unix_s).astimezone()
    )
    if by == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if by == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"period must be one of {PERIODS}, not {by!r}")


def by_period(
    records: Iterable[TalkRecord],
    by: str = "hour",
    tz: tzinfo | None = None,
    max_gap_s: float = TURN_MAX_GAP_S,
) -> list[Period]:
    """Statistics per local hour or day for records whose times are Unix seconds.

    Turns are found over the whole timeline first, so a reply just after the
    hour still counts (in the hour of the reply). Empty periods are left out.
    """
    ordered = _in_time_order(records)
    flags = turn_flags(ordered, max_gap_s)
    tallies: dict[datetime, Tally] = {}
    for record, flag in zip(ordered, flags, strict=True):
        tallies.setdefault(period_start(record.start, by, tz), Tally(max_gap_s)).add(record, flag)
    return [Period(key, tallies[key].summary()) for key in sorted(tallies)]
