"""Cost of each stage of the pipeline, and of the whole pipeline, on recordings and utterances.

Stages, each timed on its own with the runtime's own functions:

- ``decode``: file to 16 kHz mono blocks (``iter_audio_blocks``);
- ``vad``: the segmenter over those blocks (``segment_stream`` with the runtime's
  default, webrtcvad as the gate and the neural VAD (Silero) deciding);
- ``speaker``: the speaker encoder's embedding of each utterance (``Recognizers.embedding``);
- ``voice``: the voice tagger on the utterance and its embedding, its features included;
- ``stt``: transcription (features, the ONNX session, CTC decoding with the language model);
- ``store``: one committed SQLite row per utterance (``Store.add``).

The ``whole`` figure is not a sum: it is ``analyze_file`` timed end to end plus
storing its utterances, i.e. what ``talkratio analyze`` does. Every figure is
also given as a real-time factor: seconds of work per second of audio.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, iter_audio_blocks
from edge.pipeline import FileAnalysis, PipelineOptions, analyze_file
from edge.recognition import Recognizers, load_recognizers
from edge.segmenter import Segment, segment_stream
from edge.utterance import Utterance

log = logging.getLogger(__name__)

STAGES = ("decode", "vad", "speaker", "voice", "stt", "store")


@dataclass(frozen=True)
class ModelPair:
    """An STT and a voice model file that are measured together (``label``: e.g. ``int8``)."""

    label: str
    stt: Path
    voice: Path | None


@dataclass
class StageCost:
    """Seconds spent per stage on ``audio_s`` seconds of audio in ``utterances`` utterances."""

    audio_s: float = 0.0
    utterances: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    whole_s: float | None = None
    whole_cpu_s: float | None = None  # this process's CPU time for the same work (every thread)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def rtf(self) -> dict[str, float]:
        per_stage = {k: v / self.audio_s for k, v in self.seconds.items()} if self.audio_s else {}
        per_stage["sum"] = sum(per_stage.values())
        if self.whole_s is not None and self.audio_s:
            per_stage["whole"] = self.whole_s / self.audio_s
        if self.whole_cpu_s is not None and self.audio_s:
            per_stage["whole_cpu"] = self.whole_cpu_s / self.audio_s
        return per_stage

    def to_json(self) -> dict:
        return {"audio_s": round(self.audio_s, 2), "utterances": self.utterances,
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
                "whole_s": None if self.whole_s is None else round(self.whole_s, 3),
                "whole_cpu_s": None if self.whole_cpu_s is None else round(self.whole_cpu_s, 3),
                "rtf": {k: round(v, 5) for k, v in self.rtf().items()}}


def timed(call: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def load_pair(pair: ModelPair, threads: int) -> Recognizers:
    return load_recognizers(pair.stt, pair.voice, threads=threads)


# --------------------------------------------------------------------------- per stage


def _segments_of(path: Path, cost: StageCost) -> list[Segment]:
    blocks, seconds = timed(lambda: list(iter_audio_blocks(path)))
    cost.add("decode", seconds)
    cost.audio_s += sum(b.size for b in blocks) / SAMPLE_RATE
    segments, seconds = timed(lambda: list(segment_stream(iter(blocks), PipelineOptions().segmenter)))
    cost.add("vad", seconds)
    return segments


def _recognise_timed(segment: Segment, recognizers: Recognizers, cost: StageCost) -> None:
    """What ``edge.recognition.recognise`` does to one segment, one stage at a time."""
    embedding, seconds = timed(lambda: recognizers.embedding(segment))
    cost.add("speaker", seconds)
    _, seconds = timed(lambda: recognizers.voice.tag(segment.samples, segment.pitch, embedding=embedding))
    cost.add("voice", seconds)
    if recognizers.stt is not None:
        _, seconds = timed(lambda: recognizers.stt.transcribe(segment.samples))
        cost.add("stt", seconds)


def _store_timed(segments: Sequence[Segment], recognizers: Recognizers, cost: StageCost) -> None:
    """One committed row per segment, with a typical record (the recognisers ran above)."""
    from edge.store import Store

    now = time.time()
    records = [Utterance(s.start, s.end, now + s.start, "female", 0.9, "밥 먹자", 2, 2, True,
                         recognizers.stt_model, recognizers.voice_model, "benchmark") for s in segments]
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        for record in records:
            _, seconds = timed(lambda r=record: store.add(r))
            cost.add("store", seconds)


def stage_costs(paths: Sequence[Path], recognizers: Recognizers, whole: bool = True,
                vad: bool = True) -> StageCost:
    """Per-stage cost over recordings (``vad``) or over single utterances (``vad=False``:
    each file is one utterance, as the recognisers see it after the segmenter)."""
    cost = StageCost()
    for path in paths:
        if vad:
            segments = _segments_of(path, cost)
        else:
            blocks, seconds = timed(lambda p=path: list(iter_audio_blocks(p)))
            cost.add("decode", seconds)
            samples = np.concatenate(blocks)
            cost.audio_s += samples.size / SAMPLE_RATE
            segments = [Segment(0.0, samples.size / SAMPLE_RATE, 0.0, samples)]
        for segment in segments:
            _recognise_timed(segment, recognizers, cost)
        _store_timed(segments, recognizers, cost)
        cost.utterances += len(segments)
    if whole:
        cost.whole_s, cost.whole_cpu_s, _ = whole_pipeline(paths, recognizers)
    return cost


def whole_pipeline(paths: Sequence[Path], recognizers: Recognizers
                   ) -> tuple[float, float, list[FileAnalysis]]:
    """``talkratio analyze`` in-process (analyze_file, then one stored row per utterance) over
    ``paths``: its wall seconds, its CPU seconds and the analyses themselves."""
    from edge.store import Store

    wall = cpu = 0.0
    analyses = []
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        for path in paths:
            start, start_cpu = time.perf_counter(), time.process_time()
            result = analyze_file(path, recognizers)
            for utterance in result.utterances:
                store.add(utterance)
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            analyses.append(result)
    return wall, cpu, analyses


def warm_up(recognizers: Recognizers, seconds: float = 2.0) -> None:
    """One pass over noise so that first-call costs (allocations, thread pools) are not timed."""
    samples = np.random.default_rng(0).normal(0, 0.05, int(seconds * SAMPLE_RATE)).astype(np.float32)
    _recognise_timed(Segment(0.0, seconds, 0.0, samples), recognizers, StageCost())


# --------------------------------------------------------------------------- per utterance


@dataclass(frozen=True)
class UtteranceLatency:
    """Recognition of one utterance of ``audio_s`` seconds (speaker embedding, voice, STT), in seconds."""

    audio_s: float
    speaker_s: float
    voice_s: float
    stt_s: float

    @property
    def total_s(self) -> float:
        return self.speaker_s + self.voice_s + self.stt_s

    def to_json(self) -> dict:
        return {"audio_s": round(self.audio_s, 2), "speaker_ms": round(self.speaker_s * 1e3, 2),
                "voice_ms": round(self.voice_s * 1e3, 2), "stt_ms": round(self.stt_s * 1e3, 2),
                "total_ms": round(self.total_s * 1e3, 2), "rtf": round(self.total_s / self.audio_s, 5)}


def utterance_latency(samples: np.ndarray, recognizers: Recognizers, repeats: int = 3) -> UtteranceLatency:
    """Best of ``repeats`` for each part of recognising one utterance."""
    segment = Segment(0.0, samples.size / SAMPLE_RATE, 0.0, samples)
    best: UtteranceLatency | None = None
    for _ in range(repeats):
        cost = StageCost()
        _recognise_timed(segment, recognizers, cost)
        run = UtteranceLatency(segment.duration, cost.seconds["speaker"], cost.seconds["voice"],
                               cost.seconds["stt"])
        best = run if best is None or run.total_s < best.total_s else best
    assert best is not None
    return best
