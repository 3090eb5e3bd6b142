"""Household scenes: the recording and its ground truth agree, and the bundled sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio import SAMPLE_RATE, load_audio
from edge.hangul import count_syllables
from training import noise, scenes, synth

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
SAMPLES = Path(__file__).resolve().parents[1] / "edge" / "assets" / "samples"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenes")
    options = scenes.SceneOptions(minutes=0.5, snr_db=20.0, child=True, tv=False, seed=11)
    wav = scenes.write_scenes(out, options)[0]
    return load_audio(wav), json.loads(wav.with_suffix(".json").read_text())


def spans(truth: dict, role: str | None = None) -> list[dict]:
    return [s for s in truth["segments"] if role in (None, s["role"])]


@needs_espeak
def test_truth_segments_are_ordered_speech_without_overlap(scene):
    audio, truth = scene
    assert audio.size == pytest.approx(30 * SAMPLE_RATE, abs=1)
    segments = spans(truth)
    assert {s["role"] for s in segments} == {"mother", "father", "child"}
    for a, b in zip(segments, segments[1:], strict=False):
        gap = b["start"] - a["end"]
        assert 0.3 - 1e-3 <= gap <= scenes.LONG_GAP_S[1] + 1e-3
    for s in segments:
        assert s["syllables"] == count_syllables(s["text"]) > 0
        assert s["voice"] == scenes.ROLES[s["role"]]


@needs_espeak
def test_segments_mark_where_the_speech_is(scene):
    audio, truth = scene
    mask = scenes.speech_mask([scenes.Segment(**s) for s in spans(truth)], audio.size)
    speech_db = 10 * np.log10(noise.power(audio[mask]))
    pause_db = 10 * np.log10(noise.power(audio[~mask]))
    # pauses hold only the noise, 20 dB under the speech (speech+noise: ~20.04 dB)
    assert speech_db - pause_db == pytest.approx(20.0, abs=2.0)
    window = SAMPLE_RATE // 10
    for s in spans(truth):
        start, end = int(s["start"] * SAMPLE_RATE), int(s["end"] * SAMPLE_RATE)
        assert 10 * np.log10(noise.power(audio[start:end])) > pause_db + 10
        # no speech leaks out: the 100 ms around a segment sound like a pause
        before = audio[max(0, start - window) : start]
        after = audio[end : end + window]
        for outside in (before, after):
            if outside.size:
                assert 10 * np.log10(noise.power(outside)) < pause_db + 3


@needs_espeak
def test_summary_adds_up_from_the_segments(scene):
    _, truth = scene
    summary = truth["summary"]
    female = sum(s["end"] - s["start"] for s in spans(truth, "mother"))
    male = sum(s["end"] - s["start"] for s in spans(truth, "father"))
    assert summary["female_s"] == pytest.approx(female, abs=0.01)
    assert summary["male_s"] == pytest.approx(male, abs=0.01)
    assert summary["mother_share"] == pytest.approx(female / (female + male), abs=0.001)
    assert summary["utterances"]["child"] == len(spans(truth, "child"))
    adults = [s for s in spans(truth) if s["voice"] in ("female", "male")]
    turns = sum(
        a["voice"] != b["voice"] and b["start"] - a["end"] <= 5.0
        for a, b in zip(adults, adults[1:], strict=False)
    )
    assert summary["turns"] == turns > 0


@needs_espeak
def test_child_sounds_higher_than_mother_higher_than_father(scene):
    audio, truth = scene
    f0 = {}
    for role in ("mother", "father", "child"):
        parts = [
            audio[int(s["start"] * SAMPLE_RATE) : int(s["end"] * SAMPLE_RATE)]
            for s in spans(truth, role)
        ]
        f0[role] = synth.median_f0(np.concatenate(parts))
    assert f0["father"] < 160 < f0["mother"] < f0["child"]
    cast = {c["variant"] for c in truth["cast"].values()}
    assert cast <= synth.SCENE_VARIANTS  # voices the corpus never trains on


@needs_espeak
def test_tv_is_marked_and_kept_out_of_the_family_summary(tmp_path):
    options = scenes.SceneOptions(minutes=0.25, child=False, tv=True, seed=4)
    audio, truth = scenes.make_scene(options, 0)
    tv = spans(truth, "tv")
    assert tv and truth["tv_s"] == pytest.approx(sum(s["end"] - s["start"] for s in tv), abs=0.01)
    summary = truth["summary"]
    family = len(spans(truth)) - len(tv)
    assert sum(summary["utterances"].values()) == family
    assert summary["child_s"] == 0
    again, _ = scenes.make_scene(options, 0)
    assert np.array_equal(audio, again)  # same seed, same scene


def test_bundled_sample_is_a_small_household_recording():
    wav, truth_path = SAMPLES / "household.wav", SAMPLES / "household.json"
    info = sf.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    assert 80 <= info.duration <= 100 and wav.stat().st_size < 3_000_000
    truth = json.loads(truth_path.read_text())
    assert truth["duration_s"] == pytest.approx(info.duration, abs=0.01)
    assert {s["role"] for s in truth["segments"]} == {"mother", "father", "child"}
    assert truth["segments"][-1]["end"] <= info.duration
    assert 0.2 < truth["summary"]["mother_share"] < 0.8 and truth["summary"]["turns"] > 3
