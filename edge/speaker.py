"""Who is speaking, as a vector: the speaker encoder (GE2E, from resemblyzer) on the device.

An utterance becomes one 256-d unit vector; two utterances of one person lie
close (cosine near 1), two people further apart. The household match
(:mod:`edge.household`), the voice type and the voice-change split all start
from these vectors. numpy and onnxruntime only; the feature settings, the
partial length and the household match threshold come from the model file.

Example::

    encoder = SpeakerEncoder()                 # the bundled model, 1 thread
    vector = encoder.embed(samples)            # (n,) float32 16 kHz -> (256,) unit vector
    similarity = float(vector @ other_vector)  # cosine
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, compute_features
from edge.onnx_model import ModelError, bundled_model, open_session

log = logging.getLogger(__name__)

BUNDLED_NAMES = ("speaker.int8.onnx", "speaker.onnx")  # INT8 when its parity held, else fp32
DEFAULT_PARTIAL_FRAMES = 160  # 1.6 s: what GE2E was trained on
PARTIAL_OVERLAP = 0.5  # partials start every 0.8 s (resemblyzer: every 0.77 s)
MIN_FRAMES = 20  # 0.2 s: shorter input holds no voice worth a vector
MAX_BATCH = 32  # partials per onnxruntime call (a 15 s utterance needs 18)


def bundled_speaker_model() -> Path | None:
    """The speaker model shipped in ``edge/assets/``, or ``None`` when there is none."""
    folder = bundled_model("speaker").parent
    return next((folder / n for n in BUNDLED_NAMES if (folder / n).is_file()), None)


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1 along its last axis (a zero vector stays zero)."""
    norm = np.linalg.norm(vector, axis=-1, keepdims=True)
    return (vector / np.maximum(norm, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class WindowEmbeddings:
    """Embeddings of equal windows over an utterance: window ``i`` covers
    ``starts_s[i]`` to ``starts_s[i] + window_s`` seconds from the utterance start."""

    starts_s: np.ndarray  # (W,)
    window_s: float
    embeddings: np.ndarray  # (W, D) unit vectors

    @property
    def centres_s(self) -> np.ndarray:
        return self.starts_s + self.window_s / 2

    def mean(self) -> np.ndarray:
        """One vector for the whole span: the renormalised mean of the windows."""
        return unit(self.embeddings.mean(axis=0))


class SpeakerEncoder:
    """A loaded speaker model (default: the bundled one). ``.info`` is its ModelInfo."""

    def __init__(self, model_path: str | Path | None = None, threads: int = 1):
        path = bundled_speaker_model() if model_path is None else Path(model_path)
        if path is None:
            raise ModelError("no speaker model is bundled; pass the path of one")
        self.session, self.info = open_session(path, expect_kind="speaker", threads=threads)
        inputs = [i.name for i in self.session.get_inputs()]
        if inputs != ["mels"] or self.session.get_outputs()[0].name != "embedding":
            raise ModelError(f"{path}: a speaker model maps 'mels' to 'embedding'")
        self.partial_frames = int(self.info.json_field("partial_frames", DEFAULT_PARTIAL_FRAMES))
        self.size = int(
            self.info.json_field("embedding_size", self.session.get_outputs()[0].shape[-1])
        )
        self.frames_per_s = SAMPLE_RATE / self.info.features.hop_length

    def mels(self, samples: np.ndarray) -> np.ndarray:
        """``(T, n_mels)`` model input for 16 kHz float32 ``samples``."""
        return compute_features(np.asarray(samples, dtype=np.float32), self.info.features)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """``(B, T, n_mels)`` -> ``(B, D)``, in slices of :data:`MAX_BATCH`."""
        out = [
            self.session.run(["embedding"], {"mels": batch[i : i + MAX_BATCH]})[0]
            for i in range(0, batch.shape[0], MAX_BATCH)
        ]
        return np.concatenate(out).astype(np.float32)

    def partials(self, samples: np.ndarray) -> np.ndarray:
        """``(P, D)`` unit vectors of 1.6 s partials overlapping by half, the last one ending
        at the last frame; ``(0, D)`` for input under 0.2 s.

        Input shorter than one partial is padded with silence (zero mel frames), as
        resemblyzer pads it; on espeak-ng speech that matched the full utterance's
        vector better than running the short input alone or repeating it.
        """
        return self.mel_partials(self.mels(samples))

    def mel_partials(self, mels: np.ndarray) -> np.ndarray:
        """:meth:`partials` of ``(T, n_mels)`` model input already computed (a front end that
        cleans the mels first uses this)."""
        if mels.shape[0] < MIN_FRAMES:
            return np.zeros((0, self.size), np.float32)
        if mels.shape[0] < self.partial_frames:
            mels = np.pad(mels, ((0, self.partial_frames - mels.shape[0]), (0, 0)))
        starts = partial_starts(mels.shape[0], self.partial_frames)
        return self._run(np.stack([mels[s : s + self.partial_frames] for s in starts]))

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """``(D,)`` unit vector for one utterance: the renormalised mean of its
        :meth:`partials`. Input under 0.2 s gives the zero vector (it matches nobody)."""
        partials = self.partials(samples)
        if partials.shape[0] == 0:
            return np.zeros(self.size, np.float32)
        return unit(partials.mean(axis=0))

    def embed_windows(self, samples: np.ndarray, window_s: float, hop_s: float) -> WindowEmbeddings:
        """Embeddings of ``window_s`` windows every ``hop_s`` seconds (none when the input
        is shorter than one window)."""
        mels = self.mels(samples)
        width = round(window_s * self.frames_per_s)
        hop = max(1, round(hop_s * self.frames_per_s))
        starts = np.arange(0, mels.shape[0] - width + 1, hop)
        if starts.size == 0:
            return WindowEmbeddings(np.zeros(0), window_s, np.zeros((0, self.size), np.float32))
        batch = np.stack([mels[s : s + width] for s in starts])
        return WindowEmbeddings(starts / self.frames_per_s, window_s, self._run(batch))


def partial_starts(n_frames: int, partial_frames: int) -> list[int]:
    """First frames of the partials covering ``n_frames``: every half partial, plus one
    ending at the last frame so the tail is heard; ``[0]`` for short input."""
    if n_frames <= partial_frames:
        return [0]
    hop = max(1, round(partial_frames * (1 - PARTIAL_OVERLAP)))
    starts = list(range(0, n_frames - partial_frames + 1, hop))
    if starts[-1] + partial_frames < n_frames:
        starts.append(n_frames - partial_frames)
    return starts
