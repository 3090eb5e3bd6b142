"""The DeepSpeech2 presets side by side: parameters and MACs, and an edge-preset ONNX to time.

Parameter and MAC counts come from the torch model of each preset (forward
hooks on its Conv2d, LSTM and Linear layers over ``COUNT_SECONDS`` of input),
so the research model (~89 M parameters) is counted without exporting it.
When no trained edge model exists, the edge preset is exported untrained with
the project's own exporter: its speed is that of a trained one, its accuracy
is meaningless and is not scored. torch is needed here and only here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge.audio import SAMPLE_RATE, frame_count

log = logging.getLogger(__name__)

COUNT_SECONDS = 4.0  # MACs grow linearly with length; 4 s keeps the research model quick
RESEARCH_PARAMETERS_M = 89.0  # the research model's published size


@dataclass(frozen=True)
class PresetSize:
    preset: str
    parameters: int
    macs_per_audio_s: float
    features: str
    vocab: str

    def to_json(self) -> dict:
        return {"preset": self.preset, "parameters_m": round(self.parameters / 1e6, 3),
                "gmacs_per_audio_s": round(self.macs_per_audio_s / 1e9, 4),
                "features": self.features, "vocab": self.vocab}


def _preset_model(preset: str):
    from training.ds2.config import PRESETS
    from training.ds2.model import DeepSpeech2, preset_config
    from training.korean import Tokenizer

    config = PRESETS[preset]
    tokenizer = Tokenizer.jamo() if config.vocab == "jamo" else Tokenizer.syllables()
    model_config = preset_config(config.model, config.feature_config.n_bins, len(tokenizer))
    return DeepSpeech2(model_config).eval(), tokenizer, config


def _torch_macs(model, n_bins: int, seconds: float) -> float:
    """MACs of one forward pass over ``seconds`` of features, from layer hooks."""
    import torch

    total = [0.0]

    def conv(module, inputs, output):
        total[0] += output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]

    def lstm(module, inputs, output):
        steps_batch = inputs[0].shape[0] * inputs[0].shape[1]
        directions = 2 if module.bidirectional else 1
        total[0] += steps_batch * directions * 4 * module.hidden_size * (module.input_size + module.hidden_size)

    def linear(module, inputs, output):
        total[0] += output.numel() * module.in_features

    hooks = {torch.nn.Conv2d: conv, torch.nn.LSTM: lstm, torch.nn.Linear: linear}
    handles = [m.register_forward_hook(hooks[type(m)]) for m in model.modules() if type(m) in hooks]
    with torch.no_grad():
        model(torch.zeros(1, frame_count(int(seconds * SAMPLE_RATE)), n_bins))
    for handle in handles:
        handle.remove()
    return total[0] / seconds


def preset_sizes(presets: tuple[str, ...] = ("research", "edge", "demo")) -> list[PresetSize]:
    """Parameters and MACs per second of audio of each preset (untrained weights suffice)."""
    from training.ds2.model import parameter_count

    sizes = []
    for preset in presets:
        model, tokenizer, config = _preset_model(preset)
        sizes.append(PresetSize(preset, parameter_count(model),
                                _torch_macs(model, config.feature_config.n_bins, COUNT_SECONDS),
                                config.features, config.vocab))
    return sizes


def export_untrained(preset: str, out_dir: Path) -> tuple[Path, Path]:
    """``(fp32, int8)`` ONNX files of ``preset`` with random weights, via ``export.ds2``."""
    import torch

    from export.ds2 import export_ds2

    model, tokenizer, config = _preset_model(preset)
    shape = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    stem = f"ds2-{preset}-{shape}-untrained"  # a changed preset is exported again
    fp32, int8 = out_dir / f"{stem}.onnx", out_dir / f"{stem}.int8.onnx"
    if fp32.exists() and int8.exists():
        return fp32, int8
    state = {"model_args": model.config.to_dict(), "tokenizer": tokenizer.to_json(),
             "features": config.feature_config.to_json(), "model": model.state_dict(),
             "trained_on": "nothing: untrained weights, for timing only", "epoch": 0, "best_cer": None}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / f"{preset}-untrained.pt"
        torch.save(state, checkpoint)
        export_ds2(checkpoint, fp32, int8, name=f"ds2-{preset}-untrained")
    return fp32, int8
