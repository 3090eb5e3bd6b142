"""DS2 checkpoint -> ONNX fp32 (+ INT8) with talkratio metadata and parity checks.

``talkratio-export ds2 runs/ds2/best.pt --out ds2.onnx --int8 --eval dev.jsonl``
writes ``ds2.onnx`` and ``ds2.int8.onnx`` side by side. The graph takes
``features`` ``(1, T, F)`` with a dynamic ``T`` and returns ``log_probs``
``(1, T_out, V)``. fp32 must match torch within ``PARITY_TOLERANCE`` on the
same features; the INT8 file must have its LSTM and linear layers quantized.
With ``--eval`` both files are scored and the figures go into
``talkratio.metrics``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from export.onnx_utils import OPSET

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4  # max abs difference of fp32 ONNX vs torch log-probs
PARITY_FRAMES = 437  # ~4.4 s of 10 ms frames; odd, so strided sizes are exercised
MODEL_VERSION = "0.1.0"
QUANTIZED_LSTM = "DynamicQuantizeLSTM"
QUANTIZED_MATMULS = ("MatMulInteger", "DynamicQuantizeMatMul")


class ExportError(RuntimeError):
    """An export that fails a check (parity, quantization)."""


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote and measured."""

    fp32: str
    int8: str | None
    parameters: int
    parity_max_abs: float
    fp32_bytes: int
    int8_bytes: int | None = None
    int8_size_ratio: float | None = None
    int8_ops: dict[str, int] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def _export_graph(model, n_bins: int, path: Path) -> None:
    import torch

    class LogProbs(torch.nn.Module):  # the runtime contract: features -> log_probs, batch of one
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, features):
            return self.inner(features)[0]

    example = torch.zeros(1, PARITY_FRAMES, n_bins)
    torch.onnx.export(
        LogProbs(model).eval(), (example,), str(path), input_names=["features"],
        output_names=["log_probs"], opset_version=OPSET, dynamo=False,
        dynamic_axes={"features": {1: "frames"}, "log_probs": {1: "out_frames"}},
    )


def parity_max_abs(model, path: Path, n_bins: int, seed: int = 0) -> float:
    """Max abs difference of ONNX fp32 vs torch log-probs on random unit-variance features."""
    import torch

    from edge.onnx_model import open_session

    features = np.random.default_rng(seed).standard_normal((1, PARITY_FRAMES, n_bins)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(features))[0].numpy()
    session, _ = open_session(path, expect_kind="stt")
    (got,) = session.run(None, {"features": features})
    if got.shape != expected.shape:
        raise ExportError(f"ONNX output {got.shape} differs from torch {expected.shape}")
    return float(np.abs(got - expected).max())


def op_counts(path: Path) -> dict[str, int]:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def check_quantized(path: Path) -> dict[str, int]:
    """Op counts of an INT8 graph; raises unless every LSTM and the linear layer are integer."""
    ops = op_counts(path)
    if ops.get("LSTM", 0) or not ops.get(QUANTIZED_LSTM, 0):
        raise ExportError(f"{path}: LSTM layers are not quantized ({ops})")
    if not any(ops.get(op, 0) for op in QUANTIZED_MATMULS):
        raise ExportError(f"{path}: the linear layer is not quantized ({ops})")
    return ops


def _metadata(state: dict, tokens: list[str], name: str, parity: float, parameters: int) -> dict:
    return {
        "kind": "stt",
        "version": MODEL_VERSION,
        "name": name,
        "features": state["features"],
        "vocab": tokens,
        "trained_on": state.get("trained_on", "unknown"),
        "metrics": {"parameters": parameters, "parity_max_abs": parity, "epochs": state.get("epoch"),
                    "best_dev_cer": state.get("best_cer")},
    }


def _score(paths: dict[str, Path], manifest: Path, snrs: list[float], noise: Path | None) -> dict:
    from training.ds2.data import noise_bank, read_manifest
    from training.ds2.evaluate import evaluate, onnx_scorer

    entries = read_manifest(manifest)
    bank = noise_bank(noise)
    metrics = {kind: evaluate(onnx_scorer(path), entries, snrs, bank) for kind, path in paths.items()}
    metrics["eval_manifest"] = f"{manifest.name}: {len(entries)} utterances"
    if "int8" in metrics:
        metrics["int8_cer_delta"] = round(metrics["int8"]["clean"]["cer"] - metrics["fp32"]["clean"]["cer"], 4)
    return metrics


def export_ds2(checkpoint: Path, out: Path, int8_out: Path | None = None, eval_manifest: Path | None = None,
               snrs: tuple[float, ...] = (), noise: Path | None = None, name: str | None = None) -> ExportReport:
    """Export, check parity, optionally quantize and score; metadata on every file written."""
    from export.onnx_utils import quantize_int8, read_metadata, size_ratio, write_metadata
    from training.ds2.model import parameter_count
    from training.ds2.train import load_model

    model, tokenizer, state = load_model(checkpoint)
    n_bins = model.config.n_bins
    out.parent.mkdir(parents=True, exist_ok=True)
    _export_graph(model, n_bins, out)
    parameters = parameter_count(model)
    write_metadata(out, _metadata(state, tokenizer.tokens, name or checkpoint.stem, 0.0, parameters))
    parity = parity_max_abs(model, out, n_bins)
    if parity > PARITY_TOLERANCE:
        raise ExportError(f"fp32 ONNX differs from torch by {parity:.2e} (> {PARITY_TOLERANCE:g})")
    metrics = json.loads(read_metadata(out)["talkratio.metrics"]) | {"parity_max_abs": parity}
    write_metadata(out, {"metrics": metrics})
    report = {"fp32": str(out), "int8": None, "parameters": parameters, "parity_max_abs": parity,
              "fp32_bytes": out.stat().st_size}
    paths = {"fp32": out}
    if int8_out is not None:
        int8_out.parent.mkdir(parents=True, exist_ok=True)
        quantize_int8(out, int8_out)
        report |= {"int8": str(int8_out), "int8_bytes": int8_out.stat().st_size,
                   "int8_size_ratio": round(size_ratio(int8_out, out), 4), "int8_ops": check_quantized(int8_out)}
        paths["int8"] = int8_out
    if eval_manifest is not None:
        metrics |= _score(paths, eval_manifest, list(snrs), noise)
        report["metrics"] = metrics
        for path in paths.values():
            write_metadata(path, {"metrics": metrics})
    return ExportReport(**report)


def cli(
    checkpoint: Annotated[Path, typer.Argument(help="training checkpoint (best.pt or last.pt)")],
    out: Annotated[Path, typer.Option(help="fp32 ONNX file to write")],
    int8: Annotated[bool, typer.Option(help="also write the INT8 model beside it (NAME.int8.onnx)")] = False,
    int8_out: Annotated[Optional[Path], typer.Option(help="INT8 file path (implies --int8)")] = None,
    eval_manifest: Annotated[Optional[Path], typer.Option("--eval", help="held-out manifest to score fp32 and INT8 on")] = None,
    snr: Annotated[Optional[list[float]], typer.Option(help="also score at this SNR (dB) with --eval; repeatable")] = None,
    noise: Annotated[Optional[Path], typer.Option(help="noise.jsonl for the noisy scores")] = None,
    name: Annotated[Optional[str], typer.Option(help="model name in the metadata")] = None,
) -> None:
    """Export a DS2 checkpoint to ONNX (fp32, and INT8 with --int8), with metadata and checks.

    Example: talkratio-export ds2 runs/ds2/best.pt --out ds2.onnx --int8 --eval data/manifests_v1/test.jsonl
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if int8 and int8_out is None:
        int8_out = out.with_name(out.name.removesuffix(".onnx") + ".int8.onnx")
    try:
        for path in (checkpoint,) + tuple(p for p in (eval_manifest, noise) if p):
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist")
        report = export_ds2(checkpoint, out, int8_out, eval_manifest, tuple(snr or ()), noise, name)
    except (FileNotFoundError, ExportError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
