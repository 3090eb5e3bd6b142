"""``talkratio-export vad``: the bundled neural VAD, taken from the Silero VAD wheel.

Silero VAD (MIT) ships its ONNX file inside the PyPI wheel ``silero-vad``; that
package imports torch, so the runtime never installs it. This command reproduces
``edge/assets/vad.onnx`` from the wheel (``pip download --no-deps
silero-vad==6.2.3``): it takes the ONNX file and the licence out of the zip,
rebuilds the model's 16 kHz graph so that one call judges any number of
consecutive windows (:func:`time_batched`), and writes DESIGN.md's metadata into
the model. The weights are not changed.

Why the rebuild: the wheel's graph judges one 32 ms window per call, through
``If`` nodes that pick the sample rate and the state's shape; called 31 times
per second of audio it cost about 0.1 ms a window on one thread, half of the
whole pipeline's CPU time. The rebuilt graph does the same arithmetic (the STFT
and the four convolutions as matrix products over every window of the call, the
LSTM cell as one ONNX ``LSTM`` over the windows in order), so a file of ten
seconds is judged in a few calls; one window per call (live capture) is
cheaper too. Its probabilities differ from the wheel graph's by at most a few
millionths (float summation order; ``tests/test_vad.py``).

Example:
    pip download --no-deps silero-vad==6.2.3 -d /tmp/wheel
    talkratio-export vad /tmp/wheel/silero_vad-6.2.3-py3-none-any.whl --out edge/assets/vad.onnx
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import typer
from onnx import TensorProto, helper, numpy_helper

from export.onnx_utils import OPSET, write_metadata

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
    # one call judges any number of consecutive windows: input (W, 576) -> output (W,)
    "windows_per_call": "any",
}
WEIGHT_PREFIXES = ("stft.", "encoder.", "decoder.")  # the wheel's constants we rebuild from
STFT_FRAMES = 4  # a window (576 samples, reflect-padded to 640) holds 4 STFT frames of 256 every 128
STFT_HOP = 128
STFT_WIDTH = 256
REFLECT_PAD = 64  # the wheel's STFT pads each window on the right by reflection
CONV_STRIDES = (1, 2, 2, 1)  # the encoder's four kernel-3 convolutions, padding 1 each side
LICENSE_LINE = (
    "Silero VAD v6.2.3 by Silero Team, MIT licence (edge/assets/LICENSE-silero-vad.txt); "
    "weights unchanged, taken from the PyPI wheel silero-vad==6.2.3; the 16 kHz graph rebuilt "
    "to judge many consecutive windows per call (export/vad.py)"
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


def wheel_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The 16 kHz branch's weights of the wheel's graph, by their PyTorch names."""
    branch = next(n for n in model.graph.node if n.op_type == "If")
    graph = next(a.g for a in branch.attribute if a.name == "then_branch")  # sr == 16000
    weights = {}
    for node in graph.node:
        name = node.output[0].rsplit("__", 1)[-1]
        if node.op_type == "Constant" and name.startswith(WEIGHT_PREFIXES):
            weights[name] = numpy_helper.to_array(node.attribute[0].t)
    return weights


class _Graph:
    """Nodes and initializers of a graph under construction, with unique names."""

    def __init__(self):
        self.nodes, self.initializers = [], []

    def const(self, value) -> str:
        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, np.int64))

    def op(self, kind: str, inputs: list[str], outputs: list[str] | None = None, **attrs):
        outputs = outputs or [f"{kind.lower()}{len(self.nodes)}"]
        self.nodes.append(helper.make_node(kind, inputs, outputs, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def slice(self, x: str, start: int, stop: int, axis: int, step: int = 1) -> str:
        return self.op("Slice", [x, self.ints(start), self.ints(stop), self.ints(axis), self.ints(step)])


def _magnitude(g: _Graph, w: dict) -> str:
    """``input`` (W, 576) -> STFT magnitude (W, 4, 129), as the wheel's STFT computes it."""
    padded = g.op("Pad", ["input", g.ints(0, 0, 0, REFLECT_PAD)], mode="reflect")
    frames = [g.slice(padded, k * STFT_HOP, k * STFT_HOP + STFT_WIDTH, 1) for k in range(STFT_FRAMES)]
    frames = g.op("Reshape", [g.op("Concat", frames, axis=1), g.ints(-1, STFT_FRAMES, STFT_WIDTH)])
    basis = w["stft.forward_basis_buffer"][:, 0, :].T.astype(np.float32)  # (256, 258): re, im
    power = g.op("Mul", [g.op("MatMul", [frames, g.const(basis)])] * 2)
    half = basis.shape[1] // 2
    real, imag = g.slice(power, 0, half, 2), g.slice(power, half, 2 * half, 2)
    return g.op("Sqrt", [g.op("Add", [real, imag])])


def _conv(g: _Graph, x: str, frames: int, weight: np.ndarray, bias: np.ndarray, stride: int):
    """Kernel-3 convolution (padding 1) + ReLU over (W, frames, channels), as one matrix
    product of the three taps side by side; returns the output and its frame count."""
    out_frames = (frames - 1) // stride + 1
    padded = g.op("Pad", [x, g.ints(0, 1, 0, 0, 1, 0)])
    last = stride * (out_frames - 1) + 1
    taps = g.op("Concat", [g.slice(padded, k, k + last, 1, stride) for k in range(3)], axis=2)
    matrix = weight.transpose(2, 1, 0).reshape(-1, weight.shape[0]).astype(np.float32)
    y = g.op("Add", [g.op("MatMul", [taps, g.const(matrix)]), g.const(bias.astype(np.float32))])
    return g.op("Relu", [y]), out_frames


def _iofc(gates: np.ndarray) -> np.ndarray:
    """PyTorch's LSTM gate order (input, forget, cell, output) to ONNX's (i, o, f, c)."""
    i, f, c, o = np.split(gates, 4, axis=0)
    return np.concatenate([i, o, f, c]).astype(np.float32)


def _decoder(g: _Graph, x: str, w: dict) -> None:
    """The LSTM cell over the windows in order (state in and out), ReLU, 1x1 conv, sigmoid."""
    h0, c0 = g.slice("state", 0, 1, 0), g.slice("state", 1, 2, 0)
    lstm = [g.const(_iofc(w[f"decoder.rnn.weight_{k}"])[None]) for k in ("ih", "hh")]
    bias = g.const(np.concatenate([_iofc(w["decoder.rnn.bias_ih"]), _iofc(w["decoder.rnn.bias_hh"])])[None])
    hidden = int(w["decoder.rnn.weight_hh"].shape[1])
    y, h, c = g.op("LSTM", [x, *lstm, bias, "", h0, c0], ["y", "h", "c"], hidden_size=hidden)
    g.op("Concat", [h, c], ["stateN"], axis=0)
    y = g.op("Reshape", [g.op("Relu", [y]), g.ints(-1, hidden)])
    head = w["decoder.decoder.2.weight"][:, :, 0].T.astype(np.float32)
    logit = g.op("Add", [g.op("MatMul", [y, g.const(head)]), g.const(w["decoder.decoder.2.bias"])])
    g.op("Reshape", [g.op("Sigmoid", [logit]), g.ints(-1)], ["output"])


def time_batched(wheel_model: onnx.ModelProto) -> onnx.ModelProto:
    """The wheel's 16 kHz model as a graph over W consecutive windows: ``input`` (W, 576),
    ``state`` (2, 1, 128) -> ``output`` (W,), ``stateN`` (2, 1, 128)."""
    if not any(node.op_type == "If" for node in wheel_model.graph.node):
        return wheel_model  # rebuilt already (a wheel remade from the bundled file)
    w, g = wheel_weights(wheel_model), _Graph()
    x, frames = _magnitude(g, w), STFT_FRAMES
    for layer, stride in enumerate(CONV_STRIDES):
        weight, bias = (w[f"encoder.{layer}.reparam_conv.{k}"] for k in ("weight", "bias"))
        x, frames = _conv(g, x, frames, weight, bias, stride)
    _decoder(g, x, w)  # x: (W, 1, 128), the LSTM's (sequence, batch, input)
    window = FEATURES["window_samples"] + FEATURES["context_samples"]
    state = FEATURES["state_shape"]
    graph = helper.make_graph(
        g.nodes, "silero_vad_time_batched",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["windows", window]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, state)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["windows"]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, state)],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model


def export_vad(wheel: Path, out: Path, metrics: dict) -> list[Path]:
    """The wheel's model rebuilt over many windows per call, and its licence; metadata in."""
    license_path = out.parent / "LICENSE-silero-vad.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        wheel_model = onnx.load_from_string(archive.read(_member(archive, MODEL_MEMBER)))
        license_path.write_bytes(archive.read(_member(archive, LICENSE_SUFFIX)))
    onnx.save(time_batched(wheel_model), str(out))
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
