"""Speech to text on the device: edge features, the DS2 ONNX model, CTC decoding.

Everything model-specific (features, vocabulary) comes from the model file's
metadata. numpy and onnxruntime only. Beam search (``beam_width`` > 1) fuses
the character language model ``edge/assets/stt.lm.npz`` when it is there
(``lm="auto"``), or the one named by ``lm``; greedy decoding never reads it.

Example::

    recognizer = SpeechRecognizer()          # the bundled INT8 model, 1 thread
    text = recognizer.transcribe(samples)    # (n,) float32 at 16 kHz -> "밥 먹자"
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.audio import compute_features
from edge.decoder import Fusion, greedy_ids, ids_to_text, prefix_beam_search
from edge.lm import CharNgram
from edge.onnx_model import ASSETS_DIR, ModelError, bundled_model, open_session

log = logging.getLogger(__name__)

MIN_SAMPLES = 160  # one 10 ms hop: anything shorter has no speech to recognise
BUNDLED_LM = ASSETS_DIR / "stt.lm.npz"


def load_fusion(lm: str | Path | None, tokens: list[str], bundled: bool) -> Fusion | None:
    """The language model to fuse, or None.

    ``"auto"``: the bundled LM with the bundled model, when the file is there (its
    fusion weights were tuned for that model); nothing with another model.
    """
    if lm == "auto":
        lm = BUNDLED_LM if bundled and BUNDLED_LM.is_file() else None
    if lm is None:
        return None
    path = Path(lm)
    model = CharNgram.load(path, tokens)
    log.info("beam search fuses the language model %s", path)
    return Fusion(model, model.lm_weight, model.insertion_bonus)


class SpeechRecognizer:
    """A loaded STT model. ``beam_width`` 1 decodes greedily, more uses prefix beam search."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int = 1,
        beam_width: int = 1,
        lm: str | Path | None = "auto",
    ):
        if beam_width < 1:
            raise ValueError("beam_width must be at least 1")
        path = bundled_model("stt") if model_path is None else Path(model_path)
        self.session, self.info = open_session(path, expect_kind="stt", threads=threads)
        self.tokens: list[str] = self.info.json_field("vocab")
        if not self.tokens:
            raise ModelError(f"{path} has no talkratio.vocab metadata")
        self.beam_width = beam_width
        self.fusion = load_fusion(lm, self.tokens, model_path is None) if beam_width > 1 else None
        self._input = self.session.get_inputs()[0].name

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """``(n,)`` float32 16 kHz samples -> ``(T_out, V)`` CTC log-probabilities."""
        features = compute_features(np.asarray(samples, dtype=np.float32), self.info.features)
        (out,) = self.session.run(None, {self._input: features[None]})
        return out[0]

    def decode(self, log_probs: np.ndarray) -> str:
        if self.beam_width == 1:
            ids = greedy_ids(log_probs)
        else:
            ids = prefix_beam_search(log_probs, self.beam_width, fusion=self.fusion)
        return ids_to_text(ids, self.tokens)

    def transcribe(self, samples: np.ndarray) -> str:
        """The transcript of one utterance (``""`` for audio too short to hold speech)."""
        if np.asarray(samples).size < MIN_SAMPLES:
            return ""
        return self.decode(self.log_probs(samples))
