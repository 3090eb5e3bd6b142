"""DS2 model shapes and ONNX export: parity with torch, dynamic time, INT8, metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edge.audio import LOGMEL, SPECTROGRAM
from export.ds2 import PARITY_TOLERANCE, check_quantized, export_ds2, op_counts
from export.onnx_utils import read_metadata
from training.ds2.model import DeepSpeech2, parameter_count, preset_config
from training.korean import Tokenizer

DESIGN_KEYS = ("kind", "version", "name", "features", "vocab", "trained_on", "metrics")


def test_research_preset_is_the_89m_research_model():
    vocab = len(Tokenizer.syllables())  # 2,350 KS X 1001 syllables + blank, space, unk
    with torch.device("meta"):  # count parameters without allocating 89 M floats
        model = DeepSpeech2(preset_config("research", SPECTROGRAM.n_bins, vocab))
    assert 88e6 <= parameter_count(model) <= 90e6
    assert len(model.rnns) == 5 and model.rnns[0].hidden_size == 1024


@pytest.mark.parametrize("n_frames", [1, 7, 100, 437])
def test_output_length_follows_the_time_stride(n_frames):
    model = DeepSpeech2(preset_config("tiny", LOGMEL.n_bins, 20)).eval()
    with torch.no_grad():
        log_probs, _ = model(torch.randn(1, n_frames, LOGMEL.n_bins))
    assert log_probs.shape == (1, int(model.output_lengths(torch.tensor(n_frames))), 20)
    assert model.config.time_stride == 4
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(1, log_probs.shape[1]), atol=1e-5)


def test_padding_in_a_batch_does_not_change_an_utterance():
    model = DeepSpeech2(preset_config("tiny", LOGMEL.n_bins, 20)).eval()
    short, long = torch.randn(1, 101, LOGMEL.n_bins), torch.randn(1, 160, LOGMEL.n_bins)
    batch = torch.zeros(2, 160, LOGMEL.n_bins)
    batch[0, :101], batch[1] = short[0], long[0]
    with torch.no_grad():
        alone, _ = model(short)
        batched, lengths = model(batch, torch.tensor([101, 160]))
    assert int(lengths[0]) == alone.shape[1]
    assert torch.allclose(batched[0, : alone.shape[1]], alone[0], atol=1e-5)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A randomly initialised tiny model exported fp32 + INT8."""
    folder = tmp_path_factory.mktemp("export")
    tokenizer = Tokenizer.jamo(["밥 먹자"])
    torch.manual_seed(0)
    model = DeepSpeech2(preset_config("tiny", LOGMEL.n_bins, len(tokenizer))).eval()
    checkpoint = folder / "tiny.pt"
    torch.save({"model_args": model.config.to_dict(), "model": model.state_dict(),
                "tokenizer": tokenizer.to_json(), "features": LOGMEL.to_json(),
                "trained_on": "nothing (test)"}, checkpoint)
    report = export_ds2(checkpoint, folder / "tiny.onnx", folder / "tiny.int8.onnx")
    return model, tokenizer, report


def test_fp32_onnx_matches_torch(exported):
    _, _, report = exported
    assert report.parity_max_abs <= PARITY_TOLERANCE


def test_onnx_time_axis_is_dynamic(exported):
    from edge.onnx_model import open_session

    model, tokenizer, report = exported
    session, _ = open_session(report.fp32, expect_kind="stt")
    for n_frames in (37, 512):
        features = np.random.default_rng(n_frames).standard_normal((1, n_frames, LOGMEL.n_bins))
        (out,) = session.run(None, {"features": features.astype(np.float32)})
        assert out.shape == (1, int(model.output_lengths(torch.tensor(n_frames))), len(tokenizer))


def test_int8_quantizes_lstm_and_linear_and_is_small(exported):
    _, _, report = exported
    ops = check_quantized(report.int8)
    assert "LSTM" not in ops and ops["DynamicQuantizeLSTM"] == 2
    assert "LSTM" in op_counts(report.fp32)
    assert report.int8_size_ratio <= 0.30


def test_metadata_has_every_design_key(exported):
    _, tokenizer, report = exported
    for path in (report.fp32, report.int8):
        meta = read_metadata(path)
        assert all(f"talkratio.{key}" in meta for key in DESIGN_KEYS)
        assert meta["talkratio.kind"] == "stt"
        assert json.loads(meta["talkratio.vocab"]) == tokenizer.tokens
        assert json.loads(meta["talkratio.features"])["type"] == "logmel"
        assert json.loads(meta["talkratio.metrics"])["parity_max_abs"] == report.parity_max_abs
