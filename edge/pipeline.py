"""From audio blocks to :class:`Utterance` records, for files and for live capture.

Stages are generators: blocks -> :func:`edge.segmenter.segment_stream` (VAD) ->
:func:`edge.voice_change.split_on_voice_change` (quick replies cut apart) ->
:func:`utterance_stream` (voice tag + transcript) -> records.

Live capture runs the VAD on a capture thread and recognition on a worker
thread, joined by a bounded queue; the transcript is computed on a third thread
while the worker tags the voice. When recognition falls behind, the worker keeps
tagging voices (cheap) and skips transcription (expensive), so statistics never
lose speech.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.audio import SAMPLE_RATE, iter_audio_blocks
from edge.hangul import count_eojeol, count_syllables
from edge.onnx_model import ModelInfo
from edge.segmenter import Segment, SegmenterOptions, denoise, segment_stream
from edge.stats import Summary, summarize
from edge.voice_change import VoiceChangeOptions, split_on_voice_change, split_segment

log = logging.getLogger(__name__)

LIVE_QUEUE_SEGMENTS = 32  # utterances waiting for recognition (about 2 min of talk)
OUTPUT_QUEUE_UTTERANCES = 256  # recognised utterances waiting for the consumer (store, screen)
_END = object()  # end-of-stream marker on the queues


class Transcriber(Protocol):
    info: ModelInfo

    def transcribe(self, samples: np.ndarray) -> str: ...


class Tagger(Protocol):
    info: ModelInfo | None
    threshold: float

    def tag(self, samples: np.ndarray, track=None): ...  # -> edge.voice.VoiceResult


@dataclass(frozen=True)
class PipelineOptions:
    """Everything that changes what the pipeline produces; echoed in every result."""

    segmenter: SegmenterOptions = SegmenterOptions()
    transcribe: bool = True  # run STT at all (syllable and eojeol counts need it)
    denoise_stt: bool = False  # noisereduce on the STT input (off: it hurt recognition)
    max_backlog: int = 2  # live: with this many utterances waiting, new ones skip STT
    voice_change: VoiceChangeOptions = VoiceChangeOptions()  # cut quick replies apart

    def to_dict(self, voice_threshold: float | None = None) -> dict:
        renamed = {"vad": "vad", "denoise": "denoise_vad"}  # the rest gets a vad_ prefix
        flat = {renamed.get(k, f"vad_{k}"): v for k, v in self.segmenter.to_dict().items()}
        flat.update(transcribe=self.transcribe, denoise_stt=self.denoise_stt)
        flat.update({f"voice_change_{k}": v for k, v in asdict(self.voice_change).items()})
        flat["voice_threshold"] = voice_threshold
        return flat


@dataclass(frozen=True)
class Utterance:
    """One utterance as stored: no audio, only what the statistics and the user need.

    ``start``/``end``: seconds from the start of the recording or capture;
    ``wall_start``: Unix time (s) when it began. ``text`` is ``None`` when it was
    not transcribed (``transcribed`` False: recognition fell behind or was off).
    """

    start: float
    end: float
    wall_start: float
    voice: str
    voice_prob: float
    text: str | None
    syllables: int
    eojeol: int
    transcribed: bool
    stt_model: str = ""
    voice_model: str = ""
    source: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start

    def on_wall_clock(self) -> Utterance:
        """The same utterance with ``start``/``end`` in Unix time (for stored records)."""
        return replace(self, start=self.wall_start, end=self.wall_start + self.duration)

    def to_json(self) -> dict:
        """The ``segments`` entry of DESIGN.md's ``analyze --json``."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "voice": self.voice,
            "voice_prob": round(self.voice_prob, 3),
            "text": self.text,
            "syllables": self.syllables,
            "eojeol": self.eojeol,
        }


def model_label(info: ModelInfo | None, fallback: str) -> str:
    return fallback if info is None else f"{info.name}@{info.version}"


@dataclass
class Recognizers:
    """The loaded models: STT (``None`` when transcription is off) and a voice tagger."""

    voice: Tagger
    stt: Transcriber | None = None

    @property
    def voice_model(self) -> str:
        return model_label(self.voice.info, "pitch")

    @property
    def stt_model(self) -> str:
        return model_label(self.stt.info, "") if self.stt is not None else ""

    def models_json(self) -> dict:
        def describe(info: ModelInfo | None, fallback: str) -> dict:
            if info is None:
                return {"name": fallback, "version": None, "sha256": None}
            return {"name": info.name, "version": info.version, "sha256": info.sha256}

        return {
            "stt": describe(self.stt.info if self.stt else None, "none"),
            "voice": describe(self.voice.info, "pitch"),
        }


def load_recognizers(
    stt_path: str | Path | None = None,
    voice_path: str | Path | None = None,
    threads: int = 1,
    transcribe: bool = True,
    voice_threshold: float | None = None,
) -> Recognizers:
    """The bundled models unless paths are given; raises ``ModelError`` with a sentence."""
    from edge.voice import load_voice_tagger

    tagger = load_voice_tagger(voice_path, threads=threads)
    if voice_threshold is not None:
        tagger.threshold = voice_threshold
    stt = None
    if transcribe:
        from edge.stt import SpeechRecognizer

        stt = SpeechRecognizer(stt_path, threads=threads)
    return Recognizers(voice=tagger, stt=stt)


# --------------------------------------------------------------------------- recognition


def recognise(
    segment: Segment,
    recognizers: Recognizers,
    options: PipelineOptions,
    wall_origin: float,
    transcribe: bool = True,
    source: str = "",
    stt_thread: Executor | None = None,
) -> Utterance:
    """One segment to one :class:`Utterance` (voice always; text when ``transcribe``).

    With ``stt_thread``, transcription runs there while the voice is tagged here
    (onnxruntime releases the GIL): the latency is the slower of the two, not the sum.
    """
    wanted = transcribe and recognizers.stt is not None
    job = None
    if wanted and stt_thread is not None:
        job = stt_thread.submit(_transcribe, segment.samples, recognizers.stt, options.denoise_stt)
    result = recognizers.voice.tag(segment.samples, segment.pitch)
    if job is not None:
        text = job.result()
    elif wanted:
        text = _transcribe(segment.samples, recognizers.stt, options.denoise_stt)
    else:
        text = None
    return Utterance(
        start=segment.start,
        end=segment.end,
        wall_start=wall_origin + segment.start,
        voice=result.voice,
        voice_prob=float(result.prob),
        text=text,
        syllables=count_syllables(text or ""),
        eojeol=count_eojeol(text or ""),
        transcribed=text is not None,
        stt_model=recognizers.stt_model,
        voice_model=recognizers.voice_model,
        source=source,
    )


def _transcribe(samples: np.ndarray, stt: Transcriber, denoise_first: bool) -> str:
    return stt.transcribe(denoise(samples) if denoise_first else samples)


def utterance_stream(
    segments: Iterable[Segment],
    recognizers: Recognizers,
    options: PipelineOptions = PipelineOptions(),
    wall_origin: float = 0.0,
    source: str = "",
) -> Iterator[Utterance]:
    """Generator stage: segments in, recognised utterances out."""
    for segment in segments:
        yield recognise(segment, recognizers, options, wall_origin, options.transcribe, source)


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileAnalysis:
    """``talkratio analyze`` for one file; :meth:`to_json` is DESIGN.md's object."""

    file: str
    duration_s: float
    utterances: tuple[Utterance, ...]
    models: dict
    options: dict

    @property
    def summary(self) -> Summary:
        return summarize(self.utterances)

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "duration_s": round(self.duration_s, 3),
            "segments": [u.to_json() for u in self.utterances],
            "summary": self.summary.to_json(),
            "models": self.models,
            "options": self.options,
        }


def _counted(blocks: Iterable[np.ndarray], seen: list[int], progress) -> Iterator[np.ndarray]:
    """Pass blocks through, counting samples (and reporting seconds to ``progress``)."""
    for block in blocks:
        seen[0] += block.size
        if progress is not None:
            progress(seen[0] / SAMPLE_RATE)
        yield block


def analyze_file(
    path: str | Path,
    recognizers: Recognizers,
    options: PipelineOptions = PipelineOptions(),
    wall_origin: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> FileAnalysis:
    """The whole pipeline over one recording, streamed (memory does not grow with length).

    ``wall_origin``: Unix time of the recording's start; by default the file's
    modification time minus its length (when the recorder closed it).
    """
    seen = [0]
    blocks = _counted(iter_audio_blocks(path), seen, progress)
    collected = list(
        utterance_stream(
            split_on_voice_change(segment_stream(blocks, options.segmenter), options.voice_change),
            recognizers,
            options,
            0.0,
            str(path),
        )
    )
    duration_s = seen[0] / SAMPLE_RATE
    origin = Path(path).stat().st_mtime - duration_s if wall_origin is None else wall_origin
    utterances = tuple(replace(u, wall_start=origin + u.start) for u in collected)
    return FileAnalysis(
        file=str(path),
        duration_s=duration_s,
        utterances=utterances,
        models=recognizers.models_json(),
        options=options.to_dict(getattr(recognizers.voice, "threshold", None)),
    )


# --------------------------------------------------------------------------- live


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
            self.options,
            self.wall_origin,
            transcribe,
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
