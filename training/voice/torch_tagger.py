"""A training checkpoint behind the runtime's tagger surface (for evaluation before export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edge.audio import FeatureConfig
from edge.voice import ClassifierTagger
from training.voice.model import VoiceModelConfig, build_model


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The model (eval mode) and the checkpoint dict of a ``voice.pt``."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(VoiceModelConfig.from_dict(checkpoint["model_config"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint


class TorchVoiceTagger(ClassifierTagger):
    """``.tag(samples)`` with the same refusals and windows as :class:`edge.voice.VoiceTagger`."""

    info = None

    def __init__(self, checkpoint_path: str | Path, threshold: float | None = None):
        self.model, checkpoint = load_checkpoint(checkpoint_path)
        self.temperature = float(checkpoint["temperature"])
        self.labels = tuple(self.model.config.labels)
        self.threshold = float(checkpoint["threshold"]) if threshold is None else threshold
        self.min_seconds = float(checkpoint["min_seconds"])
        self.features = FeatureConfig.from_json(checkpoint["features"])
        self.uses_pitch = self.model.config.uses_pitch

    def _run(self, features: np.ndarray, pitch: np.ndarray | None) -> np.ndarray:
        with torch.no_grad():
            feats = torch.from_numpy(features)[None]
            pitch_t = None if pitch is None else torch.from_numpy(pitch)[None]
            logits = self.model(feats, pitch_t) / self.temperature
        return torch.softmax(logits, dim=1)[0].numpy()
