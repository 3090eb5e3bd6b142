"""ds2-eval: a noisy condition scored under every kind of the bank's noise."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import typer

from training.ds2 import evaluate as ev
from training.ds2.data import Entry
from training.noise import NoiseBank, NoiseClip


def test_every_kind_scores_each_noise_kind_alone_and_reports_their_mean(monkeypatch):
    """A recogniser that is right in quiet and under hum, wrong under water: each kind's
    figure is its own (the bank handed over holds that kind only), the condition's is the
    mean, and the clean condition is scored once as before."""
    entries = [Entry(Path(f"{i}.wav"), text, 1.0) for i, text in enumerate(["엄마 밥", "아빠 물"])]
    clip = np.zeros(1600, np.float32)
    bank = NoiseBank([NoiseClip("hum", clip, "h1"), NoiseClip("water", clip, "w1"),
                      NoiseClip("water", clip, "w2")])
    banks_seen = []

    def fake_transcribe(scorer, entries, snr_db, bank, beam_width=1, seed=0, fusion=None):
        kinds = {c.kind for c in bank.clips} if snr_db is not None else {"quiet"}
        banks_seen.append(kinds)
        wrong = "water" in kinds
        return ["" if wrong else e.text for e in entries]

    monkeypatch.setattr(ev, "transcribe", fake_transcribe)
    scorer = SimpleNamespace(name="fake")
    results = ev.evaluate(scorer, entries, [10.0], bank, every_kind=True)
    assert results["clean"]["cer"] == 0.0
    by_kind = results["snr_10"]["by_kind"]
    assert by_kind["hum"]["cer"] == 0.0 and by_kind["water"]["cer"] == 1.0
    assert results["snr_10"]["cer"] == 0.5
    assert banks_seen == [{"quiet"}, {"hum"}, {"water"}]
    # without it, one call with the whole bank, as before
    banks_seen.clear()
    plain = ev.evaluate(scorer, entries, [10.0], bank)
    assert "by_kind" not in plain["snr_10"] and banks_seen == [{"quiet"}, {"hum", "water"}]


def test_every_kind_without_a_noise_bank_is_refused(tmp_path, capsys):
    """Generated noise has no kinds: the option would silently score one draw instead."""
    with pytest.raises(typer.Exit) as exit_info:
        ev.cli(tmp_path / "model.onnx", tmp_path / "test.jsonl", snr=[10.0], every_kind=True)
    assert exit_info.value.exit_code == 2
    assert "--noise" in capsys.readouterr().err
