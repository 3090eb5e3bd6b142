"""Resident memory of a child process over time, its peak, and whether it keeps growing.

No psutil: ``/proc/<pid>/status`` is read every ``interval_s`` for the current
resident set (``VmRSS``) and the kernel's high-water mark (``VmHWM``, the peak
since the program started). ``ru_maxrss`` from ``wait4`` is not used: Linux
carries the parent's high-water mark into a forked child, so a child of a large
benchmark process would report the parent's peak. Only a peak reached in the
last ``interval_s`` before the child exits can be missed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

KIB_PER_MIB = 1024
SAMPLE_INTERVAL_S = 0.1  # ten RSS readings a second
STEADY_FROM = 1 / 3  # the first third of a run is warm-up (models load, buffers fill)
FLAT_GROWTH_MIB = 1.0  # "no upward slope": the last third's median RSS within 1 MiB of the middle third's
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class MemoryTrace:
    """RSS samples of one child process (``times_s`` from its start, ``rss_mib``)."""

    command: str
    times_s: tuple[float, ...]
    rss_mib: tuple[float, ...]
    peak_rss_mib: float  # the largest VmHWM read: the kernel's own peak, not a sampled RSS
    wall_s: float
    returncode: int
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)
    cpu_s: float | None = None  # user + system CPU seconds of the process, every thread

    def slope(self) -> MemorySlope:
        return memory_slope(self.times_s, self.rss_mib)

    def to_json(self, keep_samples: int = 400) -> dict:
        step = max(1, len(self.times_s) // keep_samples)
        return {
            "command": self.command, "peak_rss_mib": round(self.peak_rss_mib, 1),
            "wall_s": round(self.wall_s, 2), "returncode": self.returncode,
            "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 3),
            "slope": self.slope().to_json(),
            "times_s": [round(t, 2) for t in self.times_s[::step]],
            "rss_mib": [round(r, 2) for r in self.rss_mib[::step]],
        }


@dataclass(frozen=True)
class MemorySlope:
    """Growth of RSS in the steady part of a run (after the first third)."""

    mib_per_hour: float  # least-squares slope
    growth_mib: float  # median RSS of the last third minus that of the middle third (the verdict)
    peak_growth_mib: float  # the same for the peaks: transient buffers show here, not a trend
    steady_s: float  # length of the steady part the figures come from

    @property
    def flat(self) -> bool:
        return self.growth_mib <= FLAT_GROWTH_MIB

    def to_json(self) -> dict:
        return {"mib_per_hour": round(self.mib_per_hour, 2), "growth_mib": round(self.growth_mib, 2),
                "peak_growth_mib": round(self.peak_growth_mib, 2), "steady_s": round(self.steady_s, 1),
                "flat": self.flat}


def memory_slope(times_s: Sequence[float], rss_mib: Sequence[float]) -> MemorySlope:
    """Slope and third-to-third growth of RSS over the steady part of a trace."""
    t, r = np.asarray(times_s, float), np.asarray(rss_mib, float)
    if t.size < 6:
        return MemorySlope(0.0, 0.0, 0.0, 0.0)
    steady = t >= t[0] + STEADY_FROM * (t[-1] - t[0])
    ts, rs = t[steady], r[steady]
    half = ts.size // 2
    slope_per_s = float(np.polyfit(ts, rs, 1)[0]) if np.ptp(ts) > 0 else 0.0
    growth = float(np.median(rs[half:]) - np.median(rs[:half]))
    peak_growth = float(rs[half:].max() - rs[:half].max())
    return MemorySlope(slope_per_s * SECONDS_PER_HOUR, growth, peak_growth, float(np.ptp(ts)))


def read_rss_mib(pid: int) -> tuple[float, float] | None:
    """``(current, peak)`` resident set of ``pid`` in MiB, or None once it has gone."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / KIB_PER_MIB
    except (OSError, ValueError, IndexError):
        return None
    if "VmRSS" not in values:  # a zombie: the memory is already gone
        return None
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


def _sample(pid: int, started: float, interval_s: float, stop: threading.Event,
            times: list[float], values: list[float], peak: list[float]) -> None:
    while not stop.is_set():
        reading = read_rss_mib(pid)
        if reading is not None:
            times.append(time.monotonic() - started)
            values.append(reading[0])
            peak[0] = max(peak[0], reading[1])
        stop.wait(interval_s)


def _drain(stream, sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


def trace_command(
    argv: Sequence[str], timeout_s: float, interval_s: float = SAMPLE_INTERVAL_S,
    env: dict[str, str] | None = None, cwd: str | Path | None = None,
) -> MemoryTrace:
    """Run ``argv`` to the end, sampling its RSS; killed (returncode -9) after ``timeout_s``."""
    started = time.monotonic()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd)
    stop, times, values, peak = threading.Event(), [], [], [0.0]
    out: list[str] = []
    err: list[str] = []
    workers = [threading.Thread(target=_sample, args=(proc.pid, started, interval_s, stop, times, values, peak),
                                daemon=True),
               threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    for worker in workers:
        worker.start()
    killer = threading.Timer(timeout_s, proc.kill)
    killer.start()
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU time, every thread
    proc.returncode = os.waitstatus_to_exitcode(status)
    killer.cancel()
    stop.set()
    for worker in workers:
        worker.join(timeout=5.0)
    if proc.returncode != 0:
        log.warning("%s exited with %d: %s", argv[0], proc.returncode, "".join(err)[-500:])
    return MemoryTrace(
        command=" ".join(str(a) for a in argv), times_s=tuple(times), rss_mib=tuple(values),
        peak_rss_mib=max(peak[0], max(values, default=0.0)), wall_s=time.monotonic() - started,
        returncode=proc.returncode, stdout="".join(out), stderr="".join(err),
        cpu_s=usage.ru_utime + usage.ru_stime,
    )
