"""Voice checkpoint to ONNX: ``probs`` with the temperature folded in, metadata, parity, INT8.

The graph takes ``features`` ``(1, T, F)`` (utterance-normalised, from
:func:`edge.audio.compute_features` with the config stored in the metadata)
and, for models that use pitch, ``pitch`` ``(1, K)`` from
:func:`edge.pitch.pitch_features`; it returns calibrated ``probs`` ``(1, C)``.

Example:
    talkratio-export voice runs/voice/voice.pt --out runs/voice/voice.onnx --int8
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import typer

from export.onnx_utils import OPSET

log = logging.getLogger(__name__)

PARITY_SECONDS = (0.3, 2.0, 7.5, 15.0)  # utterance lengths checked torch vs onnxruntime
PARITY_ATOL = 1e-4  # fp32 probabilities
INT8_ATOL = 0.05  # INT8 probabilities may move this much from fp32 on random input
VERSION = "1.0"
# fully connected layers only: ConvInteger ran this CNN 7x slower than fp32 Conv (34 vs 5 ms
# per 10 s of audio), and the conv weights are 23 k of the 89 k parameters
INT8_OPS = ("MatMul", "Gemm")


def calibrated(model, temperature: float):
    """``model`` followed by softmax(logits / temperature): the exported graph of every voice
    model (the CNN's ``features[, pitch]`` and the probe's ``embedding`` alike)."""
    import torch

    class CalibratedVoice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.register_buffer("inverse_temperature", torch.tensor(1.0 / temperature))

        def forward(self, *inputs):
            return torch.softmax(self.model(*inputs) * self.inverse_temperature, dim=1)

    return CalibratedVoice().eval()


def example_inputs(model, frames: int, seed: int = 0) -> tuple:
    """Random ``features`` ``(1, frames, F)`` [and ``pitch`` ``(1, K)``] as torch tensors."""
    import torch

    from edge.pitch import N_PITCH_FEATURES

    generator = torch.Generator().manual_seed(seed)
    n_bins = model.config.features().n_bins
    features = torch.randn(1, frames, n_bins, generator=generator)
    if not model.config.uses_pitch:
        return (features,)
    pitch = torch.randn(1, N_PITCH_FEATURES, generator=generator) * 0.5
    pitch[:, -1] = 1.0
    return features, pitch


def frames_for(model, seconds: float) -> int:
    from edge.audio import SAMPLE_RATE, frame_count
    from training.voice.model import RESEARCH_FRAMES

    if model.config.preset == "research":
        return RESEARCH_FRAMES
    return frame_count(int(seconds * SAMPLE_RATE), model.config.features().hop_length)


def to_onnx(wrapped, model, path: Path) -> None:
    import torch

    names = ["features", "pitch"] if model.config.uses_pitch else ["features"]
    dynamic = None if model.config.preset == "research" else {"features": {1: "frames"}}
    with warnings.catch_warnings():  # the TorchScript exporter is asked for on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # research: fixed window
        torch.onnx.export(
            wrapped,
            example_inputs(model, frames_for(model, 3.0)),
            str(path),
            input_names=names,
            output_names=["probs"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )


def max_difference(wrapped, model, onnx_path: Path, reference: Path | None = None) -> float:
    """Largest |p_torch - p_onnx| (or vs ``reference`` ONNX) over ``PARITY_SECONDS``."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    other = (
        None
        if reference is None
        else ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    )
    worst = 0.0
    for i, seconds in enumerate(PARITY_SECONDS):
        inputs = example_inputs(model, frames_for(model, seconds), seed=i)
        feeds = {name: t.numpy() for name, t in zip(("features", "pitch"), inputs, strict=False)}
        got = session.run(["probs"], feeds)[0]
        if other is None:
            with torch.no_grad():
                want = wrapped(*inputs).numpy()
        else:
            want = other.run(["probs"], feeds)[0]
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def metadata(checkpoint: dict, model, metrics: dict) -> dict:
    config = model.config
    return {
        "kind": "voice",
        "version": VERSION,
        "name": f"talkratio-voice-{config.preset}",
        "features": checkpoint["features"],
        "labels": list(config.labels),
        "threshold": f"{checkpoint['threshold']:.3f}",
        "min_seconds": f"{checkpoint['min_seconds']:.2f}",
        "temperature": f"{checkpoint['temperature']:.4f}",
        "trained_on": checkpoint["trained_on"],
        "metrics": metrics,
    }


def export_voice(
    checkpoint_path: Path,
    out: Path,
    int8: bool = False,
    test: Path | None = None,
    noise: Path | None = None,
) -> list[Path]:
    """Write ``out`` (fp32) [and ``out`` with ``.int8.onnx``]; returns the paths written.

    Raises ``RuntimeError`` when onnxruntime disagrees with torch.
    """
    from export.onnx_utils import quantize_int8, write_metadata
    from training.voice.torch_tagger import load_checkpoint

    model, checkpoint = load_checkpoint(checkpoint_path)
    wrapped = calibrated(model, float(checkpoint["temperature"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    to_onnx(wrapped, model, out)
    difference = max_difference(wrapped, model, out)
    if difference > PARITY_ATOL:
        raise RuntimeError(f"onnxruntime and torch disagree by {difference:.2e} (> {PARITY_ATOL})")
    log.info("fp32 parity: max |dp| = %.2e", difference)
    metrics = {"dev": checkpoint.get("dev", {})}
    write_metadata(out, metadata(checkpoint, model, metrics))
    paths = [out]
    if int8:
        int8_path = out.with_name(out.name.removesuffix(".onnx") + ".int8.onnx")
        quantize_int8(out, int8_path, op_types=INT8_OPS)
        drift = max_difference(wrapped, model, int8_path, reference=out)
        log.info("int8 vs fp32: max |dp| = %.3f", drift)
        if drift > INT8_ATOL:
            log.warning("INT8 probabilities move by %.3f on random input", drift)
        paths.append(int8_path)
    if test is not None:
        metrics["test"] = held_out_metrics(paths[-1], test, noise)
        for path in paths:
            write_metadata(path, {"metrics": metrics})
    return paths


def held_out_metrics(model_path: Path, test: Path, noise: Path | None) -> dict:
    """Figures of the exported file on a test manifest: ``{condition: report}``."""
    from edge.voice import VoiceTagger
    from training.noise import NoiseBank
    from training.voice.data import read_voice_manifest
    from training.voice.evaluate import evaluate

    tagger = VoiceTagger(model_path)
    entries = read_voice_manifest(test, tagger.labels)
    bank = NoiseBank.from_dir(noise) if noise else None
    results = evaluate(entries, {"model": tagger}, tagger.labels, bank)
    keep = ("accuracy", "balanced_accuracy", "ece", "coverage")
    return {c: {k: round(r["model"][k], 4) for k in keep} for c, r in results.items()}


def _export_any(checkpoint: Path, out: Path, int8: bool, test: Path | None, noise: Path | None):
    """A voice-type probe (embedding input) or a log-mel classifier, by what the checkpoint holds."""
    import torch

    from export.voice_probe import export_probe, is_probe

    if is_probe(torch.load(checkpoint, weights_only=False)):
        return export_probe(checkpoint, out, int8)
    return export_voice(checkpoint, out, int8, test, noise)


def cli(
    checkpoint: Path = typer.Argument(
        ..., help="voice.pt (talkratio-train voice) or probe.pt (talkratio-train voice-probe)"
    ),
    out: Path = typer.Option(..., help="fp32 ONNX path; --int8 writes NAME.int8.onnx beside it"),
    int8: bool = typer.Option(False, "--int8", help="also write the INT8 model"),
    test: Path = typer.Option(None, help="test manifest: held-out figures into the metadata"),
    noise: Path = typer.Option(None, help="noise bank folder for the noisy test figures"),
) -> None:
    """Export a voice checkpoint to ONNX with talkratio metadata.

    Example: talkratio-export voice runs/voice/voice.pt --out runs/voice/voice.onnx --int8
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not checkpoint.is_file():
        typer.echo(f"error: checkpoint {checkpoint} does not exist", err=True)
        raise typer.Exit(2)
    for path in _export_any(checkpoint, out, int8, test, noise):
        typer.echo(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
