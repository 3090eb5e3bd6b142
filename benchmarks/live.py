"""``talkratio live --input-file`` and ``talkratio analyze`` as a user runs them: memory and latency.

The live run plays a recording at real-time pace through the same path as a
microphone (capture thread, VAD, recognition worker, store). Its RSS is sampled
all along; afterwards each stored row gives a latency:

- ``detected -> stored``: from the moment the VAD decided that the speech had
  ended (found by replaying the runtime's deterministic segmenter on the same
  recording in the same capture blocks) to the row's ``stored_at``: what
  recognition and storage cost (the first benchmark's 200 ms reading);
- ``speech end -> stored``: from the utterance's stored end (its voiced speech,
  i.e. the speaker's last word) to ``stored_at``; it adds the VAD's wait for
  silence (endpointing) and is what the 400 ms target of issue 10 is about.

Times of a row: ``wall_start - start_s`` is the wall-clock moment the capture began.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.memory import MemoryTrace, trace_command
from edge.segmenter import SegmenterOptions
from edge.sources import LIVE_BLOCK_SECONDS

LATENCY_MAX_UTTERANCE_S = 8.0  # the target covers utterances up to 8 s
SPAN_TOLERANCE_S = 0.05  # a stored span lies inside its VAD segment up to this much
# a stored end this close to its segment's end is that end (the runtime tightens the
# segment's padded end to the voiced speech, by up to the end padding)
SEGMENT_END_TOLERANCE_S = 0.5
PERCENTILES = (50, 95)


def console_command(script: str, module: str) -> list[str]:
    """An installed console script (``talkratio``), or its ``main`` through this Python."""
    path = Path(sys.executable).parent / script
    if path.exists():
        return [str(path)]
    return [sys.executable, "-c", f"from {module} import main; main()"]


def talkratio_command() -> list[str]:
    return console_command("talkratio", "edge.cli")


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds over ``count`` utterances."""

    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def to_json(self) -> dict:
        return {"count": self.count, "p50_ms": round(self.p50_ms, 1), "p95_ms": round(self.p95_ms, 1),
                "max_ms": round(self.max_ms, 1)}


def latency_stats(seconds: list[float]) -> LatencyStats:
    if not seconds:
        return LatencyStats(0, math.nan, math.nan, math.nan)
    ms = np.asarray(seconds) * 1e3
    p50, p95 = np.percentile(ms, PERCENTILES)
    return LatencyStats(len(ms), float(p50), float(p95), float(ms.max()))


@dataclass(frozen=True)
class LiveRun:
    """One live run: its memory trace and the latency of each stored utterance."""

    audio_s: float
    trace: MemoryTrace
    detected_to_stored_s: list[float]
    speech_end_to_stored_s: list[float]
    spans: list[tuple[float, float]]  # (start_s, end_s) of each utterance in the latency lists
    utterances: int
    transcribed: int
    speed: float
    ends_segment: list[bool] = field(default_factory=list)  # per span: it ends its VAD segment

    def to_json(self) -> dict:
        whole = [s for s, last in zip(self.speech_end_to_stored_s, self.ends_segment, strict=True) if last]
        return {
            "audio_s": round(self.audio_s, 1), "speed": self.speed, "utterances": self.utterances,
            "transcribed": self.transcribed,
            "latency_detected_to_stored": latency_stats(self.detected_to_stored_s).to_json(),
            "latency_speech_end_to_stored": latency_stats(self.speech_end_to_stored_s).to_json(),
            # utterances that end their VAD segment: not the first part of a segment the
            # runtime cut at a change of voice, whose record waits for the whole segment
            "latency_speech_end_to_stored_segment_ends": latency_stats(whole).to_json(),
            "per_utterance": [{"start_s": a, "end_s": b, "detected_to_stored_ms": round(1e3 * d, 1)}
                              for (a, b), d in zip(self.spans, self.detected_to_stored_s, strict=True)],
            # the device's path: microphone-sized blocks, at real-time pace; the whole process
            # (start-up and model loading included), every thread
            "cpu_s_per_audio_s": (None if self.trace.cpu_s is None or not self.audio_s
                                  else round(self.trace.cpu_s / self.audio_s, 5)),
            "memory": self.trace.to_json(),
        }


def _rows(db: Path) -> list[tuple[float, float, float, float, int]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT start_s, end_s, wall_start, stored_at, transcribed FROM utterances ORDER BY id"
        ).fetchall()


def detection_s(end_s: float, options: SegmenterOptions = SegmenterOptions(),
                block_s: float = LIVE_BLOCK_SECONDS) -> float:
    """Recording time by which the VAD has decided that speech whose last voiced frame
    ends at ``end_s`` is over: the hangover later (the neural VAD's endpointing often
    decides sooner), on a capture block boundary."""
    hangover_s = options.hangover_ms / 1000
    return math.ceil(round((end_s + hangover_s) / block_s, 6)) * block_s


@dataclass(frozen=True)
class VadDecision:
    """One segment of the runtime's segmenter and when (recording time) it was emitted."""

    audio_start: float
    end: float
    decided_s: float


def vad_decisions(recording: Path, options: SegmenterOptions = SegmenterOptions(),
                  block_s: float = LIVE_BLOCK_SECONDS) -> list[VadDecision]:
    """Replay the segmenter on ``recording`` in capture blocks: when each segment was emitted.

    Both VADs are deterministic, so this is the live run's own decision time. The
    stored utterance times cannot give it: the runtime tightens them to the voiced
    speech and cuts quick replies apart, after the VAD has decided.
    """
    from edge.audio import SAMPLE_RATE, iter_audio_blocks
    from edge.segmenter import Segmenter

    segmenter, heard, decisions = Segmenter(options), 0, []
    step = int(block_s * SAMPLE_RATE)
    for block in iter_audio_blocks(recording):
        for i in range(0, block.size, step):
            heard += block[i : i + step].size
            decisions += [VadDecision(s.audio_start, s.end, heard / SAMPLE_RATE)
                          for s in segmenter.feed(block[i : i + step])]
    decisions += [VadDecision(s.audio_start, s.end, heard / SAMPLE_RATE) for s in segmenter.flush()]
    return decisions


def _segment_of(start_s: float, end_s: float, decisions: list[VadDecision]) -> VadDecision | None:
    """The VAD segment an utterance came from."""
    for decision in decisions:
        if decision.audio_start - SPAN_TOLERANCE_S <= start_s and end_s <= decision.end + SPAN_TOLERANCE_S:
            return decision
    return None


def _decision_for(start_s: float, end_s: float, decisions: list[VadDecision]) -> float:
    """Decision time of the VAD segment an utterance came from (falls back to the estimate)."""
    segment = _segment_of(start_s, end_s, decisions)
    return detection_s(end_s) if segment is None else segment.decided_s


def ends_its_segment(span: tuple[float, float], decisions: list[VadDecision]) -> bool:
    """Whether the utterance ``span`` ends its VAD segment (within the padding), rather than
    being an earlier part of a segment cut at a change of voice."""
    segment = _segment_of(*span, decisions)
    return segment is None or segment.end - span[1] <= SEGMENT_END_TOLERANCE_S


def live_latencies(db: Path, speed: float, decisions: list[VadDecision] | None = None
                   ) -> tuple[list[float], list[float], int, int, list]:
    """``(detected -> stored, speech end -> stored, utterances, transcribed, spans)`` from a live
    run's store; the latency lists and ``spans`` cover the utterances up to 8 s. ``decisions``
    (from :func:`vad_decisions`) give the VAD's decision times; without them they are estimated."""
    detected, speech_end, transcribed, spans = [], [], 0, []
    rows = _rows(db)
    for start_s, end_s, wall_start, stored_at, was_transcribed in rows:
        transcribed += int(was_transcribed)
        if end_s - start_s > LATENCY_MAX_UTTERANCE_S or stored_at is None:
            continue
        origin = wall_start - start_s  # the pipeline stamps wall_start = capture start + start_s
        decided = _decision_for(start_s, end_s, decisions) if decisions else detection_s(end_s)
        speech_end.append(stored_at - (origin + end_s / speed))
        detected.append(stored_at - (origin + decided / speed))
        spans.append((start_s, end_s))
    return detected, speech_end, len(rows), transcribed, spans


def run_live(recording: Path, audio_s: float, work_dir: Path, threads: int = 1, speed: float = 1.0,
             stt: Path | None = None, voice: Path | None = None) -> LiveRun:
    """``talkratio live --input-file recording`` into a fresh store, traced to the end."""
    db = work_dir / "live.db"
    for stale in work_dir.glob("live.db*"):
        stale.unlink()
    options = SegmenterOptions()
    argv = talkratio_command() + ["live", "--input-file", str(recording), "--speed", str(speed),
                                  "--db", str(db), "--threads", str(threads), "--json",
                                  "--vad-aggressiveness", str(options.aggressiveness)]
    argv += (["--stt-model", str(stt)] if stt else []) + (["--voice-model", str(voice)] if voice else [])
    trace = trace_command(argv, timeout_s=audio_s / speed * 1.5 + 120)
    decisions = vad_decisions(recording, options)
    detected, speech_end, count, transcribed, spans = (live_latencies(db, speed, decisions) if db.exists()
                                                       else ([], [], 0, 0, []))
    ends = [ends_its_segment(span, decisions) for span in spans]
    return LiveRun(audio_s, trace, detected, speech_end, spans, count, transcribed, speed, ends)


def run_analyze(recording: Path, threads: int = 1, stt: Path | None = None,
                voice: Path | None = None) -> MemoryTrace:
    """``talkratio analyze recording --json --no-store``, traced (its peak RSS is the figure)."""
    argv = talkratio_command() + ["analyze", str(recording), "--json", "--no-store",
                                  "--threads", str(threads)]
    argv += (["--stt-model", str(stt)] if stt else []) + (["--voice-model", str(voice)] if voice else [])
    return trace_command(argv, timeout_s=1800)
