"""The :class:`Voiceprint` record: one parent's voice as a vector (never audio).

It lives on its own so that the store can keep voiceprints without importing
the speaker model that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Voiceprint:
    """One parent's voice: ``embedding`` (unit float32 vector) with the model that made it.

    ``speech_s``: voiced seconds it was made from; ``quality``: mean cosine of its
    1.6 s partials to the voiceprint (near 1: one steady voice; low: noise or
    several voices); ``created_at``: Unix time.
    """

    role: str
    embedding: np.ndarray = field(repr=False)
    model_sha256: str
    model_name: str
    created_at: float
    speech_s: float
    quality: float

    def describe(self) -> dict:
        """What ``talkratio household`` shows: everything but the embedding."""
        return {
            "role": self.role,
            "created_at": self.created_at,
            "model": self.model_name,
            "model_sha256": self.model_sha256,
            "speech_s": round(self.speech_s, 1),
            "quality": round(self.quality, 3),
        }
