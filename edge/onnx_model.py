"""Loading the project's ONNX models: private onnxruntime sessions and their metadata.

Everything the runtime knows about a model comes from its ``talkratio.*``
metadata (DESIGN.md, "Model files"); nothing about a model is hard-coded here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from edge.audio import FeatureConfig
from edge.errors import UserError

META_PREFIX = "talkratio."
ASSETS_DIR = Path(__file__).resolve().parent / "assets"


class ModelError(UserError, RuntimeError):
    """A model file that is missing, unreadable or not the kind the caller needs."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself."""

    path: Path
    kind: str
    name: str
    version: str
    sha256: str
    features: FeatureConfig
    metadata: dict[str, str] = field(repr=False)

    def json_field(self, key: str, default=None):
        """A structured metadata value (``talkratio.<key>``), parsed from JSON."""
        raw = self.metadata.get(META_PREFIX + key)
        return default if raw is None else json.loads(raw)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_session(
    path: str | Path, expect_kind: str | None = None, threads: int = 1
) -> tuple[ort.InferenceSession, ModelInfo]:
    """Open ``path`` on the CPU with explicit thread counts and read its metadata.

    Raises :class:`ModelError` with a sentence for the user when the file is
    missing, is not ONNX, lacks talkratio metadata or is of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # with more than one thread, idle pool threads spin waiting for work by default: CPU burnt
    # on a shared device between the many small calls of a stream (one thread has no pool)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated types
        raise ModelError(f"{path} is not a usable ONNX model: {exc}") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    kind = meta.get(META_PREFIX + "kind")
    if kind is None or META_PREFIX + "features" not in meta:
        raise ModelError(f"{path} has no talkratio metadata; export it with talkratio-export")
    if expect_kind is not None and kind != expect_kind:
        raise ModelError(f"{path} is a {kind!r} model, but a {expect_kind!r} model is needed")
    info = ModelInfo(
        path=path,
        kind=kind,
        name=meta.get(META_PREFIX + "name", path.stem),
        version=meta.get(META_PREFIX + "version", "unknown"),
        sha256=file_sha256(path),
        features=FeatureConfig.from_json(meta[META_PREFIX + "features"]),
        metadata=meta,
    )
    return session, info


def bundled_model(kind: str) -> Path:
    """Path of the default INT8 model shipped as package data (``stt`` or ``voice``)."""
    return ASSETS_DIR / f"{kind}.int8.onnx"
