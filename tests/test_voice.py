"""Voice tagging at runtime: the pitch tagger alone, refusals, and the model loader."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import edge.voice
from edge.audio import LOGMEL, SAMPLE_RATE, load_audio
from edge.onnx_model import ModelError
from edge.voice import PitchVoiceTagger, VoiceResult, load_voice_tagger
from tests.test_pitch import add_noise, synthetic_voice

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def espeak(tmp_path, variant: str, pitch: int, text: str = "오늘 저녁은 뭐 먹을까요") -> np.ndarray:
    """Korean speech from espeak-ng, 16 kHz float32."""
    wav = tmp_path / f"{variant}_{pitch}.wav"
    subprocess.run(
        ["espeak-ng", "-v", f"ko+{variant}", "-p", str(pitch), "-w", str(wav), text], check=True
    )
    return load_audio(wav)


@pytest.mark.parametrize(
    ("f0_hz", "voice"), [(95.0, "male"), (125.0, "male"), (200.0, "female"), (235.0, "female")]
)
def test_pitch_tagger_tells_adult_registers_apart(f0_hz, voice):
    result = PitchVoiceTagger().tag(synthetic_voice(f0_hz, seconds=1.5))
    assert result.voice == voice and result.prob > 0.9
    assert result.f0_hz == pytest.approx(f0_hz, rel=0.05)
    assert sum(result.scores.values()) == pytest.approx(1.0)


@needs_espeak
def test_pitch_tagger_on_espeak_korean(tmp_path):
    tagger = PitchVoiceTagger()
    assert tagger.tag(espeak(tmp_path, "m3", 40)).voice == "male"
    assert tagger.tag(espeak(tmp_path, "f3", 60)).voice == "female"


def test_pitch_tagger_keeps_its_answer_in_5db_noise():
    tagger = PitchVoiceTagger()
    assert tagger.tag(add_noise(synthetic_voice(110.0), 5.0)).voice == "male"
    assert tagger.tag(add_noise(synthetic_voice(215.0), 5.0)).voice == "female"


def test_the_overlap_of_the_ranges_is_unknown():
    result = PitchVoiceTagger().tag(synthetic_voice(160.0))
    assert result.voice == "unknown" and result.prob < 0.7


def refusal_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    speech = synthetic_voice(110.0)
    return {
        "too short": synthetic_voice(110.0, seconds=0.2),
        "silence": np.zeros(2 * SAMPLE_RATE, np.float32),
        "white noise": (0.1 * rng.standard_normal(t.size)).astype(np.float32),
        "hum": (0.2 * np.sin(2 * np.pi * 100 * t)).astype(np.float32),
        "clipped": np.clip(speech * 40, -1, 1),
    }


@pytest.mark.parametrize("name", list(refusal_inputs()))
def test_pitch_tagger_refuses_what_it_cannot_judge(name):
    result = PitchVoiceTagger().tag(refusal_inputs()[name])
    assert result == VoiceResult("unknown", 0.5, {"female": 0.5, "male": 0.5}, result.f0_hz)


def test_loader_falls_back_to_pitch_only_when_nothing_is_bundled(tmp_path, monkeypatch):
    monkeypatch.setattr(edge.voice, "bundled_model", lambda kind: tmp_path / "none.onnx")
    tagger = load_voice_tagger()
    assert isinstance(tagger, PitchVoiceTagger) and tagger.info is None
    with pytest.raises(ModelError, match="does not exist"):
        load_voice_tagger(tmp_path / "missing.onnx")


def test_runtime_voice_modules_never_import_torch():
    code = "import sys, edge.voice, edge.pitch; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("kind", ["hum", "fan", "vacuum", "rumble"])
def test_household_noise_alone_is_unknown(kind):
    from training.noise import home_noise

    for seed in range(3):
        noise = 0.3 * home_noise(3 * SAMPLE_RATE, np.random.default_rng(seed), kind)
        result = PitchVoiceTagger().tag(noise)
        assert result.voice == "unknown" and result.prob == 0.5, (kind, seed, result)


def test_a_whine_above_adult_voices_is_not_a_woman():
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    whine = 0.2 * np.sin(2 * np.pi * 430 * t * (1 + 0.02 * np.sin(2 * np.pi * 3 * t)))
    assert PitchVoiceTagger().tag(whine.astype(np.float32)).voice == "unknown"


class FixedClassifier(edge.voice.ClassifierTagger):
    """A stand-in model that always gives the same probabilities."""

    def __init__(self, labels, probs, threshold=0.7):
        self.labels, self.probs, self.threshold = tuple(labels), np.asarray(probs), threshold
        self.min_seconds, self.features, self.uses_pitch = 0.3, LOGMEL, True

    def _run(self, features, pitch):
        assert features.ndim == 2 and pitch.shape == (4,)
        return self.probs


def test_a_child_label_lets_a_model_judge_voices_above_the_adult_range():
    high_voice = synthetic_voice(380.0)
    adults = FixedClassifier(("female", "male"), [0.9, 0.1])
    assert adults.tag(high_voice).voice == "unknown"
    family = FixedClassifier(("female", "male", "child"), [0.1, 0.05, 0.85])
    assert family.tag(high_voice).voice == "child"


def test_below_the_threshold_the_answer_is_unknown_with_the_best_probability():
    result = FixedClassifier(("female", "male"), [0.62, 0.38]).tag(synthetic_voice(200.0))
    assert result.voice == "unknown" and result.prob == pytest.approx(0.62)
    assert (
        FixedClassifier(("female", "male"), [0.62, 0.38], 0.6).tag(synthetic_voice(200.0)).voice
        == "female"
    )


def test_a_known_pitch_track_gives_the_same_answer_without_tracking_again():
    from edge.pitch import track_pitch

    voice = synthetic_voice(210.0)
    tagger = PitchVoiceTagger()
    assert tagger.tag(voice, track_pitch(voice)) == tagger.tag(voice)


def test_bundled_model_is_small_self_describing_and_right_on_espeak(tmp_path):
    tagger = load_voice_tagger()
    assert isinstance(tagger, edge.voice.EmbeddingVoiceTagger)
    assert tagger.info.path.stat().st_size < 1_000_000
    assert tagger.labels == ("female", "male", "child", "other")
    assert 0.25 < tagger.threshold < 1.0 and tagger.min_seconds == pytest.approx(0.5)
    assert tagger.speaker_sha256 == tagger.encoder.info.sha256  # trained on the bundled encoder
    assert tagger.info.json_field("metrics")["test"]["clean"]["balanced_accuracy"] >= 0.8
    if shutil.which("espeak-ng"):
        assert tagger.tag(espeak(tmp_path, "m3", 40)).voice == "male"
        assert tagger.tag(espeak(tmp_path, "f3", 60)).voice == "female"
    for name, samples in refusal_inputs().items():
        assert tagger.tag(samples).voice == "unknown", name
