"""The child rule: ``child`` must be several times likelier than every other label, the ratio
is read from the model file, and it is chosen on dev figures within the guards."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest

from edge.voice import EmbeddingVoiceTagger, weigh_child
from export.onnx_utils import write_metadata
from tests import test_tv_rule
from training import child_rule

LABELS, probs = test_tv_rule.LABELS, test_tv_rule.probs
tagger = test_tv_rule.tagger  # the bundled embedding tagger, a module-scoped fixture


def test_child_wins_only_at_the_ratio_and_the_other_labels_keep_their_order():
    p = probs(female=0.30, male=0.05, child=0.60, other=0.05)
    assert weigh_child(LABELS, p, 1.0).argmax() == 2  # off: the model's answer
    assert weigh_child(LABELS, p, 1.9).argmax() == 2  # 0.60 >= 1.9 * 0.30
    weighed = weigh_child(LABELS, p, 2.5)  # 0.60 < 2.5 * 0.30: the mother keeps her voice
    assert weighed.argmax() == 0
    assert weighed.sum() == pytest.approx(1.0)
    assert weighed[0] > weighed[1] and weighed[3] == pytest.approx(weighed[1])
    batch = np.stack([p, probs(female=0.1, male=0.1, child=0.7, other=0.1)])
    assert list(weigh_child(LABELS, batch, 2.5).argmax(axis=1)) == [0, 2]  # a clear child stays
    assert (weigh_child(("female", "male"), p[:2], 5.0) == p[:2]).all()  # no child label


def test_the_tagger_decides_with_the_ratio_but_reports_the_models_scores(tagger):
    tagger = copy.copy(tagger)
    woman = probs(female=0.30, male=0.05, child=0.60, other=0.05)
    tagger.child_ratio = 1.0
    assert tagger.decide(woman, 240.0).voice == "child"
    tagger.child_ratio = 2.5
    result = tagger.decide(woman, 240.0)
    assert result.voice == "female"
    assert result.scores["child"] == pytest.approx(0.60)  # the model's own probabilities
    assert result.prob == pytest.approx(0.30 / (0.30 + 0.05 + 0.24 + 0.05))
    # the TV rule reads the model's p(other) (its thresholds were chosen on it): weighing
    # child down must not turn this mother (p(other) 0.25, 0.33 once weighed) into the TV
    mother = probs(female=0.32, male=0.04, child=0.39, other=0.25)
    assert tagger.other_threshold == pytest.approx(0.28)
    assert tagger.decide(mother, 240.0).voice == "female"
    tv = probs(female=0.25, child=0.43, other=0.29, male=0.03)
    assert tagger.decide(tv, 240.0).voice == "other"
    assert (
        tagger.decide(probs(female=0.05, male=0.05, child=0.85, other=0.05), 320.0).voice == "child"
    )


def test_the_ratio_comes_from_the_model_file(tagger, tmp_path):
    path = tmp_path / "voice.onnx"
    shutil.copy(tagger.info.path, path)
    assert EmbeddingVoiceTagger(path).child_ratio == 1.25  # the bundled model: chosen on dev
    write_metadata(path, {"child_ratio": "3.00"})
    changed = EmbeddingVoiceTagger(path)
    assert changed.child_ratio == 3.0
    assert (
        changed.decide(probs(female=0.3, child=0.6, male=0.05, other=0.05), 250.0).voice == "female"
    )


def figures(fm: float, called: float, cvf: float) -> dict:
    view = {"female_male_ba": fm, "women_called_child": called, "child_vs_female_ba": cvf}
    return {v: dict(view) for v in ("clean", "10dB", "5dB")}


def table_row(kokoro_fm: float, espeak_cvf: float, scenes_cvm: float, share: float) -> dict:
    return {
        "dev_kokoro": figures(kokoro_fm, 0.0, 0.9),
        "dev": figures(0.9, 0.0, espeak_cvf),
        "scenes": {"child_vs_mother_ba": scenes_cvm, "share_error_points": share},
    }


def test_the_choice_is_the_best_kokoro_figure_that_keeps_every_guard(monkeypatch):
    monkeypatch.setattr(child_rule, "GRID", (1.0, 2.0, 3.0, 4.0))
    table = {
        1.0: table_row(0.90, 0.85, 0.84, 4.0),
        2.0: table_row(0.93, 0.845, 0.84, 4.1),  # within every tolerance
        3.0: table_row(0.95, 0.80, 0.84, 4.0),  # espeak children lost: refused
        4.0: table_row(0.96, 0.85, 0.84, 5.0),  # the share worse: refused
    }
    assert child_rule.choose(table) == 2.0
    table[2.0] = table_row(0.90, 0.85, 0.84, 4.0)  # nothing gained: no rule
    assert child_rule.choose(table) == 1.0


def test_split_figures_count_women_called_child_on_unchanged_clips_only():
    y = np.array([0, 0, 1, 1, 2, 0])
    style = np.array(["original", "original", "original", "original", "child", "cds"])
    view = np.stack([probs(0.3, 0.05, 0.6, 0.05), probs(0.9, 0.05, 0.03, 0.02),
                     probs(0.1, 0.8, 0.05, 0.05), probs(0.1, 0.8, 0.05, 0.05),
                     probs(0.1, 0.05, 0.8, 0.05), probs(0.2, 0.05, 0.7, 0.05)])  # fmt: skip
    p = np.repeat(view[:, None], 3, axis=1)
    off = child_rule.split_figures(p, y, style, 1.0)["clean"]
    assert (off["female_male_ba"], off["women_called_child"]) == (0.75, 0.5)
    assert off["child_vs_female_ba"] == pytest.approx((1.0 + 1 / 3) / 2, abs=1e-4)
    on = child_rule.split_figures(p, y, style, 2.5)["5dB"]
    assert (on["female_male_ba"], on["women_called_child"]) == (1.0, 0.0)
    assert on["child_vs_female_ba"] == pytest.approx((1.0 + 2 / 3) / 2, abs=1e-4)
