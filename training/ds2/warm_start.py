"""Warm start: a trainable DeepSpeech2 rebuilt from an exported fp32 ONNX file.

The bundled model's training checkpoint is not shipped, but its fp32 twin
(``benchmarks/models/stt.fp32.onnx``) holds the same weights, with each
BatchNorm folded into its convolution by the exporter. Rebuilding:

- conv, LSTM, LayerNorm and linear weights come back from the initializers
  (ONNX LSTM gates ``i o f c`` are reordered to torch's ``i f g o``; ONNX's one
  bias per direction is split into torch's two, the recurrent one zero-sum);
- each BatchNorm gets running statistics measured on training audio and an
  affine part that undoes them, so in eval mode the network computes exactly
  what the file does, and in train mode (batch statistics) nearly that.

Example::

    model, tokenizer, features = model_from_onnx("benchmarks/models/stt.fp32.onnx", entries)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from edge.audio import FeatureConfig, compute_features, load_audio
from training.ds2.model import DeepSpeech2, preset_config
from training.korean import Tokenizer

log = logging.getLogger(__name__)

ONNX_TO_TORCH_GATES = (0, 2, 3, 1)  # ONNX i, o, f, c blocks -> torch i, f, g(c), o
CALIBRATION_UTTERANCES = 40  # training utterances whose conv outputs set BatchNorm statistics


def _onnx_parts(path: Path) -> tuple[dict[str, np.ndarray], list, dict[str, str]]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return weights, list(model.graph.node), {p.key: p.value for p in model.metadata_props}


def _lstm_gates(array: np.ndarray) -> np.ndarray:
    """``(4H, ...)`` ONNX gate blocks in torch's order."""
    blocks = np.split(array, 4, axis=0)
    return np.concatenate([blocks[i] for i in ONNX_TO_TORCH_GATES], axis=0)


def _state_dict(weights: dict[str, np.ndarray], nodes: list, model: DeepSpeech2) -> dict:
    """The torch state of ``model`` from the ONNX initializers (BatchNorm left as identity)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    convs = [n for n in nodes if n.op_type == "Conv"]
    lstms = [n for n in nodes if n.op_type == "LSTM"]
    matmul = next(n for n in nodes if n.op_type == "MatMul" and n.input[1] in weights)
    for i, node in enumerate(convs):
        state[f"front.blocks.{i}.0.weight"] = torch.from_numpy(weights[node.input[1]].copy())
        state[f"front.blocks.{i}.1.bias"] = torch.from_numpy(weights[node.input[2]].copy())
    for i, node in enumerate(lstms):
        w, r, b = (weights[name] for name in node.input[1:4])
        for d, suffix in enumerate(("", "_reverse")):
            hidden4 = w.shape[1]
            state[f"rnns.{i}.weight_ih_l0{suffix}"] = torch.from_numpy(_lstm_gates(w[d]))
            state[f"rnns.{i}.weight_hh_l0{suffix}"] = torch.from_numpy(_lstm_gates(r[d]))
            state[f"rnns.{i}.bias_ih_l0{suffix}"] = torch.from_numpy(_lstm_gates(b[d][:hidden4]))
            state[f"rnns.{i}.bias_hh_l0{suffix}"] = torch.from_numpy(_lstm_gates(b[d][hidden4:]))
    state["classifier.weight"] = torch.from_numpy(weights[matmul.input[1]].T.copy())
    for name in ("norm.weight", "norm.bias", "classifier.bias"):
        state[name] = torch.from_numpy(weights[f"inner.{name}"].copy())
    return state


def _identity_batchnorms(model: DeepSpeech2) -> list[torch.nn.BatchNorm2d]:
    """BatchNorms set to pass their input through in eval mode (the ONNX conv bias kept)."""
    norms = [block[1] for block in model.front.blocks]
    with torch.no_grad():
        for bn in norms:
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
    return norms


@torch.no_grad()
def _calibrate(model: DeepSpeech2, audio: Sequence[np.ndarray], features: FeatureConfig) -> None:
    """Give each BatchNorm the statistics of its input on ``audio``, its output unchanged."""
    norms = _identity_batchnorms(model.eval())
    seen: list[list[torch.Tensor]] = [[] for _ in norms]
    hooks = [
        block[0].register_forward_hook(lambda _m, _i, out, k=k: seen[k].append(out))
        for k, block in enumerate(model.front.blocks)
    ]
    for samples in audio:
        model(torch.from_numpy(compute_features(samples, features))[None])
    for hook in hooks:
        hook.remove()
    for bn, outputs in zip(norms, seen, strict=True):
        flat = torch.cat([o.transpose(0, 1).reshape(o.shape[1], -1) for o in outputs], dim=1)
        mean, var = flat.mean(dim=1), flat.var(dim=1)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.bias.add_(mean)  # y = (z - mean) / sd * sd + bias + mean = z + bias
        bn.weight.copy_(torch.sqrt(var + bn.eps))


def model_from_onnx(
    path: str | Path, calibration_audio: Sequence[str | Path], dropout: float = 0.0
) -> tuple[DeepSpeech2, Tokenizer, FeatureConfig]:
    """The network of an exported DS2 fp32 ONNX file as a torch model, with its vocabulary."""
    weights, nodes, meta = _onnx_parts(Path(path))
    features = FeatureConfig.from_json(meta["talkratio.features"])
    tokens = json.loads(meta["talkratio.vocab"])
    kind = (
        "jamo" if any(0x1100 <= ord(t[0]) <= 0x11FF for t in tokens if len(t) == 1) else "syllable"
    )
    n_layers = sum(n.op_type == "LSTM" for n in nodes)
    hidden = next(weights[n.input[2]].shape[2] for n in nodes if n.op_type == "LSTM")
    preset = next(
        name
        for name in ("tiny", "demo", "edge", "research")
        if _shape_matches(name, features.n_bins, len(tokens), n_layers, hidden)
    )
    model = DeepSpeech2(preset_config(preset, features.n_bins, len(tokens), dropout))
    model.load_state_dict(_state_dict(weights, nodes, model))
    audio = [load_audio(p) for p in list(calibration_audio)[:CALIBRATION_UTTERANCES]]
    _calibrate(model, audio, features)
    log.info("warm start from %s: %s preset, %d tokens", path, preset, len(tokens))
    return model, Tokenizer(tokens, kind), features


def _shape_matches(preset: str, n_bins: int, vocab: int, layers: int, hidden: int) -> bool:
    config = preset_config(preset, n_bins, vocab)
    return config.rnn_layers == layers and config.rnn_hidden == hidden
