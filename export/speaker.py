"""Resemblyzer's GE2E speaker encoder to ONNX: ``embedding`` from mel frames, metadata, parity, INT8.

The weights are the ``model_state`` of ``resemblyzer/pretrained.pt`` in the
``resemblyzer==0.1.4`` wheel (Apache-2.0): a 3-layer LSTM (40 -> 256), a linear
layer 256 -> 256, ReLU and L2 normalisation of the last layer's final hidden
state. The module here is our own; it only loads that state dict.

The graph takes ``mels`` float32 ``(B, T, 40)``: mel power frames from
:func:`edge.audio.compute_features` with :data:`FEATURES` (T is 160, a 1.6 s
partial, for the embeddings the encoder was trained on; other lengths run but
are less reliable) and returns ``embedding`` ``(B, 256)``, unit length.

Example:
    pip install --no-deps resemblyzer==0.1.4
    talkratio-export speaker --out runs/speaker/speaker.onnx --int8
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import typer

from edge.audio import SAMPLE_RATE, FeatureConfig
from export.onnx_utils import OPSET

log = logging.getLogger(__name__)

VERSION = "1.0"
NAME = "resemblyzer-ge2e"
N_MELS = 40
HIDDEN = 256  # LSTM width
EMBEDDING_SIZE = 256
LAYERS = 3
PARTIAL_FRAMES = 160  # 1.6 s partials at a 10 ms hop: what GE2E was trained on
WIN_SAMPLES = SAMPLE_RATE * 25 // 1000  # 400 samples: a 25 ms window, also the FFT size
HOP_SAMPLES = SAMPLE_RATE * 10 // 1000  # 160 samples: 10 ms
TARGET_DBFS = -30.0  # resemblyzer raises quiet recordings to this RMS before the mel

# librosa.feature.melspectrogram's defaults as resemblyzer calls it: periodic Hann,
# power 2, Slaney mel with Slaney area normalisation, 0 Hz to Nyquist, no log.
FEATURES = FeatureConfig(
    type="mel",
    n_fft=WIN_SAMPLES,
    win_length=WIN_SAMPLES,
    hop_length=HOP_SAMPLES,
    window="hann_periodic",
    n_mels=N_MELS,
    normalisation="volume",
    mel_scale="slaney",
    target_dbfs=TARGET_DBFS,
)
PARITY_ATOL = 1e-4  # fp32 embedding components, torch vs onnxruntime
INT8_MIN_COSINE = 0.99  # mean cosine INT8 vs fp32 below which the fp32 file ships
LICENSE = (
    "Resemblyzer GE2E speaker encoder (Corentin Jemine, Resemble AI), Apache-2.0; "
    "weights from resemblyzer==0.1.4 (resemblyzer/pretrained.pt), converted to ONNX "
    "unchanged; see LICENSE-resemblyzer.txt"
)
TRAINED_ON = (
    "by its authors on LibriSpeech-other, VoxCeleb1 and VoxCeleb2 (English and many "
    "other languages, about 8k speakers), GE2E loss; not retrained here"
)


def pretrained_path() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer wheel (raises with the install hint)."""
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "resemblyzer is not installed: pip install --no-deps resemblyzer==0.1.4"
        )
    return Path(spec.origin).parent / "pretrained.pt"


def build_encoder(state: dict | None = None):
    """The GE2E encoder as a torch module; ``state`` (resemblyzer's ``model_state``) or random."""
    import torch

    class SpeakerEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
            self.linear = torch.nn.Linear(HIDDEN, EMBEDDING_SIZE)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            # the floor keeps an all-zero ReLU output finite (resemblyzer would give NaN)
            return raw / torch.clamp(torch.linalg.vector_norm(raw, dim=1, keepdim=True), min=1e-8)

    module = SpeakerEncoder()
    if state is not None:
        # resemblyzer's file also holds its training-time similarity scale (similarity_weight/bias)
        module.load_state_dict(
            {k: v for k, v in state.items() if k.split(".")[0] in ("lstm", "linear")}
        )
    return module.eval()


def load_pretrained(path: Path):
    import torch

    checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    return build_encoder(checkpoint["model_state"])


def to_onnx(module, path: Path) -> None:
    import torch

    example = torch.zeros(2, PARTIAL_FRAMES, N_MELS)
    with warnings.catch_warnings():  # the TorchScript exporter is asked for on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)  # LSTM batch_first export notice
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # LSTM's shape checks
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=["mels"],
            output_names=["embedding"],
            dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def speech_mels(seconds: float = 8.0) -> np.ndarray:
    """``(B, 160, 40)`` partials of espeak-ng Korean speech by several voices (parity input).

    Falls back to harmonic, voice-like tones when espeak-ng is not installed.
    """
    from edge.audio import compute_features

    clips = _espeak_clips() or [_harmonic(f0) for f0 in (110.0, 190.0, 260.0)]
    partials = []
    for clip in clips:
        mels = compute_features(clip[: int(seconds * SAMPLE_RATE)], FEATURES)
        for start in range(0, mels.shape[0] - PARTIAL_FRAMES + 1, PARTIAL_FRAMES // 2):
            partials.append(mels[start : start + PARTIAL_FRAMES])
    return np.stack(partials).astype(np.float32)


def _espeak_clips() -> list[np.ndarray]:
    import shutil

    if shutil.which("espeak-ng") is None:
        return []
    from training.speaker_eval import espeak_speech

    text = "오늘은 날씨가 참 좋네요. 우리 같이 공원에 가서 산책할까요? 저녁은 뭘 먹을까?"
    return [
        espeak_speech(text, variant, pitch)
        for variant, pitch in (("f3", 70), ("m3", 30), ("f1", 55))
    ]


def _harmonic(f0_hz: float, seconds: float = 4.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    vibrato = f0_hz * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(vibrato) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 30) if k * f0_hz < 7000)
    return (0.1 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t))).astype(np.float32)


def _embed(session, mels: np.ndarray) -> np.ndarray:
    return session.run(["embedding"], {"mels": mels})[0]


def parity(module, onnx_path: Path, mels: np.ndarray, reference: Path | None = None) -> dict:
    """``{"max_abs": ..., "mean_cosine": ..., "min_cosine": ...}`` of ``onnx_path`` vs torch
    (or vs the ``reference`` ONNX file) on ``mels``."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = _embed(session, mels)
    if reference is None:
        with torch.no_grad():
            want = module(torch.from_numpy(mels)).numpy()
    else:
        other = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
        want = _embed(other, mels)
    cosine = (got * want).sum(axis=1)
    return {
        "max_abs": float(np.abs(got - want).max()),
        "mean_cosine": float(cosine.mean()),
        "min_cosine": float(cosine.min()),
    }


def metadata(metrics: dict) -> dict:
    return {
        "kind": "speaker",
        "version": VERSION,
        "name": NAME,
        "features": FEATURES.to_json(),
        "partial_frames": str(PARTIAL_FRAMES),
        "embedding_size": str(EMBEDDING_SIZE),
        "license": LICENSE,
        "trained_on": TRAINED_ON,
        "metrics": metrics,
    }


def export_speaker(module, out: Path, int8: bool = False) -> list[Path]:
    """Write ``out`` (fp32) [and ``NAME.int8.onnx`` when its parity holds]; returns the paths.

    Raises ``RuntimeError`` when onnxruntime disagrees with torch.
    """
    from export.onnx_utils import quantize_int8, write_metadata

    out.parent.mkdir(parents=True, exist_ok=True)
    to_onnx(module, out)
    mels = speech_mels()
    fp32 = parity(module, out, mels)
    if fp32["max_abs"] > PARITY_ATOL:
        raise RuntimeError(
            f"onnxruntime and torch disagree by {fp32['max_abs']:.2e} (> {PARITY_ATOL})"
        )
    log.info("fp32 vs torch on %d speech partials: %s", len(mels), fp32)
    metrics = {"parity": {"fp32_vs_torch": _rounded(fp32), "partials": len(mels)}}
    write_metadata(out, metadata(metrics))
    paths = [out]
    if int8:
        int8_path = out.with_name(out.name.removesuffix(".onnx") + ".int8.onnx")
        quantize_int8(out, int8_path, exclude_nodes=input_lstm(out), per_channel=True)
        drift = parity(module, int8_path, mels, reference=out)
        log.info("int8 vs fp32: %s", drift)
        metrics["parity"]["int8_vs_fp32"] = _rounded(drift)
        if drift["mean_cosine"] < INT8_MIN_COSINE:
            log.warning(
                "INT8 mean cosine %.4f < %.2f: ship the fp32 file",
                drift["mean_cosine"],
                INT8_MIN_COSINE,
            )
        write_metadata(out, {"metrics": metrics})
        write_metadata(int8_path, {"metrics": metrics})
        paths.append(int8_path)
    return paths


def input_lstm(path: Path) -> tuple[str, ...]:
    """Name of the first LSTM node (the one that reads ``mels``): it stays fp32.

    Its input is mel power, not log: a dynamic per-tensor INT8 scale over values
    that span 80 dB flattens the quiet bands to zero (all three LSTMs INT8: mean
    cosine 0.69 to fp32; this one kept fp32, the others per-channel: 0.9995).
    """
    import onnx

    graph = onnx.load(str(path)).graph
    return tuple(n.name for n in graph.node if n.op_type == "LSTM")[:1]  # nodes are in order


def _rounded(figures: dict) -> dict:
    return {k: round(v, 6) for k, v in figures.items()}


def cli(
    pretrained: Path = typer.Argument(
        None, help="resemblyzer's pretrained.pt (default: the installed wheel's)"
    ),
    out: Path = typer.Option(..., help="fp32 ONNX path; --int8 writes NAME.int8.onnx beside it"),
    int8: bool = typer.Option(
        False, "--int8", help="also write the INT8 model (DynamicQuantizeLSTM)"
    ),
) -> None:
    """Export resemblyzer's GE2E speaker encoder to ONNX with talkratio metadata.

    Example: talkratio-export speaker --out runs/speaker/speaker.onnx --int8
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        path = pretrained if pretrained is not None else pretrained_path()
        if not path.is_file():
            raise FileNotFoundError(f"weights {path} do not exist")
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for written in export_speaker(load_pretrained(path), out, int8):
        typer.echo(f"{written} ({written.stat().st_size / 1024:.0f} KiB)")
