"""The learned voice classifier: presets, crops, calibration, metrics (no training here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge.audio import LOGMEL, SAMPLE_RATE, compute_features, frame_count
from edge.voice import VoiceResult
from tests.test_pitch import synthetic_voice
from training.voice.data import (
    CropOptions,
    View,
    batches,
    normalise_crop,
    raw_features,
)
from training.voice.evaluate import Judgement, expected_calibration_error, report
from training.voice.model import VoiceModelConfig, build_model, parameter_count
from training.voice.train import choose_threshold, fit_temperature, softmax, warp_mel


def test_research_preset_is_the_research_cnn():
    model = build_model(VoiceModelConfig(preset="research"))
    first_linear = next(m for m in model.head if isinstance(m, torch.nn.Linear))
    assert first_linear.in_features == 37888 and first_linear.out_features == 128
    # convs 160 + 4640 + 18496, Linear(37888 -> 128) 4849792, Linear(128 -> 2) 258
    assert parameter_count(model) == 4_873_346


def test_small_preset_is_small_and_takes_any_length():
    model = build_model(VoiceModelConfig()).eval()
    assert parameter_count(model) < 150_000
    for seconds in (0.3, 4.0, 15.0):
        frames = frame_count(int(seconds * SAMPLE_RATE))
        logits = model(torch.randn(1, frames, LOGMEL.n_mels), torch.zeros(1, 4))
        assert logits.shape == (1, 2) and torch.isfinite(logits).all()


def test_labels_come_from_configuration():
    config = VoiceModelConfig(labels=("female", "male", "child"))
    assert build_model(config)(torch.randn(2, 100, 64), torch.zeros(2, 4)).shape == (2, 3)
    assert VoiceModelConfig.from_dict(config.to_dict()) == config


def test_spectral_branch_alone_cannot_be_certain():
    """The spectrum's logits are bounded, so a clear pitch always outweighs them."""
    model = build_model(VoiceModelConfig()).eval()
    with torch.no_grad():
        for p in model.spectral.parameters():
            p.mul_(1000.0)
        logits = model.spectral_logits(torch.randn(4, 200, 64))
    assert logits.abs().max() <= 1.5
    assert torch.softmax(logits, dim=1).max() <= 0.953


def test_torch_crop_normalisation_matches_the_runtime_front_end():
    x = synthetic_voice(150.0, seconds=1.0)
    raw = compute_features(x, raw_features(LOGMEL))
    ours = normalise_crop(torch.from_numpy(raw)[None])[0].numpy()
    np.testing.assert_allclose(ours, compute_features(x, LOGMEL), atol=1e-4)


def test_batches_crop_views_to_a_common_length_with_pitch_of_the_crop():
    rng = np.random.default_rng(0)
    views = []
    for i in range(10):
        frames = int(rng.integers(60, 400))
        f0 = np.where(np.arange(frames) % 50 < 40, 110.0 if i % 2 else 220.0, 0.0).astype(
            np.float32
        )
        views.append([View(rng.standard_normal((frames, 64)).astype(np.float16), f0, i % 2)])
    out = batches(views, CropOptions(batch_size=4), rng)
    assert sum(len(labels) for _, _, labels in out) == 10
    for feats, pitch, labels in out:
        assert feats.shape[0] == pitch.shape[0] == labels.shape[0] and feats.shape[2] == 64
        female = labels == 0
        assert torch.all(pitch[female, 0] > 0.4) and torch.all(pitch[~female, 0] < -0.4)


def test_mel_warp_moves_energy_along_frequency_only():
    feats = torch.zeros(1, 5, 64)
    feats[..., 32] = 1.0
    warped = warp_mel(feats, np.random.default_rng(1), 0.1)
    assert warped.shape == feats.shape
    assert torch.allclose(warped.sum(-1), warped[..., 0:1].new_ones(1, 5), atol=0.15)
    assert 28 <= int(warped[0, 0].argmax()) <= 36


def test_temperature_scaling_recovers_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 2))
    labels = np.array([rng.choice(2, p=p) for p in softmax(true_logits)])
    temperature = fit_temperature(3.0 * true_logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.15)


def test_threshold_is_the_lowest_that_keeps_errors_rare():
    confident = np.tile([[0.97, 0.03]], (200, 1))
    unsure = np.tile([[0.62, 0.38]], (20, 1))
    probs = np.concatenate([confident, unsure])
    labels = np.concatenate([np.zeros(200, int), np.arange(20) % 2])  # half the unsure ones wrong
    assert choose_threshold(probs, labels) == pytest.approx(0.625)
    assert choose_threshold(confident, np.zeros(200, int)) == pytest.approx(0.6)


def test_calibration_error_tells_honest_from_overconfident():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20000)
    honest = rng.random(confidence.size) < confidence
    assert expected_calibration_error(confidence, honest) < 0.02
    assert expected_calibration_error(np.full(1000, 0.99), rng.random(1000) < 0.7) > 0.25


def test_report_counts_unknown_as_an_error_and_balances_classes():
    def judged(truth, voice, p):
        return Judgement(truth, VoiceResult(voice, p, {"female": p, "male": 1 - p}))

    judgements = [judged("female", "female", 0.9)] * 8 + [judged("male", "unknown", 0.45)] * 2
    r = report(judgements, ("female", "male"))
    assert r["accuracy"] == pytest.approx(0.8)
    assert r["per_class"]["male"]["recall"] == 0.0 and r["per_class"]["female"]["f1"] == 1.0
    assert r["balanced_accuracy"] == pytest.approx(0.5)
    assert r["coverage"] == pytest.approx(0.8)
