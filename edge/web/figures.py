"""The dashboard's figures, from the same store reads and statistics as ``talkratio stats``.

A day is a local calendar day ``[00:00, 24:00)``; a week is the seven days
ending on the chosen day, compared with the seven before. Each total is
``summarize`` over exactly the utterances ``talkratio stats --since A --until B``
would read, so the page and the command line cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from edge.stats import ROLES, by_period, summarize
from edge.store import Store

WEEK_DAYS = 7
# The configured labels default to English words; the pages are Korean.
KOREAN_DEFAULTS = {
    "mother": "엄마",
    "father": "아빠",
    "child": "아이",
    "other": "기타 소리",
    "unknown": "알 수 없음",
}


def korean_labels(configured: dict[str, str]) -> dict[str, str]:
    """The word shown for each role: the configured one, or Korean for an untouched default."""
    labels = {}
    for role in ROLES:
        word = configured.get(role, "")
        labels[role] = KOREAN_DEFAULTS[role] if word in ("", role) else word
    return labels


def day_bounds(day: date) -> tuple[float, float]:
    """Unix seconds of local midnight at the start and the end of ``day``."""
    start = datetime.combine(day, time()).astimezone()
    end = datetime.combine(day + timedelta(days=1), time()).astimezone()
    return start.timestamp(), end.timestamp()


def records(store: Store, since: float, until: float) -> list:
    """Utterances that began in ``[since, until)`` on the wall clock, as ``stats`` reads them."""
    return [u.on_wall_clock() for u in store.utterances(since, until)]


@dataclass(frozen=True)
class DayFigures:
    day: date
    total: dict  # Summary.to_json(): what `talkratio stats --json` prints as "total"
    hours: dict[int, dict]  # local hour -> Summary.to_json() of that hour (busy hours only)


def day_figures(store: Store, day: date) -> DayFigures:
    since, until = day_bounds(day)
    talk = records(store, since, until)
    hours = {p.start.hour: p.summary.to_json() for p in by_period(talk, "hour")}
    return DayFigures(day, summarize(talk).to_json(), hours)


@dataclass(frozen=True)
class WeekFigures:
    first: date
    last: date
    days: list[tuple[date, dict]]  # every day of the week, empty ones included
    total: dict
    previous: dict  # the seven days before ``first``


def week_figures(store: Store, last: date) -> WeekFigures:
    first = last - timedelta(days=WEEK_DAYS - 1)
    before = first - timedelta(days=WEEK_DAYS)
    since, until = day_bounds(first)[0], day_bounds(last)[1]
    talk = records(store, since, until)
    by_day = {p.start.date(): p.summary.to_json() for p in by_period(talk, "day")}
    empty = summarize([]).to_json()
    days = [(d, by_day.get(d, empty)) for d in (first + timedelta(n) for n in range(WEEK_DAYS))]
    previous = summarize(records(store, day_bounds(before)[0], since)).to_json()
    return WeekFigures(first, last, days, summarize(talk).to_json(), previous)


def utterance_count(summary: dict) -> int:
    return sum(summary["utterances"].values())
