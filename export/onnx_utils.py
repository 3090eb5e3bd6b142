"""Shared steps of every export: metadata into the ONNX file, INT8 quantization, sizes.

Each model has its own export module (``export.ds2``, ``export.voice``); both
end here so that the metadata contract of DESIGN.md is written in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from edge.onnx_model import META_PREFIX

OPSET = 17  # the ONNX opset every export writes (onnxruntime 1.17 and newer run it)


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def write_metadata(path: str | Path, metadata: dict) -> None:
    """Set ``talkratio.<key>`` metadata_props on the ONNX file in place.

    Values that are not strings are stored as JSON, as DESIGN.md requires.
    """
    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in metadata.items():
        full = key if key.startswith(META_PREFIX) else META_PREFIX + key
        if full in existing:
            existing[full].value = _as_text(value)
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = full, _as_text(value)
    onnx.save(model, str(path))


def read_metadata(path: str | Path) -> dict[str, str]:
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


# Conv stays fp32: onnxruntime's ConvInteger ran slower than fp32 Conv on x86 for both
# models (DS2 front end and the voice CNN: 7x), and conv weights are a small share.
INT8_OP_TYPES = ("LSTM", "MatMul", "Gemm")


def quantize_int8(
    fp32_path: str | Path,
    int8_path: str | Path,
    op_types: tuple[str, ...] = INT8_OP_TYPES,
    exclude_nodes: tuple[str, ...] = (),
    per_channel: bool = False,
) -> Path:
    """Dynamic INT8 quantization (weights int8, activations quantized on the fly).

    LSTM becomes DynamicQuantizeLSTM and MatMul/Gemm become integer matmuls;
    ``exclude_nodes`` (node names) stay fp32; ``per_channel`` gives each output
    channel its own weight scale. The metadata of the fp32 file is carried over.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = Path(int8_path)
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=list(op_types),
        nodes_to_exclude=list(exclude_nodes),
        per_channel=per_channel,
    )
    metadata = read_metadata(fp32_path)
    write_metadata(int8_path, metadata)
    return int8_path


def size_ratio(small: str | Path, large: str | Path) -> float:
    return Path(small).stat().st_size / Path(large).stat().st_size
