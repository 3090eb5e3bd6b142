"""Statistics exactly as DESIGN.md defines them: seconds, shares and turns that add up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.recognition import PARENT_OF_VOICE
from edge.stats import TalkSpan, by_period, summarize

SEOUL = timezone(timedelta(hours=9))


def span(start, end, voice, syllables=0, eojeol=0, speaker="by voice"):
    """A record as the runtime makes it; without a household an adult voice is its parent."""
    who = PARENT_OF_VOICE.get(voice) if speaker == "by voice" else speaker
    return TalkSpan(start, end, voice, syllables, eojeol, who)


def test_seconds_utterances_and_counts_add_up_per_role():
    records = [
        span(0, 2, "female", 5, 2),
        span(3, 4.5, "male", 3, 1),
        span(5, 6, "child", 2, 1),
        span(7, 7.5, "unknown"),
        span(8, 10, "female", 4, 2),
    ]
    s = summarize(records)
    assert s.seconds == {"mother": 4.0, "father": 1.5, "child": 1.0, "other": 0.0, "unknown": 0.5}
    assert s.utterances == {"mother": 2, "father": 1, "child": 1, "other": 0, "unknown": 1}
    assert s.syllables["mother"] == 9 and s.eojeol["mother"] == 4
    assert s.to_json()["female_s"] == 4.0 and s.to_json()["male_s"] == 1.5
    assert s.mother_share == pytest.approx(4.0 / 5.5)
    assert s.to_json()["mother_share"] == round(4.0 / 5.5, 3)


def test_with_a_household_only_the_matched_parents_count_in_the_share():
    records = [
        span(0, 2, "female", speaker="mother"),
        span(3, 6, "female", speaker=None),  # a guest, or a TV voice tagged female
        span(7, 8, "male", speaker="father"),
        span(9, 12, "other", speaker=None),  # the TV
    ]
    s = summarize(records)
    assert s.seconds["mother"] == 2.0 and s.seconds["father"] == 1.0
    assert s.seconds["other"] == 6.0
    assert s.voice_seconds == {"female": 5.0, "male": 1.0}
    assert s.mother_share == pytest.approx(2.0 / 3.0)


def test_child_turns_count_adult_child_exchanges_within_five_seconds():
    records = [
        span(0, 1, "female"),
        span(2, 3, "child"),  # answers the mother: 1
        span(4, 5, "other", speaker=None),  # the TV does not break the exchange
        span(6.5, 7, "male"),  # answers the child: 2 (5.5 s after the mother: no parent turn)
        span(8, 9, "female"),  # adult after adult: no child turn (but a parent turn)
        span(20, 21, "child"),  # 11 s later: no turn
        span(22, 23, "child"),  # child after child: no turn
        span(24, 25, "female", speaker=None),  # a guest adult answering the child: 3
    ]
    s = summarize(records)
    assert s.child_turns == 3
    assert s.turns == 1
    assert s.to_json()["child_turns"] == 3


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
    assert sum(p.summary.seconds["mother"] for p in periods) == total.seconds["mother"]
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
