"""Recognising one utterance: the loaded models, and one segment to one :class:`Utterance`.

No threads here: the file pipeline (:mod:`edge.pipeline`) and live capture
(:mod:`edge.capture`) both call :func:`recognise`.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.hangul import count_eojeol, count_syllables
from edge.onnx_model import ModelInfo
from edge.segmenter import Segment, denoise
from edge.utterance import Utterance

log = logging.getLogger(__name__)

# Without an enrolled household an adult voice stands for its parent (DESIGN.md).
PARENT_OF_VOICE = {"female": "mother", "male": "father"}


class Transcriber(Protocol):
    info: ModelInfo

    def transcribe(self, samples: np.ndarray) -> str: ...


class Tagger(Protocol):
    info: ModelInfo | None
    threshold: float

    def tag(self, samples: np.ndarray, track=None): ...  # -> edge.voice.VoiceResult


def model_label(info: ModelInfo | None, fallback: str) -> str:
    return fallback if info is None else f"{info.name}@{info.version}"


@dataclass
class Recognizers:
    """The loaded models: STT (``None`` when transcription is off) and a voice tagger."""

    voice: Tagger
    stt: Transcriber | None = None

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
        }


def load_recognizers(
    stt_path: str | Path | None = None,
    voice_path: str | Path | None = None,
    threads: int = 1,
    transcribe: bool = True,
    voice_threshold: float | None = None,
) -> Recognizers:
    """The bundled models unless paths are given; raises ``ModelError`` with a sentence."""
    from edge.voice import load_voice_tagger

    tagger = load_voice_tagger(voice_path, threads=threads)
    if voice_threshold is not None:
        tagger.threshold = voice_threshold
    stt = None
    if transcribe:
        from edge.stt import SpeechRecognizer

        stt = SpeechRecognizer(stt_path, threads=threads)
    return Recognizers(voice=tagger, stt=stt)


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
    result = recognizers.voice.tag(segment.samples, segment.pitch)
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
        speaker=PARENT_OF_VOICE.get(result.voice),
    )


def _transcribe(samples: np.ndarray, stt: Transcriber, denoise_first: bool) -> str:
    return stt.transcribe(denoise(samples) if denoise_first else samples)
