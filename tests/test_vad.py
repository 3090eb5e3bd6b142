"""The neural VAD streams: its state and context carry across blocks, and the bundled model
says what it is."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE
from edge.vad import BUNDLED_VAD, NeuralVad
from tests.conftest import speak

REPO_ROOT = Path(__file__).resolve().parent.parent

# the Silero wheel itself is not in the repository: `pip download --no-deps silero-vad==6.2.3
# -d data/wheels` (or TALKRATIO_SILERO_WHEEL=path) lets the rebuild be checked against it
SILERO_WHEEL = Path(os.environ.get("TALKRATIO_SILERO_WHEEL",
                                   REPO_ROOT / "data/wheels/silero_vad-6.2.3-py3-none-any.whl"))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    clip = speak("오늘 저녁에, 우리 같이 밥 먹자", "ko+f3", tmp_path_factory.mktemp("vad"))
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    audio = np.concatenate([pause, clip, pause, clip, pause])
    return audio + np.random.default_rng(0).normal(0, 0.003, audio.size).astype(np.float32)


def probabilities(audio, block):
    vad = NeuralVad()
    return np.concatenate([vad.feed(audio[i : i + block]) for i in range(0, audio.size, block)])


def test_the_same_probabilities_for_any_block_size(speech):
    whole = probabilities(speech, speech.size)
    assert whole.size == speech.size // 512
    for block in (37, 511, 512, 1600, 4000):
        assert np.array_equal(probabilities(speech, block), whole)
    assert whole.max() > 0.9 and whole[:10].max() < 0.2  # speech found, leading pause not


def test_the_state_carries_what_a_window_alone_cannot_know(speech):
    streamed = probabilities(speech, 1600)
    vad = NeuralVad()
    alone = []
    for i in range(0, speech.size - 511, 512):
        vad.reset()
        alone.append(vad.window_probability(speech[i : i + 512]))
    assert np.abs(np.array(alone) - streamed).max() > 0.3


def test_the_bundled_model_describes_itself():
    info = NeuralVad().info
    assert info.kind == "vad" and info.name == "silero-vad"
    features = info.json_field("features")
    assert (features["sample_rate"], features["window_samples"], features["context_samples"]) == (
        16000, 512, 64)
    assert "MIT" in info.metadata["talkratio.license"]
    assert "MIT License" in (BUNDLED_VAD.parent / "LICENSE-silero-vad.txt").read_text()


def test_export_reproduces_the_bundled_model_from_the_wheel(tmp_path):
    pytest.importorskip("onnx")
    from export.onnx_utils import read_metadata
    from export.vad import LICENSE_SUFFIX, MODEL_MEMBER, export_vad

    wheel = tmp_path / "silero_vad-6.2.3-py3-none-any.whl"  # the wheel's layout, our model inside
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(BUNDLED_VAD, MODEL_MEMBER)
        archive.writestr("silero_vad-6.2.3" + LICENSE_SUFFIX, "MIT License\n")
    out = tmp_path / "assets" / "vad.onnx"
    export_vad(wheel, out, {"frame_recall_5db": 0.95})
    made, bundled = read_metadata(out), read_metadata(BUNDLED_VAD)
    assert made["talkratio.features"] == bundled["talkratio.features"]
    assert made["talkratio.kind"] == "vad"
    assert (tmp_path / "assets" / "LICENSE-silero-vad.txt").read_text() == "MIT License\n"
    session_out = NeuralVad(out)
    x = np.random.default_rng(1).normal(0, 0.1, 512 * 4).astype(np.float32)
    assert np.array_equal(session_out.feed(x), NeuralVad().feed(x))


def test_one_call_over_many_windows_is_one_window_at_a_time(speech):
    many = NeuralVad()
    one = NeuralVad()
    windows = speech[: speech.size // 512 * 512].reshape(-1, 512)
    together = many.probabilities(windows)
    apart = np.array([one.window_probability(w) for w in windows])
    assert np.array_equal(together, apart)
    assert np.array_equal(many._state, one._state)  # the next call starts from the same state


@pytest.mark.skipif(not SILERO_WHEEL.is_file(), reason="the silero-vad wheel is not downloaded")
def test_the_rebuilt_graph_judges_as_the_wheel_graph_does(speech, tmp_path):
    onnx = pytest.importorskip("onnx")
    from export.onnx_utils import write_metadata
    from export.vad import FEATURES, MODEL_MEMBER, export_vad, vad_metadata

    out = tmp_path / "vad.onnx"
    export_vad(SILERO_WHEEL, out, {})
    as_shipped = tmp_path / "wheel.onnx"  # the wheel's own graph, one window per call
    with zipfile.ZipFile(SILERO_WHEEL) as archive:
        as_shipped.write_bytes(archive.read(MODEL_MEMBER))
    one_at_a_time = {k: v for k, v in FEATURES.items() if k != "windows_per_call"}
    write_metadata(as_shipped, {**vad_metadata({}), "features": one_at_a_time})
    rebuilt, wheel = NeuralVad(out), NeuralVad(as_shipped)
    assert np.abs(rebuilt.feed(speech) - wheel.feed(speech)).max() < 1e-5
    graph = onnx.load(str(out)).graph.SerializeToString()
    assert graph == onnx.load(str(BUNDLED_VAD)).graph.SerializeToString()
