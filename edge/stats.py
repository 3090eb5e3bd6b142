"""Talk statistics exactly as DESIGN.md defines them, as pure functions over records.

A record is anything with ``start``, ``end`` (seconds on one timeline), ``voice``,
``speaker``, ``syllables`` and ``eojeol``: a runtime :class:`edge.utterance.Utterance`,
a stored one moved to the wall clock, or a scene's ground truth (:class:`TalkSpan`).

Each record is counted under one **role**: its ``speaker`` when that is a parent
(``mother``/``father``); otherwise ``child`` for a child's voice, ``unknown``
for a voice not judged, and ``other`` for the rest (a TV or radio, or an adult
who is not an enrolled parent).

- speech seconds of a role: the sum of its utterances' durations;
- a turn: a parent's utterance that follows the other parent's previous
  utterance after a gap of at most 5 s; other utterances in between neither
  make nor break a turn;
- a child turn: an adult voice (female/male) answered by the child, or the
  child answered by an adult, within 5 s (TV and unknown in between are skipped);
- ``mother_share`` = mother_s / (mother_s + father_s), ``None`` when both are 0;
- hours and days are the device's local time; an utterance counts in the
  period in which it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from edge.utterance import PARENTS

ROLES = ("mother", "father", "child", "other", "unknown")
ADULT_VOICES = ("female", "male")
TURN_MAX_GAP_S = 5.0  # DESIGN.md: a reply within 5 s is a turn (and a child turn)
PERIODS = ("hour", "day")
SECONDS_DECIMALS = 3  # totals to the millisecond: the same on file and wall-clock timelines


class TalkRecord(Protocol):
    start: float
    end: float
    voice: str
    speaker: str | None
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
    speaker: str | None = None


def role_of(record: TalkRecord) -> str:
    """The role a record is counted under (see the module docstring)."""
    if record.speaker in PARENTS:
        return record.speaker
    if record.voice in ("child", "unknown"):
        return record.voice
    return "other"


@dataclass(frozen=True)
class Summary:
    """Per-role totals over a set of utterances (every role in :data:`ROLES` present);
    ``voice_seconds`` has the adult voices' seconds whoever they were."""

    seconds: dict[str, float]
    utterances: dict[str, int]
    syllables: dict[str, int]
    eojeol: dict[str, int]
    turns: int
    child_turns: int
    voice_seconds: dict[str, float]

    @property
    def mother_share(self) -> float | None:
        parents = self.seconds["mother"] + self.seconds["father"]
        return None if parents <= 0 else self.seconds["mother"] / parents

    def to_json(self) -> dict:
        """The ``summary`` object of DESIGN.md (plus per-role ``eojeol``)."""
        share = self.mother_share
        out: dict = {f"{role}_s": round(s, 3) for role, s in self.seconds.items()}
        out.update({f"{voice}_s": round(s, 3) for voice, s in self.voice_seconds.items()})
        out["mother_share"] = None if share is None else round(share, 3)
        out.update(
            utterances=dict(self.utterances),
            syllables=dict(self.syllables),
            eojeol=dict(self.eojeol),
            turns=self.turns,
            child_turns=self.child_turns,
        )
        return out


def _within(previous: TalkRecord | None, record: TalkRecord, max_gap_s: float) -> bool:
    return previous is not None and record.start - previous.end <= max_gap_s


class _TurnFinder:
    """Remembers the last parent and the last adult-or-child record of a timeline."""

    def __init__(self, max_gap_s: float):
        self.max_gap_s = max_gap_s
        self._parent: TalkRecord | None = None
        self._adult_or_child: TalkRecord | None = None

    def see(self, record: TalkRecord) -> tuple[bool, bool]:
        """``(turn, child_turn)`` for the next record in time order."""
        role = role_of(record)
        turn = (
            role in PARENTS
            and _within(self._parent, record, self.max_gap_s)
            and role_of(self._parent) != role
        )
        talker = "child" if role == "child" else "adult" if record.voice in ADULT_VOICES else None
        previous = self._adult_or_child
        child_turn = (
            talker is not None
            and _within(previous, record, self.max_gap_s)
            and (role_of(previous) == "child") != (talker == "child")
        )
        if role in PARENTS:
            self._parent = record
        if talker is not None:
            self._adult_or_child = record
        return turn, child_turn


def turn_flags(
    records: Sequence[TalkRecord], max_gap_s: float = TURN_MAX_GAP_S
) -> list[tuple[bool, bool]]:
    """For records in time order: does each one make a turn, and a child turn?"""
    finder = _TurnFinder(max_gap_s)
    return [finder.see(record) for record in records]


class Tally:
    """Statistics built one record at a time, in time order, in constant memory (live runs)."""

    def __init__(self, max_gap_s: float = TURN_MAX_GAP_S):
        self.seconds = dict.fromkeys(ROLES, 0.0)
        self.voice_seconds = dict.fromkeys(ADULT_VOICES, 0.0)
        self.utterances, self.syllables, self.eojeol = (dict.fromkeys(ROLES, 0) for _ in range(3))
        self.turns = self.child_turns = 0
        self._turns = _TurnFinder(max_gap_s)

    def add(self, record: TalkRecord, flags: tuple[bool, bool] | None = None) -> None:
        """Count ``record``; ``flags`` (turn, child turn) override those found from the
        previous records (periods of a longer timeline)."""
        found = self._turns.see(record)
        turn, child_turn = found if flags is None else flags
        role, seconds = role_of(record), max(0.0, record.end - record.start)
        self.seconds[role] += seconds
        if record.voice in self.voice_seconds:
            self.voice_seconds[record.voice] += seconds
        self.utterances[role] += 1
        self.syllables[role] += record.syllables
        self.eojeol[role] += record.eojeol
        self.turns += turn
        self.child_turns += child_turn

    def summary(self) -> Summary:
        def rounded(totals: dict[str, float]) -> dict[str, float]:
            return {key: round(total, SECONDS_DECIMALS) for key, total in totals.items()}

        return Summary(
            rounded(self.seconds),
            dict(self.utterances),
            dict(self.syllables),
            dict(self.eojeol),
            self.turns,
            self.child_turns,
            rounded(self.voice_seconds),
        )


def _in_time_order(records: Iterable[TalkRecord]) -> list[TalkRecord]:
    return sorted(records, key=lambda r: (r.start, r.end))


def summarize(records: Iterable[TalkRecord], max_gap_s: float = TURN_MAX_GAP_S) -> Summary:
    """Totals per role, turns, child turns and (:attr:`Summary.mother_share`) the share."""
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
