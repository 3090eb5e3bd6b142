"""Fixtures made by the project: tiny fake ONNX models that honour the model contract,
and a small household scene of Korean speech (espeak-ng) with its ground truth.

Pipeline tests never depend on trained weights: the fake STT model always says
"가 나" (2 syllables, 2 eojeol) and the fake voice model always says female at
0.9, so any count in a test can be predicted from the number of utterances.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio import LOGMEL, SAMPLE_RATE, SPECTROGRAM, load_audio
from edge.recognition import PARENT_OF_VOICE
from edge.stats import TalkSpan
from training.scenes import TRUTH_TRIM_DB
from training.synth import speech_bounds

FAKE_VOCAB = ["<blank>", " ", "가", "나"]
FAKE_STT_IDS = [2, 0, 1, 3, 0]  # greedy CTC: "가 나"
FAKE_TEXT = "가 나"
FAKE_VOICE_PROBS = [0.9, 0.1]  # female, male
SCENE_VOICES = {"female": "ko+f3", "male": "ko"}  # espeak-ng: F0 about 215 Hz and 105 Hz
SCENE_LINES = [
    ("female", "오늘 저녁에 뭐 먹을까요", 0.8),
    ("male", "김치찌개 어때요", 1.2),
    ("female", "좋아요 두부도 넣을게요", 0.6),
    ("male", "아이는 벌써 잠들었어요", 7.0),  # the pause before it is > 5 s: not a turn
    ("female", "그래요 조용히 해요", 1.5),
    ("female", "내일 아침에 일찍 일어나야 해요", 0.9),
    ("male", "알겠어요 알람 맞출게요", 2.0),
    ("female", "고마워요", 1.0),
]
SCENE_LEAD_S = 1.0
SCENE_NOISE_RMS = 0.003  # a quiet room


def _fake_model(path: Path, kind: str, output: np.ndarray, out_name: str, features, extra: dict):
    """A graph whose output is a constant (plus 0 x the input, so the input is used)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    const = numpy_helper.from_array(output.astype(np.float32), "const")
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    nodes = [
        helper.make_node("ReduceSum", ["features"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["const", "nothing"], [out_name]),
    ]
    graph = helper.make_graph(
        nodes,
        f"fake_{kind}",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, "T", features.n_bins])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(output.shape))],
        initializer=[const, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {
        "kind": kind,
        "version": "test-1",
        "name": f"fake-{kind}",
        "features": features.to_json(),
        "trained_on": "nothing",
        "metrics": "{}",
        **extra,
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"talkratio.{key}", value
    onnx.save(model, str(path))
    return path


@dataclass(frozen=True)
class FakeModels:
    stt: Path
    voice: Path


@pytest.fixture(autouse=True)
def private_data_home(tmp_path, monkeypatch):
    """Commands without ``--db`` use a fresh user data folder, never this machine's own
    store (its household or a newer schema would change what a test sees)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture(scope="session")
def fake_models(tmp_path_factory) -> FakeModels:
    folder = tmp_path_factory.mktemp("models")
    log_probs = np.full((1, len(FAKE_STT_IDS), len(FAKE_VOCAB)), -20.0, np.float32)
    log_probs[0, np.arange(len(FAKE_STT_IDS)), FAKE_STT_IDS] = 0.0
    stt = _fake_model(
        folder / "stt.onnx",
        "stt",
        log_probs,
        "log_probs",
        SPECTROGRAM,
        {"vocab": json.dumps(FAKE_VOCAB, ensure_ascii=False)},
    )
    voice = _fake_model(
        folder / "voice.onnx",
        "voice",
        np.array([FAKE_VOICE_PROBS]),
        "probs",
        LOGMEL,
        {"labels": '["female", "male"]', "threshold": "0.7", "min_seconds": "0.3"},
    )
    return FakeModels(stt, voice)


@pytest.fixture(scope="session")
def recognizers(fake_models):
    """Fake STT ("가 나") and the pitch voice tagger (real female/male decisions)."""
    from edge.recognition import Recognizers
    from edge.stt import SpeechRecognizer
    from edge.voice import PitchVoiceTagger

    return Recognizers(voice=PitchVoiceTagger(), stt=SpeechRecognizer(fake_models.stt))


# --------------------------------------------------------------------------- speech


def speak(text: str, voice: str, folder: Path) -> np.ndarray:
    """Korean speech from espeak-ng at 16 kHz, leading/trailing silence trimmed."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    path = folder / f"say_{abs(hash((text, voice)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    samples = load_audio(path)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1]


@dataclass(frozen=True)
class Scene:
    path: Path
    truth: tuple[TalkSpan, ...]
    duration_s: float


def build_scene(folder: Path, lines=SCENE_LINES, noise_rms: float = SCENE_NOISE_RMS) -> Scene:
    """Utterances placed on a timeline with known gaps; the truth is where each one is."""
    rng = np.random.default_rng(7)
    pieces, truth, t = [np.zeros(int(SCENE_LEAD_S * SAMPLE_RATE), np.float32)], [], SCENE_LEAD_S
    for voice, text, gap_after_s in lines:
        clip = speak(text, SCENE_VOICES[voice], folder)
        # the voice's own span, as training.scenes defines it (not the hum ko+f3 ends with)
        low, high = (i / SAMPLE_RATE for i in speech_bounds(clip, TRUTH_TRIM_DB))
        truth.append(TalkSpan(t + low, t + high, voice, speaker=PARENT_OF_VOICE[voice]))
        pieces += [clip, np.zeros(int(gap_after_s * SAMPLE_RATE), np.float32)]
        t += clip.size / SAMPLE_RATE + int(gap_after_s * SAMPLE_RATE) / SAMPLE_RATE
    audio = np.concatenate(pieces)
    audio = audio + rng.normal(0, noise_rms, audio.size).astype(np.float32)
    path = folder / "scene.wav"
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return Scene(path, tuple(truth), audio.size / SAMPLE_RATE)


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> Scene:
    return build_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "data" / "talkratio.db"
