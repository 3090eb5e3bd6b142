"""Live capture: a capture thread (source + VAD) and a recognition worker joined by a queue.

The transcript is computed on a third thread while the worker tags the voice.
When recognition falls behind, the worker keeps tagging voices (cheap) and
skips transcription (expensive), so statistics never lose speech.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from edge.audio import SAMPLE_RATE
from edge.errors import RecognitionError
from edge.pipeline import PipelineOptions
from edge.recognition import Recognizers, recognise
from edge.segmenter import Segment, segment_stream
from edge.utterance import Utterance
from edge.voice_change import split_segment

log = logging.getLogger(__name__)

LIVE_QUEUE_SEGMENTS = 32  # utterances waiting for recognition (about 2 min of talk)
OUTPUT_QUEUE_UTTERANCES = 256  # recognised utterances waiting for the consumer (store, screen)
_END = object()  # end-of-stream marker on the queues
# sample-count time and the real clock may part by this much before the wall time is
# re-anchored: more than the scheduling jitter of a busy 2-core device (a block read
# late is not audio lost), far less than anything a daily statistic would notice
REANCHOR_DRIFT_S = 2.0
ANCHORS_KEPT = 64  # re-anchorings remembered for segments still in flight


@dataclass
class LiveCounters:
    """What a live run did; ``transcripts_skipped`` counts utterances STT had no time for."""

    utterances: int = 0
    transcripts_skipped: int = 0
    audio_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)  # end of speech found -> record out
    dropped_s: float = 0.0  # real time that passed with no audio delivered (gaps, overflows)
    reanchors: int = 0  # times the wall clock was re-anchored (gaps or a drifting sound card)
    overflows: int = 0  # blocks the source itself reported lost (PortAudio overflow)


class LivePipeline:
    """Capture thread (source + VAD) -> bounded queue -> recognition worker -> :meth:`run`.

    Iterate :meth:`run` to receive utterances as they are recognised. :meth:`stop`
    (safe from a signal handler) ends capture; the utterance in flight is
    finished and every queued utterance is still recognised before ``run`` ends.
    Errors of the source (an unplugged microphone) and of recognition are raised
    from ``run``; it never waits forever for a thread that died.

    ``real_time``: the source delivers audio as it is heard (a microphone), so the
    wall time of each utterance is kept within ``REANCHOR_DRIFT_S`` of ``clock``
    and real time that passed without audio is counted as dropped.
    """

    def __init__(
        self,
        source: Iterable[np.ndarray],
        recognizers: Recognizers,
        options: PipelineOptions = PipelineOptions(),
        source_name: str = "live",
        keep_latencies: int = 1000,
        real_time: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        self.source, self.recognizers, self.options = source, recognizers, options
        self.source_name = source_name
        self.counters = LiveCounters()
        self._keep_latencies = keep_latencies
        self._stopping = threading.Event()
        self._captured_all = threading.Event()  # the end marker is (about to be) queued
        self._segments: queue.Queue = queue.Queue(maxsize=LIVE_QUEUE_SEGMENTS)
        self._results: queue.Queue = queue.Queue(maxsize=OUTPUT_QUEUE_UTTERANCES)
        self.real_time, self._clock = real_time, clock
        self.wall_origin = clock()  # Unix time of sample 0 (moved by re-anchoring)
        # (sample time from which an origin applies, origin): a segment that began before a
        # re-anchoring keeps the origin of when it began
        self._anchors: deque[tuple[float, float]] = deque(maxlen=ANCHORS_KEPT)
        self._stt_thread: ThreadPoolExecutor | None = None
        self._working_since: float | None = None  # monotonic s the current segment was taken
        self._threads: list[threading.Thread] = []

    def stop(self) -> None:
        self._stopping.set()

    def _blocks(self, failure: list[BaseException]) -> Iterator[np.ndarray]:
        """The source's blocks until it ends, fails (kept in ``failure``) or stop is asked."""
        try:
            for block in self.source:
                self.counters.audio_s += block.size / SAMPLE_RATE
                if self.real_time:
                    self._keep_anchored()
                yield block
                if self._stopping.is_set():
                    log.info("stop requested: finishing the utterance in flight")
                    return
        except Exception as exc:  # the utterance in flight is still finished below
            failure.append(exc)

    def _keep_anchored(self) -> None:
        """Re-anchor the wall time when sample-count time and the clock part too far.

        Ahead of the samples: audio was lost (a gap, an overflow) or the card's clock
        is slow; counted as dropped. Behind: the card's clock is fast.
        """
        self.counters.overflows = getattr(self.source, "overflows", 0)
        drift_s = self._clock() - (self.wall_origin + self.counters.audio_s)
        if abs(drift_s) <= REANCHOR_DRIFT_S:
            return
        self.wall_origin += drift_s
        self._anchors.append((self.counters.audio_s, self.wall_origin))
        self.counters.reanchors += 1
        if drift_s > 0:
            self.counters.dropped_s += drift_s
        log.warning("audio clock %+.1f s off the real clock: re-anchored", drift_s)

    def _origin_at(self, sample_s: float) -> float:
        """The wall-time origin in force at sample time ``sample_s``."""
        origin = self._anchors[0][1]
        for applies_from_s, anchored in self._anchors:
            if applies_from_s <= sample_s:
                origin = anchored
        return origin

    def _capture(self) -> None:
        failure: list[BaseException] = []
        try:
            early = self.recognizers.early_cuts(self.options.voice_change)
            for segment in segment_stream(self._blocks(failure), self.options.segmenter, early):
                self._segments.put((segment, time.monotonic(), self._origin_at(segment.start)))
        except BaseException as exc:
            failure.append(exc)
        for exc in failure[:1]:  # handed to the consumer, raised from run()
            self._segments.put((exc, 0.0, 0.0))
        self._captured_all.set()
        self._segments.put((_END, 0.0, 0.0))

    def _work(self) -> None:
        """Recognise until the end marker; any error goes to run(), the end marker always."""
        try:
            self._recognise_all()
        except Exception as exc:
            failure = RecognitionError(f"recognition failed: {type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            log.debug("recognition failed", exc_info=exc)
            self.stop()
            self._results.put(failure)
            self._drain_segments()  # capture may be waiting to queue one: let it end
        finally:
            self._working_since = None
            self._results.put(_END)

    def _recognise_all(self) -> None:
        while True:
            item, found_at, wall_origin = self._segments.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                self._results.put(item)
                continue
            self._working_since = time.monotonic()
            parts = split_segment(
                item, self.options.voice_change, self.recognizers.speaker, self.recognizers.voice
            )
            for part in parts:
                self._results.put(self._recognise(part, found_at, wall_origin))
            self._working_since = None

    def _drain_segments(self) -> None:
        while self._segments.get()[0] is not _END:
            pass

    def healthy(self, limit_s: float) -> bool:
        """No utterance has been in recognition for longer than ``limit_s``.

        The daemon's watchdog asks this besides whether audio arrives: audio still
        arriving is not enough when a model hangs. (A worker that dies is no hang: its
        error ends :meth:`run`.)
        """
        since = self._working_since
        return since is None or time.monotonic() - since <= limit_s

    def _recognise(self, segment: Segment, found_at: float, wall_origin: float) -> Utterance:
        waiting = self._segments.qsize() - int(self._captured_all.is_set())
        behind = waiting >= self.options.max_backlog
        transcribe = self.options.transcribe and not behind
        if behind and self.options.transcribe:
            self.counters.transcripts_skipped += 1
            log.warning("recognition is behind (%d waiting): transcript skipped", waiting)
        utterance = recognise(
            segment,
            self.recognizers,
            wall_origin,
            transcribe,
            self.options.denoise_stt,
            self.source_name,
            self._stt_thread,
        )
        self.counters.utterances += 1
        if len(self.counters.latencies_s) < self._keep_latencies:
            self.counters.latencies_s.append(time.monotonic() - found_at)
        return utterance

    def run(self) -> Iterator[Utterance]:
        """Start both threads and yield utterances until the source ends or :meth:`stop`."""
        self.wall_origin = self._clock()
        self._anchors.append((0.0, self.wall_origin))
        self._stt_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
        self._threads = [
            threading.Thread(target=self._capture, name="capture", daemon=True),
            threading.Thread(target=self._work, name="recognition", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            while (item := self._results.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop()
            for thread in self._threads:
                thread.join(timeout=5.0)
            self._stt_thread.shutdown(wait=False, cancel_futures=True)
