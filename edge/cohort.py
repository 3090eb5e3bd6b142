"""Score normalisation of the household match against a cohort of non-parent voices.

Noise lowers an utterance's cosine to every voiceprint, and a child's raised
voice lies close to many adult women's. A raw cosine threshold cannot tell
either from a parent's own speech. So the match also compares the utterance with
a bundled cohort of other people (speaker vectors, never audio): the training
split's espeak-ng voices talking as adults, as children, and through a
loudspeaker. The normalised score is how many standard deviations the
utterance's cosine to a parent's voiceprint lies above its cosines to the cohort
(t-norm). A parent's noisy speech drops against the cohort as much as against
the voiceprint and keeps its lead; a child's voice is as close to the cohort's
children as to the mother, and does not stand out.

The cohort, its two thresholds (strict and typed, like
``talkratio.match_threshold`` and ``match_threshold_typed``), its TV guard
(the typed tier only while the voice model's probability of ``other`` is under
``other_max``) and ``child_min`` (the score at which an utterance the voice model
called ``child`` is still the parent it matches: a mother talking to her child
can sound like one, while the child's own voice does not stand out against the
cohort's children) are made and chosen by ``python -m training.household_match``
and belong to one speaker model: with another model the match falls back to raw
cosines, and a ``child`` voice is nobody's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.onnx_model import ASSETS_DIR, ModelInfo

log = logging.getLogger(__name__)

BUNDLED_COHORT = ASSETS_DIR / "household_cohort.npz"
MIN_SPREAD = 1e-6  # a cohort whose cosines are all equal would divide by zero


@dataclass(frozen=True)
class Cohort:
    """``vectors`` (N, D) unit speaker vectors of non-parents; thresholds on t-norm scores;
    ``other_max``: the typed tier's ceiling on the voice model's probability of ``other``;
    ``child_min``: the score a ``child`` voice needs to be a parent (inf: never)."""

    vectors: np.ndarray
    speaker_sha256: str
    strict: float
    typed: float
    other_max: float = 1.0
    child_min: float = math.inf

    def normalise(self, cosines: dict[str, float], embedding: np.ndarray) -> dict[str, float]:
        """Each cosine as standard deviations above ``embedding``'s cosines to the cohort."""
        against = self.vectors @ embedding
        spread = max(float(against.std()), MIN_SPREAD)
        return {key: (value - float(against.mean())) / spread for key, value in cosines.items()}


def load_cohort(info: ModelInfo, path: Path = BUNDLED_COHORT) -> Cohort | None:
    """The cohort at ``path`` when it was made with the speaker model ``info``; else None
    (the household then matches on raw cosines, with the model's own thresholds)."""
    if not path.is_file():
        return None
    with np.load(path) as data:
        cohort = Cohort(
            vectors=np.asarray(data["vectors"], np.float32),
            speaker_sha256=str(data["speaker_sha256"]),
            strict=float(data["strict"]),
            typed=float(data["typed"]),
            other_max=float(data["other_max"]) if "other_max" in data.files else 1.0,
            child_min=float(data["child_min"]) if "child_min" in data.files else math.inf,
        )
    if cohort.speaker_sha256 != info.sha256:
        log.warning("%s was made with another speaker model: matching on raw cosines", path)
        return None
    return cohort
