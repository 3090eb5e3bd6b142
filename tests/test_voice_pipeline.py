"""The whole-pipeline scene evaluation (benchmarks.voice_pipeline) credits what was recorded."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import voice_pipeline as vp
from edge.audio import SAMPLE_RATE
from edge.stats import TalkSpan

TRUTH = [vp.Span("mother", 1.0, 3.0), vp.Span("child", 3.1, 4.0), vp.Span("father", 6.0, 8.0),
         vp.Span("tv", 9.0, 10.0)]  # fmt: skip


def test_a_reply_merged_into_the_mothers_record_is_counted_as_hers():
    merged = [TalkSpan(1.0, 4.0, "female", speaker="mother"), TalkSpan(6.0, 8.0, "male", speaker="father")]
    figures = vp.scene_figures(TRUTH, merged)
    assert figures["where"]["child"]["mother"] == pytest.approx(0.9)
    assert figures["where"]["child"][vp.SHARED] == pytest.approx(0.9)  # merged with the mother
    assert vp.SHARED not in figures["where"]["father"]
    assert figures["child_seconds_error"] == pytest.approx(1.0)  # none of the child's seconds
    assert figures["mother_seconds_error"] == pytest.approx(0.5)  # 3 s recorded for 2 s
    assert figures["where"]["tv"][vp.MISSED] == pytest.approx(1.0)
    assert figures["child_turns"] == [2, 0]


def test_a_record_cut_where_the_truth_changes_gets_every_figure_right():
    cut = [TalkSpan(1.0, 3.0, "female", speaker="mother"), TalkSpan(3.1, 4.0, "child"),
           TalkSpan(6.0, 8.0, "male", speaker="father"), TalkSpan(9.0, 10.0, "other")]  # fmt: skip
    figures = vp.scene_figures(TRUTH, cut)
    assert figures["share_error_points"] == pytest.approx(0.0)
    assert figures["child_seconds_error"] == pytest.approx(0.0)
    assert figures["tv_to_parent"] == 0.0
    assert figures["child_turns"] == [2, 2]


def test_the_tv_credited_to_a_parent_is_its_share_of_tv_seconds():
    records = [TalkSpan(9.5, 10.0, "female", speaker="mother")]
    assert vp.scene_figures(TRUTH, records)["tv_to_parent"] == pytest.approx(0.5)
    merged = [TalkSpan(7.0, 10.0, "male", speaker="father")]  # the TV inside the father's record
    figures = vp.scene_figures(TRUTH, merged)
    assert figures["tv_to_parent"] == pytest.approx(1.0)
    assert vp._totals([figures])["tv_seconds_to_a_parent"] == pytest.approx(1.0)


def test_the_recording_holds_quick_replies_and_the_truth_is_where_the_voices_are():
    rng = np.random.default_rng(0)
    tone = np.sin(np.arange(SAMPLE_RATE) * 0.1).astype(np.float32) * 0.5
    speech = [np.concatenate([np.zeros(1600, np.float32), tone]) for _ in range(40)]
    samples, spans = vp.recording(speech, ["mother"] * 40, lambda n: np.zeros(n, np.float32), rng)
    gaps = np.array([b.start - a.end for a, b in zip(spans, spans[1:], strict=False)])
    assert (gaps < 0.25).any() and (gaps > 0.3).any()  # some replies no VAD could cut apart
    assert spans[0].start == pytest.approx(vp.LEAD_S + 0.1, abs=0.011)  # the voice, not its silence
    assert all(s.seconds == pytest.approx(1.0, abs=0.011) for s in spans)
    assert samples.size / SAMPLE_RATE > spans[-1].end
