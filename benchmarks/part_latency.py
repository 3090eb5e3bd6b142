"""Last word -> recorded, in process, with and without early cuts at a change of voice.

Usage::

    .venv/bin/python -m benchmarks.part_latency data/bench_v1/scenes_2x2.5min/scene_000.wav ...

Each recording is played at real-time pace (``realtime_file_source``, the
microphone's 32 ms blocks) through :class:`edge.capture.LivePipeline` with the
bundled models and no transcription (as recognition falls behind, transcripts
are the first thing skipped, so they are left out of both runs alike). An
utterance's latency is the moment :meth:`LivePipeline.run` hands it over minus
the moment its last voiced frame was heard. Utterances are grouped by whether
another utterance of the same VAD segment followed them (an earlier part of a
segment cut at a change of voice: the case early cuts are for). No store: this
is what the pipeline adds; ``benchmarks.run`` measures stored rows. Also the
CPU time per audio second of ``analyze`` (transcription on, one thread) both
ways: what the early searches cost.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.capture import LivePipeline
from edge.pipeline import PipelineOptions
from edge.recognition import load_recognizers
from edge.sources import realtime_file_source

LATENCY_MAX_UTTERANCE_S = 8.0  # the target covers utterances up to 8 s
SAME_SEGMENT_GAP_S = 0.15  # a part followed this closely by the next came out of one segment


def latencies(recording: Path, early: bool) -> list[tuple[float, float, float]]:
    """``(start s, end s, last word -> handed over s)`` of each utterance of ``recording``."""
    options = PipelineOptions(transcribe=False)
    options = replace(options, voice_change=replace(options.voice_change, early=early))
    pipeline = LivePipeline(realtime_file_source(recording), load_recognizers(transcribe=False), options)
    out, started = [], None
    for utterance in pipeline.run():
        started = started if started is not None else utterance.wall_start - utterance.start
        out.append((utterance.start, utterance.end, time.time() - (started + utterance.end)))
    return out


def analyze_cpu_rtf(recordings: list[Path], early: bool) -> float:
    """CPU seconds per second of audio of ``analyze_file`` (with transcription, one thread)."""
    from edge.pipeline import analyze_file

    recognizers = load_recognizers(threads=1)
    options = PipelineOptions()
    options = replace(options, voice_change=replace(options.voice_change, early=early))
    cpu, audio_s = time.process_time(), 0.0
    for path in recordings:
        analysis = analyze_file(path, recognizers, options, wall_origin=0.0)
        audio_s += analysis.duration_s
    return round((time.process_time() - cpu) / audio_s, 5) if audio_s else float("nan")


def stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ms = 1000 * np.asarray(values)
    return {"count": len(values), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "max_ms": round(float(ms.max()), 1)}  # fmt: skip


def summary(rows: list[tuple[float, float, float]]) -> dict:
    """Latency over utterances up to 8 s, and over the parts followed at once by another."""
    kept = [(s, e, lat, nxt) for (s, e, lat), nxt in zip(rows, [*rows[1:], None], strict=True)
            if e - s <= LATENCY_MAX_UTTERANCE_S]  # fmt: skip
    parts = [lat for _, e, lat, nxt in kept if nxt is not None and nxt[0] - e <= SAME_SEGMENT_GAP_S]
    return {"all": stats([lat for _, _, lat, _ in kept]), "parts_followed_at_once": stats(parts)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", type=Path, nargs="+")
    args = parser.parse_args(argv)
    results = {}
    for early in (False, True):
        rows = [row for path in args.recordings for row in latencies(path, early)]
        results["early cuts" if early else "cuts at the segment's end"] = {
            **summary(rows), "analyze_cpu_rtf": analyze_cpu_rtf(args.recordings, early)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
