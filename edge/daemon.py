"""The home-device service: capture forever, store every utterance, survive faults.

- SIGTERM/SIGINT: capture stops, the utterance in flight is finished, every
  queued utterance is recognised and stored, then the process exits 0.
- A missing, unplugged or failing microphone is logged and retried with
  exponential backoff (1 s doubling to 4 s); it is never fatal.
- Each utterance is committed on its own, so SIGKILL or a power cut loses at
  most the utterance being written.
- A store that cannot be written (disk full) keeps up to ``PENDING_MAX``
  utterances in memory and retries with the next one.
- Under systemd (``Type=notify``) it reports READY, STOPPING and, while audio
  keeps arriving and utterances keep being finished, WATCHDOG pings over
  ``$NOTIFY_SOCKET``.
- Any other fault in capture or recognition is logged in one line; what was
  recognised is stored and capture starts again (with the same backoff).
Logs go to stderr (the journal under systemd); transcripts are never logged, and
who spoke when (each utterance's time and voice) only with ``log_utterances``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from functools import partial

import numpy as np

from edge.capture import LivePipeline
from edge.config import DaemonConfig
from edge.daemon_status import new_status, status_path, write_status
from edge.household import HouseholdError
from edge.recognition import Recognizers, load_recognizers
from edge.sources import MicrophoneError, MicrophoneSource, realtime_file_source
from edge.store import Store, StoreError
from edge.utterance import Utterance

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
# a microphone that returns is heard within 5 s (one retry is a device query: cheap), however
# long it was gone; the journal hears of the 1st, 2nd, 4th, 8th ... retry only
BACKOFF_MAX_S = 4.0
RETENTION_EVERY_S = 3600.0  # purge old utterances once an hour
PENDING_MAX = 1000  # utterances held in memory while the store cannot be written
STATUS_EVERY_S = 3600.0  # a counts-only status line in the journal once an hour
WATCHDOG_DEFAULT_S = 30.0  # heartbeat period when systemd gives no WATCHDOG_USEC


def sd_notify(message: str) -> bool:
    """Send ``message`` to systemd's notify socket; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
        return True
    except OSError as exc:
        log.debug("sd_notify failed: %s", exc)
        return False


def watchdog_period_s() -> float:
    usec = os.environ.get("WATCHDOG_USEC", "")
    return int(usec) / 2e6 if usec.isdigit() else WATCHDOG_DEFAULT_S


class Daemon:
    """One service instance; :meth:`run` blocks until :meth:`stop` (or the input file ends)."""

    def __init__(self, config: DaemonConfig, recognizers: Recognizers | None = None):
        self.config = config
        self._recognizers = recognizers
        self._stopping = threading.Event()
        self._pipeline: LivePipeline | None = None
        self._pending: deque[Utterance] = deque(maxlen=PENDING_MAX)
        self._last_purge = 0.0
        self._retrying = False
        self._last_status = time.monotonic()
        self.stored = 0
        self.failed = False  # an input file whose capture failed (exit status 1)
        self._faults_in_a_row = 0
        self._status = new_status()  # what the dashboard shows (edge/daemon_status.py)
        self._status_path = None

    def stop(self) -> None:
        """Safe from a signal handler: finish the utterance in flight, flush, return."""
        self._stopping.set()
        if self._pipeline is not None:
            self._pipeline.stop()

    def _source(self) -> Iterable[np.ndarray]:
        audio = self.config.audio
        if audio.input_file:
            return realtime_file_source(audio.input_file, audio.block_ms / 1000, audio.speed)
        return MicrophoneSource(audio.device, audio.block_ms / 1000)

    def _real_time(self) -> bool:
        """A microphone (or a file at its own pace): wall time follows the real clock."""
        audio = self.config.audio
        return audio.input_file is None or audio.speed == 1.0

    def run(self) -> int:
        storage = self.config.storage
        with Store(storage.database, transcripts=storage.transcripts) as store:
            if not storage.transcripts:
                store.erase_transcripts()  # turned off: the words stored before go too
            self._purge(store)
            recognizers = self._recognizers or self._load_recognizers(store)
            threshold = getattr(recognizers.voice, "threshold", None)
            store.record_options(self.config.pipeline_options().to_dict(threshold))
            log.info(
                "ready: store %s, voice model %s, stt model %s",
                store.path,
                recognizers.voice_model,
                recognizers.stt_model or "off",
            )
            sd_notify("READY=1")
            self._status_path = status_path(store.path)
            self._status = replace(
                self._status, stt_model=recognizers.stt_model, voice_model=recognizers.voice_model
            )
            self._report_status()
            heartbeat = threading.Thread(target=self._heartbeat, daemon=True, name="watchdog")
            heartbeat.start()
            self._capture_loop(store, recognizers)
            sd_notify("STOPPING=1")
            self._flush_pending(store)
            self._report_status("stopped")
        log.info("stopped after storing %d utterances", self.stored)
        return 1 if self.failed else 0

    def _load_recognizers(self, store: Store) -> Recognizers:
        """The configured models with the stored household; voiceprints of another speaker
        model are left out (logged: the parents must enrol again) rather than stop capture."""
        models = self.config.models
        load = partial(
            load_recognizers,
            models.stt,
            models.voice,
            models.threads,
            self.config.transcribe,
            models.voice_threshold,
        )
        try:
            return load(voiceprints=store.voiceprints())
        except HouseholdError as exc:
            log.error("%s; until then speakers follow the voice type", exc)
            return load()

    def _capture_loop(self, store: Store, recognizers: Recognizers) -> None:
        backoff = BACKOFF_START_S
        while not self._stopping.is_set():
            self._pipeline = None
            try:
                self._pipeline = LivePipeline(
                    self._source(),
                    recognizers,
                    self.config.pipeline_options(),
                    real_time=self._real_time(),
                )
                if self._stopping.is_set():
                    self._pipeline.stop()
                for utterance in self._pipeline.run():
                    self._keep(store, utterance)
                if self.config.audio.input_file:
                    return  # the file is over
            except MicrophoneError as exc:
                backoff = self._backoff_after_fault(backoff)
                self._fault("microphone: %s (retrying in %.3g s)", exc, backoff, logging.WARNING)
            except Exception as exc:  # any other fault: keep what was recognised, start over
                backoff = self._backoff_after_fault(backoff)
                self._fault("capture failed: %s (restarting in %.3g s)", exc, backoff)
                if self.config.audio.input_file:
                    self.failed = True
                    return  # a file would be counted twice if played again
            finally:
                self._flush_pending(store)
            self._retrying = True
            self._report_status()
            self._stopping.wait(backoff)
            self._retrying = False
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _backoff_after_fault(self, backoff: float) -> float:
        if self._pipeline is not None and self._pipeline.counters.audio_s > 0:
            self._faults_in_a_row = 0
            return BACKOFF_START_S  # it worked for a while: start over
        return backoff

    def _fault(self, message: str, exc: Exception, backoff: float, level=logging.ERROR) -> None:
        """One line in the journal (the traceback only at debug level) and in the status."""
        self._faults_in_a_row += 1
        if self._faults_in_a_row & (self._faults_in_a_row - 1):  # not a power of two: quiet
            level = logging.DEBUG
        self._log_counters()
        described = str(exc) if isinstance(exc, MicrophoneError) else f"{type(exc).__name__}: {exc}"
        log.log(level, message, described, backoff)
        log.debug("capture fault", exc_info=exc)
        self._status = replace(self._status, microphone_error=described)

    def _keep(self, store: Store, utterance: Utterance) -> None:
        self._pending.append(utterance)
        self._flush_pending(store)
        if time.monotonic() - self._last_purge > RETENTION_EVERY_S:
            self._purge(store)

    def _flush_pending(self, store: Store) -> None:
        while self._pending:
            utterance = self._pending[0]
            try:
                row = store.add(utterance)
            except StoreError as exc:
                log.error("%s; %d utterances held in memory", exc, len(self._pending))
                return
            self._pending.popleft()
            self.stored += 1
            if self.config.log_utterances:  # who spoke when: only when asked for
                log.info(
                    "stored utterance id=%d %.2f-%.2f s voice=%s transcribed=%s",
                    row,
                    utterance.start,
                    utterance.end,
                    utterance.voice,
                    utterance.transcribed,
                )
        if time.monotonic() - self._last_status > STATUS_EVERY_S:
            self._log_counters()

    def _log_counters(self) -> None:
        """Counts only (never times or voices): stored, audio heard, audio lost."""
        self._last_status = time.monotonic()
        counters = self._pipeline.counters if self._pipeline is not None else None
        log.info(
            "status: %d utterances stored, %.0f s of audio heard, %.1f s dropped this capture",
            self.stored,
            counters.audio_s if counters else 0.0,
            counters.dropped_s if counters else 0.0,
        )

    def _purge(self, store: Store) -> None:
        self._last_purge = time.monotonic()
        days = self.config.storage.retention_days
        if days > 0:
            try:
                store.purge_older_than(days)
            except StoreError as exc:
                log.error("retention: %s", exc)

    def _heartbeat(self) -> None:
        """Ping the systemd watchdog only while the pipeline is healthy (or a retry is pending).

        Healthy: audio keeps arriving AND no utterance has been in recognition for a
        whole period. A hung recogniser stops the pings, so systemd restarts the service.
        """
        period, heard = watchdog_period_s(), -1.0
        while not self._stopping.wait(period):
            pipeline = self._pipeline
            audio_s = pipeline.counters.audio_s if pipeline else 0.0
            if self._alive(pipeline, audio_s != heard, period):
                sd_notify("WATCHDOG=1")
            else:
                log.error("capture or recognition has stalled: no watchdog ping")
            heard = audio_s
            self._report_status()

    def _alive(self, pipeline: LivePipeline | None, audio_moved: bool, period_s: float) -> bool:
        if pipeline is None or self._retrying:
            return True
        return audio_moved and pipeline.healthy(period_s)

    def _report_status(self, microphone: str | None = None, error: str | None = None) -> None:
        """Rewrite the status file; counters are those since the microphone last opened."""
        if self._status_path is None:
            return
        pipeline = self._pipeline
        counters = pipeline.counters if pipeline else None
        self._status = replace(
            self._status,
            microphone=microphone or ("retrying" if self._retrying else "listening"),
            microphone_error=error or (self._status.microphone_error if self._retrying else None),
            updated_at=time.time(),
            stored=self.stored,
            audio_s=round(counters.audio_s, 1) if counters else 0.0,
            transcripts_skipped=counters.transcripts_skipped if counters else 0,
            dropped_blocks=counters.overflows if counters else 0,
            dropped_s=round(counters.dropped_s, 1) if counters else 0.0,
        )
        write_status(self._status_path, self._status)


def run_daemon(config: DaemonConfig) -> int:
    """Run in the foreground with SIGTERM/SIGINT handlers installed (main thread only)."""
    daemon = Daemon(config)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum, _frame):
        log.info("%s received: stopping", signal.Signals(signum).name)
        daemon.stop()

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        return daemon.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
