"""``talkratio models``: which models are active and what their metadata says."""

from __future__ import annotations

from pathlib import Path

from edge.onnx_model import META_PREFIX, ModelInfo, bundled_model, open_session
from edge.speaker import bundled_speaker_model
from edge.vad import BUNDLED_VAD

SHOWN_KEYS = (
    "trained_on",
    "metrics",
    "threshold",
    "labels",
    "match_threshold",
    "match_threshold_typed",
    "license",
)


def _describe(info: ModelInfo) -> dict:
    shown = {
        key: info.json_field(key)
        if key in ("metrics", "labels")
        else info.metadata.get(META_PREFIX + key)
        for key in SHOWN_KEYS
    }
    return {
        "kind": info.kind,
        "name": info.name,
        "version": info.version,
        "path": str(info.path),
        "sha256": info.sha256,
        "size_bytes": info.path.stat().st_size,
        "features": info.features.type,
        # a waveform model (the VAD) reads samples, not bins
        "feature_bins": None if info.features.type == "waveform" else info.features.n_bins,
        **{k: v for k, v in shown.items() if v is not None},
    }


def describe_models(stt: str | Path | None = None, voice: str | Path | None = None) -> dict:
    """Metadata of the STT, voice and speaker models that would be used (the pitch tagger
    when no voice model exists; no speaker entry when none is bundled). Raises ``ModelError`` for a given path that is not usable."""
    described = {}
    stt_path = bundled_model("stt") if stt is None else Path(stt)
    described["stt"] = _describe(open_session(stt_path, "stt")[1])
    voice_path = bundled_model("voice") if voice is None else Path(voice)
    if voice is None and not voice_path.is_file():
        described["voice"] = {
            "kind": "voice",
            "name": "pitch",
            "version": None,
            "note": "no voice model installed: median-F0 pitch tagger",
        }
    else:
        described["voice"] = _describe(open_session(voice_path, "voice")[1])
    speaker_path = bundled_speaker_model()
    if speaker_path is not None:
        described["speaker"] = _describe(open_session(speaker_path, "speaker")[1])
    described["vad"] = _describe(open_session(BUNDLED_VAD, "vad")[1])
    return described
