"""The household: each parent's voiceprint, and whose voice an utterance is.

A voiceprint is one speaker-encoder vector made from about 30 s of one parent
talking alone (never audio). Once a household is enrolled, an utterance is the
mother's or the father's only when its vector is close enough to that parent's
voiceprint (cosine at or above the threshold the speaker model carries, measured
by ``talkratio-train speaker-eval``) and closer to it than to the other
parent's. Anyone else (a guest, the TV, the child) is nobody's.

With the bundled cohort (:mod:`edge.cohort`) both thresholds apply to t-norm
scores (the cosine's lead over a cohort of other voices) instead of raw
cosines; the voiceprints themselves are the same, so stored ones keep working.

Voiceprints are only comparable with vectors of the model that made them: a
voiceprint of another model is refused with a sentence asking to enrol again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence

import numpy as np

from edge.cohort import Cohort
from edge.errors import UserError
from edge.onnx_model import ModelError, ModelInfo
from edge.segmenter import SegmenterOptions, segment_stream
from edge.speaker import SpeakerEncoder, unit
from edge.voiceprint import Voiceprint

log = logging.getLogger(__name__)

ROLES = ("mother", "father")
PARENT_OF_VOICE = {"female": "mother", "male": "father"}  # with no household enrolled (DESIGN.md)
MIN_ENROL_SPEECH_S = 20.0  # voiced speech an enrolment needs (about 30 s of talking alone)
# a loudspeaker is never a parent, whatever the match says; "unknown" may be (a mother
# talking to her child at 320 Hz can leave the voice type unsure); "child" only at a
# cohort's child_min, far above the strict threshold (Household.match; the bundled cohort
# has none, so a child voice is nobody's: edge/assets/speaker.md)
NEVER_PARENT_VOICES = ("other",)
CHILD = "child"


class EnrolmentError(UserError, ValueError):
    """An enrolment that cannot be made, with a sentence for the user."""


class HouseholdError(UserError, RuntimeError):
    """Stored voiceprints that cannot be used, with a sentence for the user."""


def enrol(
    role: str,
    blocks: Iterable[np.ndarray],
    encoder: SpeakerEncoder,
    vad: SegmenterOptions = SegmenterOptions(),
    min_speech_s: float = MIN_ENROL_SPEECH_S,
) -> Voiceprint:
    """A voiceprint from 16 kHz audio blocks of one parent talking alone.

    The audio goes through the same VAD as every recording; only its speech
    counts. Raises :class:`EnrolmentError` when ``role`` is not a parent or there
    is less than ``min_speech_s`` of speech.
    """
    if role not in ROLES:
        raise EnrolmentError(f"{role!r} is not a parent: enrol one of {', '.join(ROLES)}")
    segments = list(segment_stream(blocks, vad))
    speech_s = sum(s.duration for s in segments)
    if speech_s < min_speech_s:
        raise EnrolmentError(
            f"only {speech_s:.0f} s of speech was heard, and a voiceprint needs at least "
            f"{min_speech_s:.0f} s: record the {role} talking alone for about 30 s"
        )
    partials = encoder.partials(np.concatenate([s.samples for s in segments]))
    centroid = unit(partials.mean(axis=0))
    return Voiceprint(
        role=role,
        embedding=centroid,
        model_sha256=encoder.info.sha256,
        model_name=f"{encoder.info.name}@{encoder.info.version}",
        created_at=time.time(),
        speech_s=float(speech_s),
        quality=float((partials @ centroid).mean()),
    )


def match_threshold(info: ModelInfo, key: str = "match_threshold") -> float:
    """The cosine a parent's utterance must reach, from the speaker model's metadata
    (``key``: ``match_threshold``, or ``match_threshold_typed`` for the typed tier)."""
    value = info.json_field(key)
    if value is None:
        raise ModelError(
            f"{info.path} has no talkratio.{key}; calibrate it with "
            "talkratio-train speaker-eval --model MODEL --typed --write"
        )
    return float(value)


class Household:
    """The enrolled parents. :meth:`match` names whose voice a vector is, if anyone's.

    ``typed_other_max``: the typed tier trusts a ``female``/``male`` voice type only
    while the voice model's probability of ``other`` (a loudspeaker) is under this
    (``talkratio.other_threshold_typed`` of the voice model; 1.0: always). A TV
    presenter tagged ``female`` often carries some ``other`` probability, and the typed
    threshold is low enough for a presenter of the parent's own type to reach it.

    ``cohort``: with one (:func:`edge.cohort.load_cohort`), the thresholds are the
    cohort's and apply to t-norm scores, and its ``other_max`` tightens the TV guard
    when lower; without, the speaker model's thresholds apply, on cosines.
    """

    def __init__(
        self,
        voiceprints: Sequence[Voiceprint],
        model: ModelInfo,
        typed_other_max: float = 1.0,
        cohort: Cohort | None = None,
    ):
        for print_ in voiceprints:
            if print_.model_sha256 != model.sha256:
                raise HouseholdError(
                    f"the {print_.role}'s voiceprint was made by another speaker model "
                    f"({print_.model_name}); enrol again: talkratio enroll {print_.role} --file WAV"
                )
        self.voiceprints = {p.role: p for p in voiceprints}
        self.threshold = match_threshold(model) if voiceprints else 1.0
        typed = model.json_field("match_threshold_typed")  # older models: strict tier only
        self.typed_threshold = self.threshold if typed is None else float(typed)
        if cohort is not None:
            self.threshold, self.typed_threshold = cohort.strict, cohort.typed
        self.cohort = cohort
        self.typed_other_max = min(typed_other_max, 1.0 if cohort is None else cohort.other_max)

    @property
    def enrolled(self) -> list[str]:
        return [role for role in ROLES if role in self.voiceprints]

    def match(
        self, embedding: np.ndarray, voice: str | None = None, other_prob: float = 0.0
    ) -> tuple[str | None, float | None]:
        """``(role, cosine)``: the parent whose voiceprint is closest, when it is strictly
        closer than the other parent's and its score (the cosine, or its t-norm with a
        cohort) reaches the strict threshold, or the typed one when ``voice`` is that
        parent's voice type and ``other_prob`` (the voice model's probability of a
        loudspeaker) is under ``typed_other_max``; a ``child`` voice only at the cohort's
        ``child_min`` (never without a cohort); else ``(None, best cosine)``.
        ``(None, None)`` with nobody enrolled."""
        if not self.voiceprints:
            return None, None
        cosines = {role: float(p.embedding @ embedding) for role, p in self.voiceprints.items()}
        scores = cosines if self.cohort is None else self.cohort.normalise(cosines, embedding)
        best = max(scores, key=scores.get)
        others = [s for role, s in scores.items() if role != best]
        typed = PARENT_OF_VOICE.get(voice or "") == best and other_prob < self.typed_other_max
        needed = min(self.threshold, self.typed_threshold) if typed else self.threshold
        if voice == CHILD:
            needed = math.inf if self.cohort is None else max(self.threshold, self.cohort.child_min)
        if scores[best] >= needed and all(scores[best] > s for s in others):
            return best, cosines[best]
        return None, cosines[best]


def speaker_of(
    voice: str,
    household: Household | None,
    embedding: np.ndarray | None,
    other_prob: float = 0.0,
):
    """``(speaker, score)`` of an utterance with voice type ``voice``.

    Enrolled: the matched parent (the typed tier when ``voice`` is theirs and
    ``other_prob``, the voice model's probability of a loudspeaker, is low enough),
    never for an ``other`` voice, and for a ``child`` voice only at the cohort's
    ``child_min`` (:meth:`Household.match`). Not enrolled: ``female`` is the mother
    and ``male`` the father (score None).
    """
    if household is None or not household.enrolled:
        return PARENT_OF_VOICE.get(voice), None
    if embedding is None:
        return None, None
    role, score = household.match(embedding, voice, other_prob)
    return (None if voice in NEVER_PARENT_VOICES else role), score
