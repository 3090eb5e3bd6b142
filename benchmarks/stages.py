"""Cost of each stage of the pipeline, and of the whole pipeline, on recordings and utterances.

Stages, each timed on its own with the runtime's own functions:

- ``decode``: file to 16 kHz mono blocks (``iter_audio_blocks``);
- ``vad``: the webrtcvad segmenter over those blocks (``segment_stream``);
- ``features``: the STT and the voice model's features (``compute_features``);
- ``stt``: the STT ONNX session on those features, then CTC decoding;
- ``voice``: the voice tagger (pitch track and classifier) minus its features;
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

from edge.audio import SAMPLE_RATE, compute_features, iter_audio_blocks
from edge.pipeline import FileAnalysis, PipelineOptions, analyze_file
from edge.recognition import Recognizers, load_recognizers
from edge.segmenter import Segment, segment_stream
from edge.utterance import Utterance

log = logging.getLogger(__name__)

STAGES = ("decode", "vad", "features", "stt", "voice", "store")


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

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def rtf(self) -> dict[str, float]:
        per_stage = {k: v / self.audio_s for k, v in self.seconds.items()} if self.audio_s else {}
        per_stage["sum"] = sum(per_stage.values())
        if self.whole_s is not None and self.audio_s:
            per_stage["whole"] = self.whole_s / self.audio_s
        return per_stage

    def to_json(self) -> dict:
        return {"audio_s": round(self.audio_s, 2), "utterances": self.utterances,
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
                "whole_s": None if self.whole_s is None else round(self.whole_s, 3),
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


def _recognise_timed(samples: np.ndarray, recognizers: Recognizers, cost: StageCost) -> None:
    stt, voice = recognizers.stt, recognizers.voice
    features, seconds = timed(lambda: compute_features(samples, stt.info.features))
    cost.add("features", seconds)
    name = stt.session.get_inputs()[0].name
    log_probs, seconds = timed(lambda: stt.session.run(None, {name: features[None]})[0][0])
    _, decode_s = timed(lambda: stt.decode(log_probs))
    cost.add("stt", seconds + decode_s)
    voice_features_s = 0.0
    if voice.info is not None:
        _, voice_features_s = timed(lambda: compute_features(samples, voice.info.features))
    _, seconds = timed(lambda: voice.tag(samples))
    cost.add("features", voice_features_s)
    cost.add("voice", max(0.0, seconds - voice_features_s))


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


def stage_costs(paths: Sequence[Path], recognizers: Recognizers, whole_pipeline: bool = True,
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
            _recognise_timed(segment.samples, recognizers, cost)
        _store_timed(segments, recognizers, cost)
        cost.utterances += len(segments)
    if whole_pipeline:
        cost.whole_s = whole_pipeline_seconds(paths, recognizers)
    return cost


def whole_pipeline_seconds(paths: Sequence[Path], recognizers: Recognizers) -> float:
    """``talkratio analyze`` in-process: analyze_file, then one stored row per utterance."""
    return whole_pipeline(paths, recognizers)[0]


def whole_pipeline(paths: Sequence[Path], recognizers: Recognizers) -> tuple[float, list[FileAnalysis]]:
    """Seconds of analyze_file + storing, over ``paths``, and the analyses themselves."""
    from edge.store import Store

    total, analyses = 0.0, []
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        for path in paths:
            start = time.perf_counter()
            result = analyze_file(path, recognizers)
            for utterance in result.utterances:
                store.add(utterance)
            total += time.perf_counter() - start
            analyses.append(result)
    return total, analyses


def warm_up(recognizers: Recognizers, seconds: float = 2.0) -> None:
    """One pass over noise so that first-call costs (allocations, thread pools) are not timed."""
    samples = np.random.default_rng(0).normal(0, 0.05, int(seconds * SAMPLE_RATE)).astype(np.float32)
    recognizers.voice.tag(samples)
    recognizers.stt.transcribe(samples)


# --------------------------------------------------------------------------- per utterance


@dataclass(frozen=True)
class UtteranceLatency:
    """Recognition of one utterance of ``audio_s`` seconds (features, STT, voice), in seconds."""

    audio_s: float
    features_s: float
    stt_s: float
    voice_s: float

    @property
    def total_s(self) -> float:
        return self.features_s + self.stt_s + self.voice_s

    def to_json(self) -> dict:
        return {"audio_s": round(self.audio_s, 2), "features_ms": round(self.features_s * 1e3, 2),
                "stt_ms": round(self.stt_s * 1e3, 2), "voice_ms": round(self.voice_s * 1e3, 2),
                "total_ms": round(self.total_s * 1e3, 2), "rtf": round(self.total_s / self.audio_s, 5)}


def utterance_latency(samples: np.ndarray, recognizers: Recognizers, repeats: int = 3) -> UtteranceLatency:
    """Best of ``repeats`` for each part of recognising one utterance."""
    best: UtteranceLatency | None = None
    for _ in range(repeats):
        cost = StageCost()
        _recognise_timed(samples, recognizers, cost)
        run = UtteranceLatency(samples.size / SAMPLE_RATE, cost.seconds["features"],
                               cost.seconds["stt"], cost.seconds["voice"])
        best = run if best is None or run.total_s < best.total_s else best
    assert best is not None
    return best
