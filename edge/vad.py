"""The neural VAD (Silero VAD, ONNX) streamed with numpy and onnxruntime.

The model reads one window of ``window_samples`` new samples (512 at 16 kHz,
32 ms) after the last ``context_samples`` (64) of the previous window, and
carries a recurrent state from window to window; it answers the probability
that the window is speech. Everything about the model's input comes from its
``talkratio.features`` metadata (written by ``talkratio-export vad``).

The bundled file judges any number of consecutive windows in one call
(``"windows_per_call": "any"``, the graph ``talkratio-export vad`` rebuilds):
a call costs far more than a window, so a file's ten-second blocks are judged a
second at a time. A file straight from the Silero wheel (one window per call,
an ``sr`` input) is run window by window.

:class:`NeuralVad` keeps the state and the context across calls, so any way
of cutting a stream into blocks gives the same probabilities.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE
from edge.onnx_model import ASSETS_DIR, ModelError, ModelInfo, open_session

BUNDLED_VAD = ASSETS_DIR / "vad.onnx"


@functools.lru_cache(maxsize=4)
def _load(path: Path, threads: int):
    """One session per model file: every segmenter (live, analyze, benchmarks) shares it."""
    return open_session(path, "vad", threads)


class NeuralVad:
    """Speech probability per window of a 16 kHz stream, the model's state carried along."""

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        self._session, self.info = _load(Path(path or BUNDLED_VAD).resolve(), threads)
        features = self.info.json_field("features")
        if features.get("sample_rate") != SAMPLE_RATE:
            raise ModelError(f"{self.info.path} expects {features.get('sample_rate')} Hz audio")
        self.window_samples = int(features["window_samples"])
        self._context_samples = int(features["context_samples"])
        self._state_shape = tuple(features["state_shape"])
        self.batched = features.get("windows_per_call") == "any"  # many windows per call
        self._rate = np.array(SAMPLE_RATE, np.int64)
        self.reset()

    @property
    def model(self) -> ModelInfo:
        return self.info

    def reset(self) -> None:
        """Forget the past: the state and context the model starts a stream with (zeros)."""
        self._state = np.zeros(self._state_shape, np.float32)
        self._context = np.zeros(self._context_samples, np.float32)
        self._pending = np.zeros(0, np.float32)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities of the next ``(W, window_samples)`` consecutive windows of the stream."""
        windows = np.asarray(windows, np.float32).reshape(-1, self.window_samples)
        if windows.shape[0] == 0:
            return np.zeros(0, np.float32)
        stream = np.concatenate([self._context, windows.ravel()])
        width = self.window_samples + self._context_samples
        inputs = np.lib.stride_tricks.sliding_window_view(stream, width)[:: self.window_samples]
        self._context = stream[-self._context_samples :].copy()
        if self.batched:
            out, self._state = self._session.run(None, {"input": inputs, "state": self._state})
            return out.astype(np.float32)
        return np.array([self._one(x) for x in inputs], np.float32)

    def _one(self, x: np.ndarray) -> float:
        """One window through a one-window-per-call model (the wheel's own file)."""
        feeds = {"input": x[None, :], "state": self._state, "sr": self._rate}
        out, self._state = self._session.run(None, feeds)
        return float(out[0, 0])

    def window_probability(self, window: np.ndarray) -> float:
        """Probability that the next ``window_samples`` samples of the stream are speech."""
        return float(self.probabilities(window)[0])

    def feed(self, block: np.ndarray) -> np.ndarray:
        """Probabilities of the windows ``block`` completes (a partial window waits)."""
        self._pending = np.concatenate([self._pending, np.asarray(block, np.float32)])
        whole = self._pending.size // self.window_samples * self.window_samples
        probs = self.probabilities(self._pending[:whole])
        self._pending = self._pending[whole:]
        return probs


def vad_model_json(neural: bool, path: str | Path | None = None) -> dict:
    """The ``models.vad`` entry of DESIGN.md's JSON: the neural VAD, or webrtcvad alone."""
    if not neural:
        return {"name": "webrtcvad", "version": None, "sha256": None}
    info = _load(Path(path or BUNDLED_VAD).resolve(), 1)[1]
    return {"name": info.name, "version": info.version, "sha256": info.sha256}
