"""``talkratio-export vad``: the bundled neural VAD, taken from the Silero VAD wheel.

Silero VAD (MIT) ships its ONNX file inside the PyPI wheel ``silero-vad``; that
package imports torch, so the runtime never installs it. This command reproduces
``edge/assets/vad.onnx`` from the wheel (``pip download --no-deps
silero-vad==6.2.3``): it copies the ONNX file and the licence out of the zip
and writes DESIGN.md's metadata into the model. The weights are not changed.

Example:
    pip download --no-deps silero-vad==6.2.3 -d /tmp/wheel
    talkratio-export vad /tmp/wheel/silero_vad-6.2.3-py3-none-any.whl --out edge/assets/vad.onnx
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import typer

from export.onnx_utils import write_metadata

MODEL_MEMBER = "silero_vad/data/silero_vad.onnx"
LICENSE_SUFFIX = ".dist-info/licenses/LICENSE"
SILERO_VERSION = "6.2.3"
# what the model reads: 512 new samples (32 ms) per call, after the last 64 samples of the
# previous call (the package's OnnxWrapper prepends them; zeros before the first call)
FEATURES = {
    "type": "waveform",
    "sample_rate": 16000,
    "window_samples": 512,
    "context_samples": 64,
    "state_shape": [2, 1, 128],
    "normalisation": "none",
}
LICENSE_LINE = (
    "Silero VAD v6.2.3 by Silero Team, MIT licence (edge/assets/LICENSE-silero-vad.txt); "
    "weights unchanged, taken from the PyPI wheel silero-vad==6.2.3"
)
TRAINED_ON = "Silero Team's own multi-language speech and noise corpora (not documented in detail)"


def vad_metadata(metrics: dict) -> dict:
    return {
        "kind": "vad",
        "name": "silero-vad",
        "version": SILERO_VERSION,
        "features": FEATURES,
        "license": LICENSE_LINE,
        "trained_on": TRAINED_ON,
        "metrics": metrics,
    }


def _member(archive: zipfile.ZipFile, suffix: str) -> str:
    names = [n for n in archive.namelist() if n.endswith(suffix)]
    if len(names) != 1:
        raise ValueError(f"the wheel has no single file ending in {suffix}")
    return names[0]


def export_vad(wheel: Path, out: Path, metrics: dict) -> list[Path]:
    """Copy the model and its licence out of ``wheel``; metadata into the model."""
    license_path = out.parent / "LICENSE-silero-vad.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        out.write_bytes(archive.read(_member(archive, MODEL_MEMBER)))
        license_path.write_bytes(archive.read(_member(archive, LICENSE_SUFFIX)))
    write_metadata(out, vad_metadata(metrics))
    return [out, license_path]


def _metrics(path: Path | None) -> dict:
    """The held-out figures of the benchmark's VAD section (``silero`` row), if given."""
    if path is None:
        return {}
    results = json.loads(path.read_text())
    return results.get("metrics", results)


def cli(
    wheel: Path = typer.Argument(..., help="silero_vad-6.2.3-py3-none-any.whl"),
    out: Path = typer.Option(..., help="ONNX path to write (the licence goes beside it)"),
    metrics: Path = typer.Option(None, help="benchmarks/results/vad.json: figures into metadata"),
) -> None:
    """Take the Silero VAD ONNX file out of its wheel and add talkratio metadata.

    Example: talkratio-export vad silero_vad-6.2.3-py3-none-any.whl --out edge/assets/vad.onnx
    """
    if not wheel.is_file() or not zipfile.is_zipfile(wheel):
        typer.echo(f"error: {wheel} is not a wheel file", err=True)
        raise typer.Exit(2)
    try:
        paths = export_vad(wheel, out, _metrics(metrics))
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for path in paths:
        typer.echo(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
