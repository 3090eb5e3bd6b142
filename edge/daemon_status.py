"""What the daemon is doing, in a small JSON file next to its database (for the dashboard).

The daemon rewrites the file at start, on every watchdog beat, when the
microphone fails and when it stops; readers (``talkratio serve``) never write
it. The file is private (0600) and replaced atomically, so a reader sees the
old status or the new one, never half of one. It holds counters and model
names, never audio or text.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

log = logging.getLogger(__name__)

STATUS_NAME = "daemon-status.json"
FILE_MODE = 0o600
MICROPHONE_STATES = ("starting", "listening", "retrying", "stopped")


@dataclass(frozen=True)
class DaemonStatus:
    """One snapshot. Times are Unix seconds; ``dropped_blocks`` counts audio blocks the
    microphone lost (overflow), ``transcripts_skipped`` utterances STT had no time for."""

    microphone: str
    started_at: float
    updated_at: float
    pid: int
    audio_s: float = 0.0
    stored: int = 0
    dropped_blocks: int = 0
    dropped_s: float = 0.0  # real time with no audio (gaps), since the microphone opened
    transcripts_skipped: int = 0
    microphone_error: str | None = None
    stt_model: str = ""
    voice_model: str = ""

    @property
    def uptime_s(self) -> float:
        return max(0.0, self.updated_at - self.started_at)


def status_path(db_path: str | Path) -> Path:
    """Where the daemon that writes ``db_path`` keeps its status."""
    return Path(db_path).with_name(STATUS_NAME)


def write_status(path: str | Path, status: DaemonStatus) -> None:
    """Replace the status file atomically (write a private temporary file, then rename)."""
    path = Path(path)
    # one temporary name per thread: the watchdog beat and the main thread both report
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(status), out)
        os.replace(temporary, path)
    except OSError as exc:  # a status file is a convenience: never stop capture for it
        log.warning("cannot write the status file %s: %s", path, exc)


def read_status(path: str | Path) -> DaemonStatus | None:
    """The last status written, or None when there is none (the daemon never ran here)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    known = {f.name for f in fields(DaemonStatus)}
    try:
        return DaemonStatus(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None


def new_status(microphone: str = "starting") -> DaemonStatus:
    now = time.time()
    return DaemonStatus(microphone=microphone, started_at=now, updated_at=now, pid=os.getpid())
