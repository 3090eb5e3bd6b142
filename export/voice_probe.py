"""Voice-type probe checkpoint to ONNX: ``embedding`` (1, D) -> calibrated ``probs`` (1, C).

The probe (:mod:`training.voice.probe`) judges the speaker embedding of
:mod:`edge.speaker`; its file records which speaker model it expects
(``talkratio.speaker_sha256``) and that model's features (the runtime needs
``talkratio.features`` on every model file).

Example:
    talkratio-export voice runs/voicetype/probe.pt --out runs/voicetype/voice.onnx --int8
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VERSION = "2.1"  # 2.1: more Kokoro voices and noisier training views
PARITY_ATOL = 1e-5  # fp32 probabilities, torch vs onnxruntime
INT8_ATOL = 0.02  # INT8 may move probabilities this much on unit vectors
PARITY_VECTORS = 64
INT8_OPS = ("MatMul", "Gemm")
MIN_SECONDS = 0.5  # the embedding of a shorter utterance is mostly its first syllable


def is_probe(checkpoint: dict) -> bool:
    return "speaker_sha256" in checkpoint


def unit_vectors(size: int, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, size)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def parity(wrapped, path: Path, size: int, reference: Path | None = None) -> float:
    """Largest |dp| between the ONNX file and torch (or ``reference``) on random unit vectors."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    other = None
    if reference is not None:
        other = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    worst = 0.0
    for vector in unit_vectors(size, PARITY_VECTORS):
        feed = {"embedding": vector[None]}
        got = session.run(["probs"], feed)[0]
        if other is None:
            with torch.no_grad():
                want = wrapped(torch.from_numpy(vector[None])).numpy()
        else:
            want = other.run(["probs"], feed)[0]
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def metadata(checkpoint: dict, speaker_features: str) -> dict:
    return {
        "kind": "voice",
        "version": VERSION,
        "name": "talkratio-voice-embedding",
        "features": speaker_features,
        "labels": checkpoint["labels"],
        "threshold": f"{checkpoint['threshold']:.3f}",
        "min_seconds": f"{MIN_SECONDS:.2f}",
        "temperature": f"{checkpoint['temperature']:.4f}",
        "speaker_sha256": checkpoint["speaker_sha256"],
        "trained_on": checkpoint["trained_on"],
        "metrics": {
            k: checkpoint[k]
            for k in ("dev", "dev_kokoro", "test", "test_kokoro")
            if k in checkpoint
        },
    }


def export_probe(checkpoint_path: Path, out: Path, int8: bool = False) -> list[Path]:
    """Write ``out`` (fp32) [and NAME.int8.onnx]; raises ``RuntimeError`` on a parity failure."""
    import torch

    from edge.speaker import SpeakerEncoder
    from export.onnx_utils import OPSET, quantize_int8, write_metadata
    from export.voice import calibrated
    from training.voice.probe import load_probe

    model, checkpoint = load_probe(checkpoint_path)
    encoder = SpeakerEncoder()
    if encoder.info.sha256 != checkpoint["speaker_sha256"]:
        log.warning("the bundled speaker model is not the one this probe was trained on")
    wrapped = calibrated(model, float(checkpoint["temperature"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(unit_vectors(checkpoint["size"], 1))
    with warnings.catch_warnings():  # the TorchScript exporter is asked for on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapped, (example,), str(out), input_names=["embedding"], output_names=["probs"],
            opset_version=OPSET, dynamo=False,
        )  # fmt: skip
    difference = parity(wrapped, out, checkpoint["size"])
    if difference > PARITY_ATOL:
        raise RuntimeError(f"onnxruntime and torch disagree by {difference:.2e} (> {PARITY_ATOL})")
    features = encoder.info.metadata["talkratio.features"]
    write_metadata(out, metadata(checkpoint, features))
    paths = [out]
    if int8:
        int8_path = out.with_name(out.name.removesuffix(".onnx") + ".int8.onnx")
        quantize_int8(out, int8_path, op_types=INT8_OPS)
        drift = parity(wrapped, int8_path, checkpoint["size"], reference=out)
        log.info("int8 vs fp32: max |dp| = %.4f", drift)
        if drift > INT8_ATOL:
            raise RuntimeError(f"INT8 probabilities move by {drift:.3f} (> {INT8_ATOL})")
        paths.append(int8_path)
    return paths
