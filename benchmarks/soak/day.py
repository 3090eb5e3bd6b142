"""A simulated day through the daemon's code path, faster than real time.

``Daemon.run`` with its store, status file, watchdog thread and live pipeline
(capture thread, webrtcvad segmenter, voice-change stage, recognition worker),
fed the household sample over and over. By default the recogniser is a fake and
cheap one (a constant voice, no STT): what that run looks for is growth in the
runtime itself (queues, counters, the store connection, threads). With
``--models bundled`` the real models run (Silero VAD, speaker encoder, voice
type, STT): onnxruntime keeps memory arenas that grow with the longest input
seen, so each pass of the sample is cut differently (a random part of it
dropped at the start, random pauses of room noise between passes) and the
models keep meeting new lengths. RSS and CPU time are sampled every simulated
hour; the RSS slope is fitted over hours 1..N (the first hour warms caches up).

    python -m benchmarks.soak.day --hours 24 --out benchmarks/results/soak/day.json
    python -m benchmarks.soak.day --hours 12 --models bundled --out benchmarks/results/soak/day_models.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "edge" / "assets" / "samples" / "household.wav"
BLOCK_S = 0.1  # the microphone's read size
SLOPE_LIMIT_MIB_PER_H = 1.0  # issue 11: RSS must stay flat


@dataclass(frozen=True)
class ConstantVoice:
    """The fake recogniser: every utterance is the mother's (no model runs)."""

    info: None = None
    threshold: float = 0.5

    def tag(self, samples, track=None, embedding=None):
        from edge.voice import VoiceResult

        return VoiceResult("female", 0.9)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def varied_passes(samples: np.ndarray, rate: int, seed: int = 0):
    """Endless passes of ``samples``, each starting 0-3 s into it and followed by 0.2-4 s of
    quiet room noise, so that segment lengths differ from pass to pass."""
    rng = np.random.default_rng(seed)
    while True:
        skip = int(rng.uniform(0.0, 3.0) * rate)
        pause = rng.normal(0.0, 0.002, int(rng.uniform(0.2, 4.0) * rate)).astype(np.float32)
        yield np.concatenate([samples[skip:], pause])


def day_of_audio(
    hours: float, samples: np.ndarray, rate: int, samples_log: list, vary: bool = False
):
    """The sample looped for ``hours`` (each pass cut differently when ``vary``), in
    microphone-sized blocks; logs every audio hour."""
    block = int(BLOCK_S * rate)
    total = int(hours * 3600 * rate)
    passes = varied_passes(samples, rate) if vary else itertools.repeat(samples)
    current, offset = next(passes), 0
    next_hour, delivered = 0, 0
    while delivered < total:
        chunk = current[offset : offset + block]
        offset += block
        if offset >= current.size:
            current, offset = next(passes), offset - current.size
            chunk = np.concatenate([chunk, current[:offset]])
        delivered += block
        if delivered >= next_hour * 3600 * rate:
            samples_log.append((next_hour, rss_mib(), cpu_s(), time.monotonic()))
            print(json.dumps(samples_log[-1]), flush=True)
            next_hour += 1
        yield chunk
    samples_log.append((delivered / rate / 3600, rss_mib(), cpu_s(), time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--work", type=Path, default=Path("data/soak/day"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/soak/day.json")
    parser.add_argument(
        "--models", choices=("fake", "bundled"), default="fake",
        help="fake: a constant voice, no STT (the runtime alone); bundled: the real models",
    )  # fmt: skip
    args = parser.parse_args()

    from edge.capture import LIVE_QUEUE_SEGMENTS
    from edge.config import parse_config
    from edge.daemon import Daemon
    from edge.recognition import Recognizers, load_recognizers

    args.work.mkdir(parents=True, exist_ok=True)
    for old in args.work.glob("talkratio.db*"):
        old.unlink()
    samples, rate = sf.read(SAMPLE, dtype="float32")
    real = args.models == "bundled"
    config = parse_config({
        "transcribe": real,
        "vad": {} if real else {"vad": "webrtc"},
        # an input file faster than real time: the daemon's file path, wall time by samples
        "audio": {"input_file": str(SAMPLE), "speed": 1000.0},
        "storage": {"database": str(args.work / "talkratio.db"), "retention_days": 0},
    })
    log: list = []
    if real:  # faster than real time the queue is always full: transcribe every utterance still
        config = replace(config, max_backlog=LIVE_QUEUE_SEGMENTS + 1)
    recognizers = load_recognizers() if real else Recognizers(voice=ConstantVoice())
    daemon = Daemon(config, recognizers)
    daemon._source = lambda: day_of_audio(args.hours, samples, rate, log, vary=real)
    started, cpu_started = time.monotonic(), cpu_s()
    daemon.run()
    write(args, log, daemon.stored, time.monotonic() - started, cpu_s() - cpu_started, config)


def write(args, log: list, stored: int, wall_s: float, cpu_total_s: float, config) -> None:
    hours = np.array([h for h, *_ in log])
    rss = np.array([r for _, r, *_ in log])
    fitted = hours >= 1
    slope = float(np.polyfit(hours[fitted], rss[fitted], 1)[0]) if fitted.sum() >= 2 else None
    audio_h = float(hours[-1])
    report = {
        "audio_hours": round(audio_h, 3),
        "wall_s": round(wall_s, 1),
        "times_faster_than_real_time": round(audio_h * 3600 / wall_s, 1),
        "cpu_s_per_audio_hour": round(cpu_total_s / audio_h, 1),
        "rss_mib_first_hour": round(float(rss[hours >= 1][0]), 1) if fitted.any() else None,
        "rss_mib_end": round(float(rss[-1]), 1),
        "rss_slope_mib_per_hour": None if slope is None else round(slope, 4),
        "slope_limit_mib_per_hour": SLOPE_LIMIT_MIB_PER_H,
        "flat": slope is not None and slope < SLOPE_LIMIT_MIB_PER_H,
        "stored_utterances": stored,
        "recogniser": (
            "bundled models: speaker encoder, voice type, STT (greedy)"
            if args.models == "bundled"
            else "fake: constant voice, no STT (the runtime, not the models, is measured)"
        ),
        "vad": config.vad.vad,
        "audio": "each pass cut differently" if args.models == "bundled" else "the sample looped",
        "samples": [
            {"audio_h": round(h, 3), "rss_mib": round(r, 1), "cpu_s": round(c, 1)}
            for h, r, c, _ in log
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))


if __name__ == "__main__":
    main()
