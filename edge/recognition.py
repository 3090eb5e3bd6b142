"""Recognising one utterance: the loaded models, and one segment to one :class:`Utterance`.

No threads here: the file pipeline (:mod:`edge.pipeline`) and live capture
(:mod:`edge.capture`) both call :func:`recognise`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.cohort import load_cohort
from edge.hangul import count_eojeol, count_syllables
from edge.household import PARENT_OF_VOICE as PARENT_OF_VOICE  # the tests' ground truth uses it
from edge.household import Household, speaker_of
from edge.onnx_model import ModelError, ModelInfo
from edge.segmenter import Segment, denoise
from edge.utterance import Utterance
from edge.voiceprint import Voiceprint

log = logging.getLogger(__name__)


class Transcriber(Protocol):
    info: ModelInfo

    def transcribe(self, samples: np.ndarray) -> str: ...


class Tagger(Protocol):
    info: ModelInfo | None
    threshold: float

    # -> edge.voice.VoiceResult; ``embedding``: the utterance's speaker vector, or None
    def tag(self, samples: np.ndarray, track=None, embedding=None): ...


class Embedder(Protocol):
    info: ModelInfo

    def embed(self, samples: np.ndarray) -> np.ndarray: ...


def model_label(info: ModelInfo | None, fallback: str) -> str:
    return fallback if info is None else f"{info.name}@{info.version}"


@dataclass
class Recognizers:
    """The loaded models: STT (``None`` when transcription is off), a voice tagger, the
    speaker encoder (``None`` when none is bundled: speakers then follow the voice type)
    and the enrolled household (``None``: nobody enrolled)."""

    voice: Tagger
    stt: Transcriber | None = None
    speaker: Embedder | None = None
    household: Household | None = None

    def embedding(self, segment: Segment) -> np.ndarray | None:
        """The segment's speaker vector (None without a speaker model). It is always
        made from 1.6 s partials, as the household threshold was calibrated; the
        voice-change windows are 1 s and are not reused for it."""
        return None if self.speaker is None else self.speaker.embed(segment.samples)

    def household_json(self) -> dict:
        return {"enrolled": self.household.enrolled if self.household is not None else []}

    @property
    def voice_model(self) -> str:
        return model_label(self.voice.info, "pitch")

    @property
    def stt_model(self) -> str:
        return model_label(self.stt.info, "") if self.stt is not None else ""

    def models_json(self) -> dict:
        def describe(info: ModelInfo | None, fallback: str) -> dict:
            if info is None:
                return {"name": fallback, "version": None, "sha256": None}
            return {"name": info.name, "version": info.version, "sha256": info.sha256}

        return {
            "stt": describe(self.stt.info if self.stt else None, "none"),
            "voice": describe(self.voice.info, "pitch"),
            "speaker": describe(self.speaker.info if self.speaker else None, "none"),
        }


def load_recognizers(
    stt_path: str | Path | None = None,
    voice_path: str | Path | None = None,
    threads: int = 1,
    transcribe: bool = True,
    voice_threshold: float | None = None,
    speaker_path: str | Path | None = None,
    voiceprints: Sequence[Voiceprint] = (),
) -> Recognizers:
    """The bundled models unless paths are given, and the household of ``voiceprints``.

    Raises ``ModelError`` (or ``HouseholdError`` for voiceprints of another speaker
    model) with a sentence for the user.
    """
    from edge.voice import load_voice_tagger, typed_other_max

    tagger = load_voice_tagger(voice_path, threads=threads)
    if voice_threshold is not None:
        tagger.threshold = voice_threshold
    stt = None
    if transcribe:
        from edge.stt import SpeechRecognizer

        stt = SpeechRecognizer(stt_path, threads=threads)
    encoder = load_speaker_encoder(speaker_path, threads)
    household = None
    if voiceprints:
        if encoder is None:
            raise ModelError("a household is enrolled but no speaker model is available")
        cohort = load_cohort(encoder.info)
        household = Household(voiceprints, encoder.info, typed_other_max(tagger), cohort)
    return Recognizers(voice=tagger, stt=stt, speaker=encoder, household=household)


def load_speaker_encoder(path: str | Path | None = None, threads: int = 1):
    """The speaker encoder at ``path`` (default: the bundled one), or ``None`` when no path
    was given and none is bundled."""
    from edge.speaker import SpeakerEncoder, bundled_speaker_model

    if path is None and bundled_speaker_model() is None:
        log.warning("no speaker model bundled: speakers follow the voice type")
        return None
    return SpeakerEncoder(path, threads=threads)


def recognise(
    segment: Segment,
    recognizers: Recognizers,
    wall_origin: float,
    transcribe: bool = True,
    denoise_stt: bool = False,
    source: str = "",
    stt_thread: Executor | None = None,
) -> Utterance:
    """One segment to one :class:`Utterance` (voice always; text when ``transcribe``).

    With ``stt_thread``, transcription runs there while the voice is tagged here
    (onnxruntime releases the GIL): the latency is the slower of the two, not the sum.
    """
    wanted = transcribe and recognizers.stt is not None
    job = None
    if wanted and stt_thread is not None:
        job = stt_thread.submit(_transcribe, segment.samples, recognizers.stt, denoise_stt)
    embedding = recognizers.embedding(segment)
    result = recognizers.voice.tag(segment.samples, segment.pitch, embedding=embedding)
    other_prob = result.scores.get("other", 0.0)  # a loudspeaker's probability
    speaker, score = speaker_of(result.voice, recognizers.household, embedding, other_prob)
    if job is not None:
        text = job.result()
    elif wanted:
        text = _transcribe(segment.samples, recognizers.stt, denoise_stt)
    else:
        text = None
    return Utterance(
        start=segment.start,
        end=segment.end,
        wall_start=wall_origin + segment.start,
        voice=result.voice,
        voice_prob=float(result.prob),
        text=text,
        syllables=count_syllables(text or ""),
        eojeol=count_eojeol(text or ""),
        transcribed=text is not None,
        stt_model=recognizers.stt_model,
        voice_model=recognizers.voice_model,
        source=source,
        speaker=speaker,
        speaker_score=score,
    )


def _transcribe(samples: np.ndarray, stt: Transcriber, denoise_first: bool) -> str:
    return stt.transcribe(denoise(samples) if denoise_first else samples)
