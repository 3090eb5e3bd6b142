"""The honest STT test: unseen sentences, held-out voices, fresh noise."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE
from training import honest, kokoro, synth
from training.sentences import load_bank

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def test_test_sentences_are_in_no_training_text():
    test = [honest.sentence_key(s) for s in honest.load_natural()]
    train = {honest.sentence_key(s) for s in load_bank()}
    train |= {honest.sentence_key(s) for s in honest.load_natural(honest.NATURAL_TRAIN_FILE)}
    assert len(test) == len(set(test)) >= 90
    assert not set(test) & train


@needs_espeak
def test_kokoro_can_speak_every_natural_sentence():
    text = "\n".join(honest.load_natural() + honest.load_natural(honest.NATURAL_TRAIN_FILE))
    for clause in kokoro.espeak_ipa(text):
        for word in clause.split():
            kokoro.map_word(word)


@needs_espeak
def test_held_out_voices_were_never_training_voices():
    options = honest.HonestOptions(speakers_per_gender=3)
    espeak_test = honest.held_out_speakers("espeak", options)
    assert {s.variant for s in espeak_test} <= synth.SCENE_VARIANTS
    training_variants = set(synth.variants_for("female") + synth.variants_for("male"))
    assert not training_variants & {s.variant for s in espeak_test}
    kokoro_test = honest.held_out_speakers("kokoro", options)
    assert all(kokoro.HELD_OUT_VOICE in dict(s.blend) for s in kokoro_test)
    assert {s.gender for s in espeak_test + kokoro_test} == {"female", "male"}


def band_share(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum() / spectrum.sum())


def test_test_noise_kinds_sound_like_what_they_are_named():
    rng = np.random.default_rng(0)
    n = 2 * SAMPLE_RATE
    water, dishes, music = (honest.TEST_NOISE[k](n, rng) for k in ("water", "dishes", "music"))
    assert band_share(water, 1000, 8000) > 0.5  # a hiss, not a hum
    assert np.percentile(np.abs(dishes), 99.9) > 8 * np.median(np.abs(dishes))  # clinks
    assert band_share(music, 200, 1200) > 0.6  # tones in the tune's range
    for x in (water, dishes, music):
        assert x.shape == (n,) and np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=0.01)


@needs_espeak
def test_honest_test_writes_manifests_and_noise(tmp_path, monkeypatch):
    monkeypatch.setitem(honest.TEST_NOISE, "kokoro_tv", honest.music)  # no Kokoro run here
    options = honest.HonestOptions(speakers_per_gender=1, sentences=3, engines=("espeak",))
    summary = honest.make_honest_test(tmp_path, options)
    assert summary["espeak"]["utterances"] == 3
    rows = [json.loads(line) for line in (tmp_path / "espeak.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == [
        "윤서야 양말 어디 벗어 놨어",
        "아까 그거 누가 먹었어",
        "한 입만 더 먹자",
    ]
    assert all(r["held_out"] and r["gender"] in ("female", "male") for r in rows)
    kinds = [
        json.loads(x)["kind"] for x in (tmp_path / "noise/noise.jsonl").read_text().splitlines()
    ]
    assert set(kinds) == set(honest.TEST_NOISE_KINDS)


def test_cli_refuses_an_unknown_engine_in_one_sentence(tmp_path):
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command()(honest.cli)
    result = CliRunner().invoke(app, ["--out", str(tmp_path), "--engine", "festival"])
    assert result.exit_code == 2
    assert "--engine must be espeak or kokoro" in result.output
    assert not (tmp_path / "noise").exists()  # nothing made
