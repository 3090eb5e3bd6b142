"""What a result was measured on: CPU, cores, memory, load, software versions.

Every result file carries this, so a number is never read without its machine.
The load average is recorded at the start and the end of a run: on a shared
machine it says how far the timings can be trusted.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "numpy", "onnxruntime", "onnx", "webrtcvad-wheels", "noisereduce", "soxr", "torch",
    "faster-whisper", "ctranslate2", "vosk", "jiwer",
)
CPU_FLAGS_OF_INTEREST = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Machine:
    """The measuring machine and software, as recorded in every result."""

    cpu_model: str
    cpu_flags: tuple[str, ...]
    logical_cpus: int
    usable_cpus: int
    memory_gib: float
    kernel: str
    python: str
    packages: dict[str, str]
    git_commit: str
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    def one_line(self) -> str:
        return (f"{self.cpu_model}, {self.usable_cpus} of {self.logical_cpus} CPUs usable, "
                f"{self.memory_gib:.0f} GiB, Python {self.python}, "
                f"onnxruntime {self.packages.get('onnxruntime', '?')}")


def _cpuinfo() -> tuple[str, tuple[str, ...]]:
    model, flags = platform.processor() or "unknown", ()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model in ("unknown", "", platform.machine()):
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            present = set(value.split())
            flags = tuple(f for f in CPU_FLAGS_OF_INTEREST if f in present)
    return model, flags


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20  # kB to GiB
    except OSError:
        pass
    return 0.0


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=10, check=False)
    commit = done.stdout.strip() or "unknown"
    return commit + ("+changes" if dirty.stdout.strip() else "")


def load_average() -> tuple[float, float, float]:
    try:
        return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]
    except OSError:
        return (0.0, 0.0, 0.0)


def describe_machine() -> Machine:
    model, flags = _cpuinfo()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Machine(
        cpu_model=model, cpu_flags=flags, logical_cpus=os.cpu_count() or 1,
        usable_cpus=usable or 1, memory_gib=round(_memory_gib(), 1),
        kernel=platform.release(), python=sys.version.split()[0], packages=_versions(),
        git_commit=_git_commit(), load_average_start=load_average(),
    )


def repo_relative(value):
    """``value`` (a results tree) with this checkout's absolute paths written relative to the
    repository root, the home folder as ``~`` and the environment's console scripts by their
    name (``talkratio``): results are read on other machines."""
    if isinstance(value, dict):
        return {key: repo_relative(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(repo_relative(item) for item in value)
    if isinstance(value, str):
        scripts = f"{Path(sys.executable).parent}/"
        return value.replace(scripts, "").replace(f"{REPO_ROOT}/", "").replace(f"{Path.home()}/", "~/")
    return value
