"""The speaker encoder: its mel front end, torch/ONNX parity, and vectors that tell people apart."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge.audio import compute_features, mel_filterbank
from edge.onnx_model import ASSETS_DIR
from edge.speaker import SpeakerEncoder, bundled_speaker_model, partial_starts
from tests.conftest import speak

TEXT_A = "오늘은 날씨가 참 좋네요. 우리 같이 공원에 가서 산책할까요?"
TEXT_B = "저녁은 뭘 먹을까? 엄마가 맛있는 김치찌개 해 줄게. 빨리 씻고 자자."
BUNDLE_LIMIT_BYTES = 30 * 1024 * 1024  # all bundled models together (issue 9)


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder()


def _slaney_mel(hz):
    """Slaney's scale written out directly (linear below 1 kHz, 27 mel per factor 6.4 above)."""
    return hz * 3 / 200 if hz < 1000 else 15 + 27 * np.log(hz / 1000) / np.log(6.4)


def _slaney_hz(mel):
    return mel * 200 / 3 if mel < 15 else 1000 * 6.4 ** ((mel - 15) / 27)


def reference_mel_power(x: np.ndarray, n_fft: int, hop: int, n_mels: int, rate: int) -> np.ndarray:
    """librosa.feature.melspectrogram's definition, one frame and one filter at a time:
    reflect-padded centred frames, periodic Hann, |DFT|^2, Slaney filters scaled 2 / bandwidth."""
    padded = np.pad(x.astype(np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    k = np.arange(n_fft // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(k, np.arange(n_fft)) / n_fft)
    edges = [_slaney_hz(m) for m in np.linspace(0, _slaney_mel(rate / 2), n_mels + 2)]
    bins_hz = k * rate / n_fft
    out = []
    for start in range(0, padded.size - n_fft + 1, hop):
        power = np.abs(dft @ (padded[start : start + n_fft] * window)) ** 2
        row = []
        for m in range(n_mels):
            lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
            tri = np.clip(
                np.minimum((bins_hz - lo) / (mid - lo), (hi - bins_hz) / (hi - mid)), 0, None
            )
            row.append((tri * 2 / (hi - lo)) @ power)
        out.append(row)
    return np.array(out)


def test_mel_front_end_matches_a_direct_reference(encoder):
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    config = encoder.info.features
    assert (config.type, config.n_mels, config.mel_scale) == ("mel", 40, "slaney")
    loud = x * 10  # already above -30 dBFS: the volume step leaves it alone
    got = compute_features(loud, config)
    want = reference_mel_power(loud, config.n_fft, config.hop_length, config.n_mels, 16000)
    assert got.shape == want.shape
    assert np.allclose(got, want, rtol=1e-3, atol=1e-4 * want.max())


def test_quiet_input_is_raised_to_the_target_volume(encoder):
    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    quiet, loud = encoder.mels(tone * 0.001), encoder.mels(tone * 0.01)
    assert np.allclose(quiet, loud, rtol=1e-3)  # both raised to -30 dBFS: same features


def test_slaney_filters_peak_at_two_over_bandwidth():
    bank = mel_filterbank(16000, 400, 40, "slaney")
    assert bank.shape == (201, 40)
    assert (bank.sum(axis=0) > 0).all()
    # the widest (top) filter has the lowest peak: area normalisation, not unit height
    assert bank[:, -1].max() < bank[:, 0].max()


def test_partials_cover_the_whole_utterance():
    assert partial_starts(100, 160) == [0]
    starts = partial_starts(500, 160)
    assert starts[0] == 0 and starts[-1] + 160 == 500
    assert all(b - a <= 80 for a, b in zip(starts, starts[1:], strict=False))


def test_same_voice_is_closer_than_another_voice(encoder, tmp_path):
    voices = ["ko+f3", "ko+m3", "ko+f1", "ko+m1"]
    first = {v: encoder.embed(speak(TEXT_A, v, tmp_path)) for v in voices}
    second = {v: encoder.embed(speak(TEXT_B, v, tmp_path)) for v in voices}
    for v in voices:
        assert np.isclose(np.linalg.norm(first[v]), 1.0, atol=1e-5)
        same = float(first[v] @ second[v])
        others = [float(first[v] @ second[w]) for w in voices if w != v]
        assert same > max(others), (v, same, others)


def test_windows_follow_the_speech_and_average_to_the_utterance(encoder, tmp_path):
    speech = speak(TEXT_B, "ko+f3", tmp_path)
    windows = encoder.embed_windows(speech, 1.0, 0.5)
    assert windows.embeddings.shape == (len(windows.starts_s), encoder.size)
    assert windows.starts_s[-1] + 1.0 <= speech.size / 16000 + 0.01
    assert float(windows.mean() @ encoder.embed(speech)) > 0.9
    assert encoder.embed_windows(speech[:8000], 1.0, 0.5).embeddings.shape[0] == 0


def test_too_short_input_matches_nobody(encoder):
    assert not encoder.embed(np.zeros(1000, np.float32)).any()


def test_bundled_model_describes_itself_and_fits_the_budget():
    path = bundled_speaker_model()
    assert path is not None
    info = SpeakerEncoder(path).info
    assert info.kind == "speaker"
    assert "Apache-2.0" in info.metadata["talkratio.license"]
    assert info.json_field("metrics")["parity"]["int8_vs_fp32"]["mean_cosine"] >= 0.99
    assert (ASSETS_DIR / "LICENSE-resemblyzer.txt").is_file()
    total = sum(p.stat().st_size for p in ASSETS_DIR.glob("*.onnx"))
    assert total <= BUNDLE_LIMIT_BYTES


def test_export_matches_torch_and_int8_keeps_the_direction(tmp_path):
    torch = pytest.importorskip("torch")
    from export.onnx_utils import read_metadata
    from export.speaker import build_encoder, export_speaker

    torch.manual_seed(0)
    fp32, int8 = export_speaker(build_encoder(), tmp_path / "speaker.onnx", int8=True)
    metrics = json.loads(read_metadata(int8)["talkratio.metrics"])["parity"]
    assert metrics["fp32_vs_torch"]["max_abs"] < 1e-4
    assert metrics["int8_vs_fp32"]["mean_cosine"] > 0.99
    assert json.loads(read_metadata(fp32)["talkratio.features"])["type"] == "mel"


def test_speaker_encoder_never_imports_torch():
    code = (
        "import sys, json, numpy as np\n"
        "from edge.speaker import SpeakerEncoder\n"
        "SpeakerEncoder().embed(np.random.default_rng(0).standard_normal(32000).astype('float32'))\n"
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] == 'torch']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
