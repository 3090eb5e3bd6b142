"""End to end on a tiny corpus: train, calibrate, export (fp32 + INT8), tag through the runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE, save_audio
from edge.onnx_model import open_session
from edge.voice import PitchVoiceTagger, VoiceTagger, load_voice_tagger
from export.onnx_utils import read_metadata
from export.voice import export_voice
from tests.test_pitch import add_noise, synthetic_voice
from tests.test_voice import refusal_inputs
from training.voice.data import ViewOptions, read_voice_manifest
from training.voice.evaluate import evaluate, markdown_table
from training.voice.model import VoiceModelConfig
from training.voice.train import TrainOptions, train

MALE_HZ, FEMALE_HZ = (95.0, 135.0), (185.0, 245.0)


def write_corpus(folder, name: str, speakers: int, seed: int) -> str:
    """A manifest of synthetic voices, one 1.2 s utterance per speaker, genders alternating."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(speakers):
        gender = ("female", "male")[i % 2]
        f0 = rng.uniform(*(FEMALE_HZ if gender == "female" else MALE_HZ))
        wav = folder / f"{name}_{i:02d}.wav"
        save_audio(wav, synthetic_voice(f0, seconds=1.2, seed=seed * 100 + i))
        rows.append(
            {
                "audio": wav.name,
                "text": "",
                "duration_s": 1.2,
                "gender": gender,
                "age": 30,
                "speaker": f"{name}{i}",
                "env": "",
                "source": "test",
            }
        )
    manifest = folder / f"{name}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voice")
    train_m = write_corpus(folder, "train", 24, seed=1)
    dev_m = write_corpus(folder, "dev", 8, seed=2)
    checkpoint = train(
        train_m,
        dev_m,
        folder / "run",
        VoiceModelConfig(),
        TrainOptions(epochs=15, patience=15, lr=1e-2),
        ViewOptions(views=2, snr_db=(10.0, 20.0)),
        batch_size=8,
    )
    paths = export_voice(checkpoint, folder / "voice.onnx", int8=True)
    return paths[0], paths[1], dev_m


def test_export_writes_fp32_and_a_smaller_int8_with_the_metadata_contract(exported):
    fp32, int8, _ = exported
    assert int8.name == "voice.int8.onnx" and int8.stat().st_size < fp32.stat().st_size
    meta = read_metadata(int8)
    assert json.loads(meta["talkratio.labels"]) == ["female", "male"]
    assert 0.6 <= float(meta["talkratio.threshold"]) <= 0.95
    assert float(meta["talkratio.min_seconds"]) == pytest.approx(0.3)
    assert json.loads(meta["talkratio.features"])["n_mels"] == 64
    session, info = open_session(int8, expect_kind="voice")
    assert [i.name for i in session.get_inputs()] == ["features", "pitch"]
    assert info.name == "talkratio-voice-small"


def test_trained_model_tells_unseen_voices_apart(exported):
    tagger = load_voice_tagger(exported[1])
    assert isinstance(tagger, VoiceTagger) and tagger.uses_pitch
    for seed, f0 in enumerate((100.0, 120.0, 200.0, 230.0)):
        truth = "female" if f0 > 160 else "male"
        for audio in (
            synthetic_voice(f0, 2.5, seed=50 + seed),
            add_noise(synthetic_voice(f0, 2.5, seed=60 + seed), 5),
        ):
            result = tagger.tag(audio)
            assert result.voice == truth, (f0, result)
            assert result.prob >= tagger.threshold


@pytest.mark.parametrize("name", list(refusal_inputs()))
def test_trained_model_refuses_what_it_cannot_judge(exported, name):
    result = VoiceTagger(exported[1]).tag(refusal_inputs()[name])
    assert result.voice == "unknown" and result.prob == pytest.approx(0.5)


def test_long_input_is_judged_in_windows(exported):
    voice = synthetic_voice(110.0, seconds=2.0)
    long = np.tile(voice, int(20 * SAMPLE_RATE / voice.size) + 1)  # over 20 s
    assert VoiceTagger(exported[1]).tag(long).voice == "male"


def test_evaluation_reports_model_and_pitch_baseline_in_every_condition(exported):
    labels = ("female", "male")
    entries = read_voice_manifest(exported[2], labels)
    taggers = {"model": VoiceTagger(exported[1]), "pitch": PitchVoiceTagger()}
    results = evaluate(entries, taggers, labels)
    assert list(results) == ["clean", "10dB", "5dB"]
    for condition in results.values():
        for r in condition.values():
            assert r["n"] == 8 and set(r["per_class"]) == set(labels)
            assert r["accuracy"] >= 0.75 and 0.0 <= r["ece"] <= 0.5
    assert "| clean | model |" in markdown_table(results, labels)
