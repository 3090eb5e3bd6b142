"""Statistics exactly as DESIGN.md defines them: seconds, shares and turns that add up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.stats import TalkSpan, by_period, summarize

SEOUL = timezone(timedelta(hours=9))


def span(start, end, voice, syllables=0, eojeol=0):
    return TalkSpan(start, end, voice, syllables, eojeol)


def test_seconds_utterances_and_counts_add_up_per_voice():
    records = [
        span(0, 2, "female", 5, 2),
        span(3, 4.5, "male", 3, 1),
        span(5, 6, "child", 2, 1),
        span(7, 7.5, "unknown"),
        span(8, 10, "female", 4, 2),
    ]
    s = summarize(records)
    assert s.seconds == {"female": 4.0, "male": 1.5, "child": 1.0, "unknown": 0.5}
    assert s.utterances == {"female": 2, "male": 1, "child": 1, "unknown": 1}
    assert s.syllables["female"] == 9 and s.eojeol["female"] == 4
    assert s.mother_share == pytest.approx(4.0 / 5.5)
    assert s.to_json()["mother_share"] == round(4.0 / 5.5, 3)


def test_mother_share_is_null_without_adult_speech():
    s = summarize([span(0, 3, "child"), span(4, 5, "unknown")])
    assert s.mother_share is None
    assert s.to_json()["mother_share"] is None
    assert summarize([]).to_json()["turns"] == 0


def test_turns_need_the_other_adult_within_five_seconds():
    records = [
        span(0, 1, "female"),
        span(2, 3, "male"),  # turn (gap 1 s)
        span(4, 5, "male"),  # same voice: no turn
        span(10, 11, "female"),  # gap exactly 5 s: a turn
        span(16.5, 17, "male"),  # gap 5.5 s: no turn
    ]
    assert summarize(records).turns == 2


def test_child_and_unknown_neither_make_nor_break_a_turn():
    records = [
        span(0, 1, "female"),
        span(1.5, 2, "child"),
        span(2.5, 3, "unknown"),
        span(4, 5, "male"),
        span(5.5, 6, "child"),
    ]
    assert summarize(records).turns == 1


def test_order_of_the_records_does_not_matter():
    records = [span(0, 1, "female"), span(2, 3, "male"), span(4, 5, "female")]
    assert summarize(records[::-1]) == summarize(records)


def test_hours_are_local_time_and_add_up_to_the_total():
    evening = datetime(2026, 11, 24, 18, 59, 50, tzinfo=SEOUL).timestamp()
    records = [
        span(evening, evening + 8, "female"),  # 18:59:50, in the 18:00 hour
        span(evening + 11, evening + 14, "male"),  # 19:00:01, a reply: turn in 19:00
        span(evening + 3610, evening + 3612, "female"),
    ]
    periods = by_period(records, "hour", tz=SEOUL)
    assert [p.start.hour for p in periods] == [18, 19, 20]
    assert periods[0].start.utcoffset() == timedelta(hours=9)
    assert [p.summary.turns for p in periods] == [0, 1, 0]
    total = summarize(records)
    assert sum(p.summary.seconds["female"] for p in periods) == total.seconds["female"]
    assert sum(p.summary.turns for p in periods) == total.turns


def test_days_group_by_local_midnight():
    before = datetime(2026, 11, 24, 23, 30, tzinfo=SEOUL).timestamp()
    records = [span(before, before + 1, "female"), span(before + 3600, before + 3601, "male")]
    days = by_period(records, "day", tz=SEOUL)
    assert [p.start.day for p in days] == [24, 25]
    assert days[1].to_json()["start"].startswith("2026-11-25T00:00:00+09:00")


def test_unknown_period_is_refused():
    with pytest.raises(ValueError, match="period"):
        by_period([span(0, 1, "female")], "week")


def test_a_running_tally_agrees_with_summarize():
    from edge.stats import Tally

    records = [
        span(0, 1, "female", 2, 1),
        span(2, 3, "male", 3, 2),
        span(3.5, 4, "child"),
        span(5, 6, "female"),
        span(20, 21, "male"),
    ]
    tally = Tally()
    for record in records:
        tally.add(record)
    assert tally.summary() == summarize(records)
    assert tally.summary().turns == 2
