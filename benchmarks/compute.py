"""How much arithmetic a model needs per second of audio, and how much this CPU can do.

Multiply-accumulates are counted from the ONNX graph itself: every Conv, MatMul,
Gemm, LSTM and GRU node (and their INT8 forms) is exposed as a graph output, the
model runs once on ``COUNT_SECONDS`` of silence, and each node's MACs follow from
the real tensor shapes. The CPU's reference is a plain matrix product in
onnxruntime on one thread, fp32 and INT8 (uint8 x int8, as dynamic
quantization does it), at a large square size (the best case) and one row at a
time (a chain of ``[1, 256] x [256, 1024]`` products: what an LSTM does per frame).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.audio import SAMPLE_RATE, frame_count

log = logging.getLogger(__name__)

COUNT_SECONDS = 10.0  # MACs are counted on 10 s of input and divided by 10
PEAK_SIZE = 1024  # square matmul for the peak: 1024 x 1024 x 1024 = 1.07 G MACs
PEAK_MIN_S = 1.0  # repeat each product for at least a second
RECURRENT_WIDTH = 256  # one-row product [1, 256] x [256, 1024]: an LSTM step of hidden size 256
ROW_CHAIN = 64  # row products per run, alternating [256, 1024] and [1024, 256], so call overhead is amortised
MAC_OPS = {"Conv", "ConvInteger", "MatMul", "MatMulInteger", "Gemm", "LSTM", "GRU",
           "DynamicQuantizeLSTM", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
           "QLinearMatMul", "QLinearConv"}
GATES = {"LSTM": 4, "DynamicQuantizeLSTM": 4, "GRU": 3}


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates per second of audio, in total and by operator type."""

    macs_per_audio_s: float
    by_op: dict[str, float]
    parameters: int

    def to_json(self) -> dict:
        return {"gmacs_per_audio_s": round(self.macs_per_audio_s / 1e9, 4),
                "by_op_gmacs": {k: round(v / 1e9, 4) for k, v in self.by_op.items()},
                "parameters": self.parameters}


def _attr(node, name: str, default=None):
    for attribute in node.attribute:
        if attribute.name == name:
            import onnx

            return onnx.helper.get_attribute_value(attribute)
    return default


def _node_macs(node, shapes: dict[str, tuple[int, ...]]) -> float:
    """MACs of one node from the shapes of its tensors (0 when they are unknown)."""
    op = node.op_type
    if op in GATES:
        x = shapes.get(node.input[0])
        hidden = _attr(node, "hidden_size")
        if x is None or hidden is None:
            return 0.0
        directions = 2 if _attr(node, "direction", b"forward") in (b"bidirectional", "bidirectional") else 1
        steps_times_batch = x[0] * x[1]  # layout 0: (seq, batch, input)
        return float(steps_times_batch * directions * GATES[op] * hidden * (x[2] + hidden))
    out = shapes.get(node.output[0])
    if out is None:
        return 0.0
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        w = shapes.get(node.input[3 if op == "QLinearConv" else 1])
        return 0.0 if w is None else float(np.prod(out) * np.prod(w[1:]))
    a = shapes.get(node.input[0])
    if a is None:
        return 0.0
    k = a[-1] if not (op == "Gemm" and _attr(node, "transA", 0)) else a[0]
    return float(np.prod(out) * k)


def _shapes_by_running(model_path: Path, names: list[str], n_frames: int) -> dict[str, tuple[int, ...]]:
    """Run the model once with ``names`` added as outputs; the shapes they came out with."""
    import onnx

    model = onnx.load(str(model_path))
    known = {o.name for o in model.graph.output}
    for name in names:
        if name and name not in known:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
            known.add(name)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {}
    for graph_input in session.get_inputs():
        dims = [d if isinstance(d, int) else 1 for d in graph_input.shape]
        if graph_input.name == "features":
            dims[1] = n_frames
        feeds[graph_input.name] = np.zeros(dims, np.float32)
    outputs = [o.name for o in session.get_outputs()]
    values = session.run(outputs, feeds)
    shapes = {name: tuple(v.shape) for name, v in zip(outputs, values, strict=True)}
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def count_macs(model_path: str | Path, seconds: float = COUNT_SECONDS) -> MacCount:
    """MACs per second of audio of an STT/voice ONNX model whose input is ``features``."""
    import onnx

    path = Path(model_path)
    graph = onnx.load(str(path), load_external_data=False).graph
    nodes = [n for n in graph.node if n.op_type in MAC_OPS]
    names = [name for n in nodes for name in (*n.input, *n.output)]
    shapes = _shapes_by_running(path, names, frame_count(int(seconds * SAMPLE_RATE)))
    by_op: dict[str, float] = {}
    for node in nodes:
        by_op[node.op_type] = by_op.get(node.op_type, 0.0) + _node_macs(node, shapes) / seconds
    params = sum(int(np.prod(i.dims)) for i in graph.initializer if len(i.dims) > 0)
    return MacCount(sum(by_op.values()), by_op, params)


# --------------------------------------------------------------------------- CPU reference


@dataclass(frozen=True)
class MatmulPeak:
    """Measured matrix-product throughput of this CPU in onnxruntime, giga-MACs per second."""

    fp32_square: float
    int8_square: float
    fp32_row: float
    int8_row: float
    threads: int

    def to_json(self) -> dict:
        return {"threads": self.threads, "fp32_square_gmacs": round(self.fp32_square, 2),
                "int8_square_gmacs": round(self.int8_square, 2),
                "fp32_row_gmacs": round(self.fp32_row, 2), "int8_row_gmacs": round(self.int8_row, 2),
                "square_size": PEAK_SIZE, "row_shape": [1, RECURRENT_WIDTH, 4 * RECURRENT_WIDTH],
                "row_chain": ROW_CHAIN}


def _matmul_model(int8: bool, m: int, k: int, n: int) -> bytes:
    from onnx import TensorProto, helper

    a_type = TensorProto.UINT8 if int8 else TensorProto.FLOAT
    b_type = TensorProto.INT8 if int8 else TensorProto.FLOAT
    out_type = TensorProto.INT32 if int8 else TensorProto.FLOAT
    node = helper.make_node("MatMulInteger" if int8 else "MatMul", ["a", "b"], ["y"])
    graph = helper.make_graph(
        [node], "peak", [helper.make_tensor_value_info("a", a_type, [m, k]),
                         helper.make_tensor_value_info("b", b_type, [k, n])],
        [helper.make_tensor_value_info("y", out_type, [m, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _time_repeated(run: Callable[[], object], min_s: float) -> float:
    """Best seconds of one call, repeating for at least ``min_s``."""
    run()
    best, spent = float("inf"), 0.0
    while spent < min_s:
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
    return best


def _row_chain_model(int8: bool, width: int, steps: int) -> bytes:
    """``x [1, width]`` through ``steps`` row products, alternately widening to 4x and back.

    INT8 uses DynamicQuantizeMatMul (float rows quantized on the fly, int8
    weights), as the exported models' quantized layers do.
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    shapes = {"up": (width, 4 * width), "down": (4 * width, width)}
    inits, nodes = [], []
    for name, shape in shapes.items():
        if int8:
            inits += [numpy_helper.from_array(rng.integers(-127, 127, shape, dtype=np.int8), name),
                      numpy_helper.from_array(np.array(0.01, np.float32), f"{name}_scale")]
        else:
            inits.append(numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.05, name))
    current = "x"
    for i in range(steps):
        weight = "up" if i % 2 == 0 else "down"
        inputs = [current, weight, f"{weight}_scale"] if int8 else [current, weight]
        op, domain = ("DynamicQuantizeMatMul", "com.microsoft") if int8 else ("MatMul", "")
        nodes.append(helper.make_node(op, inputs, [f"h{i}"], domain=domain))
        current = f"h{i}"
    graph = helper.make_graph(nodes, "rows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info(current, TensorProto.FLOAT, None)], initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if int8 else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString()


def _session(model: bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def matmul_gmacs(int8: bool, m: int, k: int, n: int, threads: int = 1, min_s: float = PEAK_MIN_S) -> float:
    """Giga-MACs per second of one ``[m, k] x [k, n]`` product in onnxruntime."""
    session = _session(_matmul_model(int8, m, k, n), threads)
    rng = np.random.default_rng(0)
    if int8:
        feeds = {"a": rng.integers(0, 255, (m, k), dtype=np.uint8),
                 "b": rng.integers(-127, 127, (k, n), dtype=np.int8)}
    else:
        feeds = {"a": rng.standard_normal((m, k), dtype=np.float32),
                 "b": rng.standard_normal((k, n), dtype=np.float32)}
    seconds = _time_repeated(lambda: session.run(None, feeds), min_s)
    return m * k * n / seconds / 1e9


def row_chain_gmacs(int8: bool, width: int = RECURRENT_WIDTH, steps: int = ROW_CHAIN, threads: int = 1,
                    min_s: float = PEAK_MIN_S) -> float:
    """Giga-MACs per second of one-row products (batch 1, as in a recurrent step)."""
    session = _session(_row_chain_model(int8, width, steps), threads)
    feeds = {"x": np.random.default_rng(0).standard_normal((1, width)).astype(np.float32)}
    seconds = _time_repeated(lambda: session.run(None, feeds), min_s)
    return steps * width * 4 * width / seconds / 1e9


def measure_peak(threads: int = 1, size: int = PEAK_SIZE, min_s: float = PEAK_MIN_S) -> MatmulPeak:
    width = RECURRENT_WIDTH
    return MatmulPeak(
        fp32_square=matmul_gmacs(False, size, size, size, threads, min_s),
        int8_square=matmul_gmacs(True, size, size, size, threads, min_s),
        fp32_row=row_chain_gmacs(False, width, ROW_CHAIN, threads, min_s),
        int8_row=row_chain_gmacs(True, width, ROW_CHAIN, threads, min_s),
        threads=threads,
    )


def model_parameters(path: str | Path) -> int:
    """Parameters stored in an ONNX file (initializer elements; INT8 scales included)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return sum(int(np.prod(i.dims)) for i in graph.initializer if len(i.dims) > 0)
