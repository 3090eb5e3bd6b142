"""Choosing child_min: the household's bar for a voice the voice model called child."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from training import child_match


def figures(share: float, child: float) -> dict:
    return {"mean_share_error_points": share, "child_seconds_to_a_parent": child}


def test_the_lowest_share_error_wins_among_bars_that_keep_the_children_out():
    table = {
        math.inf: figures(4.75, 0.120),
        1.8: figures(3.80, 0.145),  # best share, but gives the mother 2.5 % of the children
        2.3: figures(4.20, 0.120),
        2.8: figures(4.40, 0.120),
    }
    assert child_match.choose(table) == 2.3
    table[1.8] = figures(3.80, 0.125)  # within MAX_CHILD_GAIN of never
    assert child_match.choose(table) == 1.8


def test_never_is_chosen_when_every_bar_costs_the_children():
    table = {math.inf: figures(4.0, 0.1), 1.8: figures(3.0, 0.2), 2.3: figures(3.5, 0.15)}
    assert child_match.choose(table) == math.inf


def test_figures_count_each_role_by_its_seconds():
    rows = [
        SimpleNamespace(scene=0, role="mother", seconds=6.0),
        SimpleNamespace(scene=0, role="mother", seconds=2.0),
        SimpleNamespace(scene=0, role="father", seconds=4.0),
        SimpleNamespace(scene=0, role="child", seconds=3.0),
        SimpleNamespace(scene=0, role="tv", seconds=5.0),
    ]
    got = child_match.figures(rows, ["mother", None, "father", "mother", None])
    # truth: mother 8 of 12 s; given: her 6 s and the child's 3 s, 9 of 13 s
    assert np.isclose(got["mean_share_error_points"], 100 * abs(9 / 13 - 8 / 12), atol=0.01)
    assert np.isclose(got["mean_parent_seconds_error"], (1 / 8 + 0) / 2, atol=1e-4)
    assert got["child_seconds_to_a_parent"] == 1.0
    assert got["tv_seconds_to_a_parent"] == 0.0


def test_the_bar_is_written_into_the_cohort_file_and_nothing_else_changes(tmp_path):
    from edge.cohort import BUNDLED_COHORT

    path = tmp_path / "cohort.npz"
    path.write_bytes(BUNDLED_COHORT.read_bytes())
    child_match.write_child_min(path, 2.55)
    with np.load(BUNDLED_COHORT) as before, np.load(path) as after:
        assert float(after["child_min"]) == 2.55
        for key in before.files:
            if key != "child_min":
                assert np.array_equal(before[key], after[key])
