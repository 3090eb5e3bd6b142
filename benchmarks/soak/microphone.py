"""A microphone that disappears and returns, through the daemon's real capture path.

PortAudio is replaced by a fake ``sounddevice`` module (this machine has no sound
card) that plays the household sample in real time through ``MicrophoneSource``'s
callback, and can be unplugged (no more callbacks, no input device listed) and
plugged back. The daemon runs as in service (``Daemon.run``, the default backoff,
``MIC_READ_TIMEOUT_S``); after each return we time how long until audio flows
again. It must be under ``RESUME_LIMIT_S``.

    python -m benchmarks.soak.microphone --out benchmarks/results/soak/microphone.json
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "edge" / "assets" / "samples" / "household.wav"
RESUME_LIMIT_S = 5.0  # issue 11: capture resumes within 5 s of the microphone's return
PLUGGED_S = 8.0  # audio between outages
OUTAGES_S = (3.0, 15.0, 70.0)  # short, medium, and longer than the old 60 s backoff cap
RATE_HZ = 16_000
BLOCK_S = 0.1


class FakeMicrophone:
    """The one input device; ``plugged`` decides whether it is listed and delivers audio."""

    def __init__(self, samples: np.ndarray):
        self.samples, self.plugged, self.position = samples, True, 0

    def next_block(self, frames: int) -> np.ndarray:
        block = np.take(self.samples, range(self.position, self.position + frames), mode="wrap")
        self.position += frames
        return block.astype(np.float32)[:, None]


def fake_sounddevice(mic: FakeMicrophone) -> types.ModuleType:
    module = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    class InputStream:
        def __init__(self, device, channels, samplerate, blocksize, dtype, callback):
            if not mic.plugged:
                raise PortAudioError("device unavailable")
            self.callback, self.frames, self.open = callback, blocksize, True

        def start(self):
            threading.Thread(target=self._deliver, daemon=True).start()

        def _deliver(self):
            status = types.SimpleNamespace(input_overflow=False)
            next_at = time.monotonic()
            while self.open and mic.plugged:  # unplugged: callbacks stop, as with ALSA
                next_at += self.frames / RATE_HZ
                time.sleep(max(0.0, next_at - time.monotonic()))
                self.callback(mic.next_block(self.frames), self.frames, None, status)

        def close(self, ignore_errors=True):
            self.open = False

    def query_devices():
        listed = {"name": "Fake USB Mic", "max_input_channels": 1, "default_samplerate": 16000.0}
        return [listed] if mic.plugged else []

    module.PortAudioError = PortAudioError
    module.InputStream = InputStream
    module.query_devices = query_devices
    module.default = types.SimpleNamespace(device=(0, 0))
    module.check_input_settings = lambda *args, **kwargs: None
    return module


def wait_for_audio(daemon, limit_s: float, old=None) -> float | None:
    """Seconds until a capture other than ``old`` delivers audio (None: not within limit)."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        pipeline = daemon._pipeline
        if pipeline is not None and pipeline is not old and pipeline.counters.audio_s > 0:
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("data/soak/microphone"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/soak/microphone.json")
    args = parser.parse_args()
    samples, _ = sf.read(SAMPLE, dtype="float32")
    mic = FakeMicrophone(samples)
    sys.modules["sounddevice"] = fake_sounddevice(mic)

    from edge.config import parse_config
    from edge.daemon import BACKOFF_MAX_S, Daemon

    args.work.mkdir(parents=True, exist_ok=True)
    for old in args.work.glob("talkratio.db*"):
        old.unlink()
    config = parse_config({"transcribe": False, "storage": {"database": str(args.work / "talkratio.db")},
                           "vad": {"vad": "webrtc"}})
    daemon = Daemon(config)
    runner = threading.Thread(target=daemon.run, daemon=True)
    runner.start()
    first = wait_for_audio(daemon, 120.0)
    outages = []
    for outage_s in OUTAGES_S:
        time.sleep(PLUGGED_S)
        before = daemon._pipeline  # the capture that will lose its microphone
        mic.plugged = False
        time.sleep(outage_s)
        mic.plugged = True
        resumed = wait_for_audio(daemon, 120.0, old=before)
        outages.append({"gone_s": outage_s, "resumed_after_s": None if resumed is None else round(resumed, 2)})
        print(json.dumps(outages[-1]), flush=True)
    daemon.stop()
    runner.join(60)
    report = {
        "resume_limit_s": RESUME_LIMIT_S,
        "backoff_max_s": BACKOFF_MAX_S,
        "first_audio_after_start_s": None if first is None else round(first, 2),
        "outages": outages,
        "all_within_limit": all(o["resumed_after_s"] is not None
                                and o["resumed_after_s"] <= RESUME_LIMIT_S for o in outages),
        "stored_utterances": daemon.stored,
        "daemon_ended": not runner.is_alive(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
