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
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from edge.audio import SAMPLE_RATE
from edge.pipeline import PipelineOptions
from edge.recognition import Recognizers, recognise
from edge.segmenter import Segment, segment_stream
from edge.utterance import Utterance
from edge.voice_change import split_segment

log = logging.getLogger(__name__)

LIVE_QUEUE_SEGMENTS = 32  # utterances waiting for recognition (about 2 min of talk)
OUTPUT_QUEUE_UTTERANCES = 256  # recognised utterances waiting for the consumer (store, screen)
_END = object()  # end-of-stream marker on the queues


@dataclass
class LiveCounters:
    """What a live run did; ``transcripts_skipped`` counts utterances STT had no time for."""

    utterances: int = 0
    transcripts_skipped: int = 0
    audio_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)  # end of speech found -> record out


class LivePipeline:
    """Capture thread (source + VAD) -> bounded queue -> recognition worker -> :meth:`run`.

    Iterate :meth:`run` to receive utterances as they are recognised. :meth:`stop`
    (safe from a signal handler) ends capture; the utterance in flight is
    finished and every queued utterance is still recognised before ``run`` ends.
    Errors of the source (an unplugged microphone) are raised from ``run``.
    """

    def __init__(
        self,
        source: Iterable[np.ndarray],
        recognizers: Recognizers,
        options: PipelineOptions = PipelineOptions(),
        source_name: str = "live",
        keep_latencies: int = 1000,
    ):
        self.source, self.recognizers, self.options = source, recognizers, options
        self.source_name = source_name
        self.counters = LiveCounters()
        self._keep_latencies = keep_latencies
        self._stopping = threading.Event()
        self._captured_all = threading.Event()  # the end marker is (about to be) queued
        self._segments: queue.Queue = queue.Queue(maxsize=LIVE_QUEUE_SEGMENTS)
        self._results: queue.Queue = queue.Queue(maxsize=OUTPUT_QUEUE_UTTERANCES)
        self.wall_origin = time.time()
        self._stt_thread: ThreadPoolExecutor | None = None

    def stop(self) -> None:
        self._stopping.set()

    def _blocks(self, failure: list[BaseException]) -> Iterator[np.ndarray]:
        """The source's blocks until it ends, fails (kept in ``failure``) or stop is asked."""
        try:
            for block in self.source:
                self.counters.audio_s += block.size / SAMPLE_RATE
                yield block
                if self._stopping.is_set():
                    log.info("stop requested: finishing the utterance in flight")
                    return
        except Exception as exc:  # the utterance in flight is still finished below
            failure.append(exc)

    def _capture(self) -> None:
        failure: list[BaseException] = []
        try:
            for segment in segment_stream(self._blocks(failure), self.options.segmenter):
                self._segments.put((segment, time.monotonic()))
        except BaseException as exc:
            failure.append(exc)
        for exc in failure[:1]:  # handed to the consumer, raised from run()
            self._segments.put((exc, 0.0))
        self._captured_all.set()
        self._segments.put((_END, 0.0))

    def _work(self) -> None:
        while True:
            item, found_at = self._segments.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                self._results.put(item)
                continue
            for part in split_segment(item, self.options.voice_change):
                self._results.put(self._recognise(part, found_at))
        self._results.put(_END)

    def _recognise(self, segment: Segment, found_at: float) -> Utterance:
        waiting = self._segments.qsize() - int(self._captured_all.is_set())
        behind = waiting >= self.options.max_backlog
        transcribe = self.options.transcribe and not behind
        if behind and self.options.transcribe:
            self.counters.transcripts_skipped += 1
            log.warning("recognition is behind (%d waiting): transcript skipped", waiting)
        utterance = recognise(
            segment,
            self.recognizers,
            self.wall_origin,
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
        self.wall_origin = time.time()
        self._stt_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
        threads = [
            threading.Thread(target=self._capture, name="capture", daemon=True),
            threading.Thread(target=self._work, name="recognition", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            while (item := self._results.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop()
            for thread in threads:
                thread.join(timeout=5.0)
            self._stt_thread.shutdown(wait=False, cancel_futures=True)
