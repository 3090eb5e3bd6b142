"""Utterances out of a stream of audio blocks: webrtcvad as the cheap first gate, a neural VAD
(Silero, ONNX) for the speech probability, hysteresis, endpointing and padding.

``vad = "both"`` (the default): webrtcvad listens to every frame; the neural VAD
runs only while webrtcvad has heard something speech-like in the last second (a
quiet home costs webrtcvad only). While it runs it judges the frames of the
block at hand up to a second ahead in one call (a call costs far more than a
frame); what it judged ahead is dropped if it goes to sleep, and it always
wakes from a fresh state, so the probabilities are those of one frame at a
time. An utterance starts when the probability passes ``onset_threshold`` long
enough, and a frame inside it is speech while the probability stays above
``offset_threshold``. It ends as soon as the model
is sure of silence (below ``silence_threshold`` for ``endpoint_ms``), or after
``hangover_ms`` of frames below ``offset_threshold``. ``vad = "webrtc"`` is
webrtcvad alone, as before (voiced frames, onset, hangover); ``"silero"`` the
neural VAD on every frame.

An utterance's times are its speech frames (from the first to the last); that
is what the statistics count, so steady noise around a parent's words adds no
seconds. The samples handed to the recognisers carry extra padding on both
sides so that no word is clipped. Speech longer than ``max_utterance_s`` is
split at its least speech-like point, never at a fixed point.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import webrtcvad

from edge.audio import PCM16_SCALE, SAMPLE_RATE
from edge.pitch import PitchTrack

log = logging.getLogger(__name__)

VAD_KINDS = ("webrtc", "silero", "both")
VAD_LABELS = {"webrtc": "webrtc", "silero": "silero", "both": "webrtc+silero"}  # in ``options``
VAD_FRAME_MS = (10, 20, 30)  # the only frame lengths webrtcvad accepts
GATE_FRAME_MS = 30  # beside the neural VAD, webrtcvad judges the first 30 ms of each 32 ms window
DENOISE_BLOCK_S = 1.0  # noisereduce needs context: it sees 1 s at a time (adds 1 s of delay)
SPLIT_SMOOTH_FRAMES = 3  # the split point is the least speech-like 3-frame stretch
# a split needs min_utterance_ms on each side plus its smoothing window: 3 frames of at most
# 32 ms (the neural VAD's window), rounded up
SPLIT_MARGIN_MS = 100
# the neural VAD keeps running this long after webrtcvad last heard something speech-like;
# longer than any pause inside an utterance, so the model's state is warm when speech goes on
GATE_HOLD_S = 1.0
# waking up, the neural VAD first hears this much of the audio it slept through: from a bare
# state it lingered on speech 60 ms longer in fan noise (test_segmenter's steady-noise case)
WARM_UP_S = 1.0
# an early cutter is asked this often (s of audio): a quarter of a second is the speaker
# windows' hop, so no window's worth of new evidence waits longer than that
WATCH_STEP_S = 0.25
LOUD_PERCENTILE = 95  # an utterance's loud level: the 95th percentile of its 10 ms energies
PIECE_S = 0.01  # the voice's edges are found to 10 ms (a third of the model's 32 ms frame)
PIECE_SAMPLES = int(PIECE_S * SAMPLE_RATE)
ENERGY_FLOOR = 1e-10  # mean square of digital silence (-100 dB), so the log stays finite
# the start may move this many frames before the model's first (it comes in a frame late)
EDGE_REACH_FRAMES = 2
# the neural VAD judges up to this many frames of a block in one call: 32 frames of 32 ms, 1 s.
# household.wav's 2812 frames cost 0.27 CPU s one per call and 0.055 s 32 per call
# (benchmarks/results/cpu_profile.md); a second ahead wastes at most a second of judging
# each time the model goes to sleep (it only sleeps after GATE_HOLD_S of webrtcvad silence)
LOOKAHEAD_FRAMES = 32
# a live stream's frames wait, while nothing can end, until this many can be judged in one model
# call: 4 frames of 32 ms (the default endpoint is 5 frames of sure silence)
HOLD_FRAMES = 4


def _piece_db(frames: list) -> np.ndarray:
    """Energy (dB) of each whole 10 ms piece of the frames' samples, in order."""
    if not frames:
        return np.zeros(0)
    samples = np.concatenate([f.samples for f in frames])
    pieces = samples[: samples.size - samples.size % PIECE_SAMPLES].reshape(-1, PIECE_SAMPLES)
    return 10 * np.log10(np.mean(pieces.astype(np.float64) ** 2, axis=1) + ENERGY_FLOOR)


@dataclass(frozen=True)
class SegmenterOptions:
    """How speech is found. Times in milliseconds unless named ``_s``."""

    vad: str = "both"  # webrtc (webrtcvad alone), silero (neural VAD alone) or both
    # webrtcvad's frame with vad = "webrtc"; beside the neural VAD a frame is the model's window
    frame_ms: int = 30
    # webrtcvad alone: 0 (least) to 3 (most aggressive at rejecting non-speech); 3 because at 2
    # home noise at 20 dB SNR passed as speech (+50 % speech time on household scenes)
    aggressiveness: int = 3
    # webrtcvad as the gate in front of the neural VAD: 0 lets the most through, so the gate
    # saves work in a quiet home without losing speech the model would find in a loud one
    gate_aggressiveness: int = 0
    onset_threshold: float = 0.5  # neural VAD probability that can start an utterance ...
    offset_threshold: float = 0.35  # ... and that keeps a frame inside one speech
    # below this the model is sure of silence (endpointing); 0.2 rather than 0.1: the
    # probability falls through 0.2 a frame sooner after the last word, and a music beat right
    # after it no longer prolongs the utterance (test_speech_at_5_db_in_music_is_found)
    silence_threshold: float = 0.2
    # an utterance's speech ends with its last frame this sure: after the last word the
    # probability lingers above the onset threshold for 60-130 ms, the longer the louder the noise
    span_end_threshold: float = 0.8
    # the span's edges are then moved to the voice's own, to 10 ms: the pieces within this
    # many dB of the utterance's loud level (0: off) and ``edge_floor_db`` above the noise.
    # Chosen on the development set (python -m benchmarks.vad_dev --edge-drop-db N, never the
    # test scenes): at 0 a parent's seconds came out +2 % (a room's echo), at 15 -1 %, at 20
    # -0.5 % and at 25 0 %, with the worst scene at 6.8, 5.7, 6.3 and 7.4 % (>= 10 dB SNR)
    edge_drop_db: float = 20.0
    edge_floor_db: float = 3.0  # over 3 dB above steady noise a piece is the voice's, not the noise's
    onset_ms: int = 90  # speech needed within ``onset_window_ms`` to start an utterance
    onset_window_ms: int = 150
    # non-speech that ends an utterance (shorter pauses stay inside); longer merged parents
    # who answer each other quickly into one utterance
    hangover_ms: int = 240
    # neural VAD: sure silence this long ends an utterance before the hangover is over. The
    # model hears comma pauses as silence too: at 160 ms 15 of 420 comma sentences of the
    # benchmark's scenes were cut in two, and last word -> stored was 374 ms at p95
    # (benchmarks/results/vad.md); longer keeps more commas whole but delays every record
    endpoint_ms: int = 160
    pad_start_ms: int = 150  # audio before the first speech frame given to the recognisers
    pad_end_ms: int = 150  # audio after the last speech frame given to the recognisers
    min_utterance_ms: int = 200  # shorter speech is a click or a knock: dropped
    max_utterance_s: float = 15.0  # longer speech is split at its least speech-like point
    denoise: bool = False  # noisereduce before the VAD decision (the samples stay as heard)

    def __post_init__(self):
        for message in self._problems():
            raise ValueError(message)

    def _problems(self) -> Iterator[str]:
        if self.vad not in VAD_KINDS:
            yield f"vad must be one of {', '.join(VAD_KINDS)}, not {self.vad!r}"
        if self.frame_ms not in VAD_FRAME_MS:
            yield f"frame_ms must be one of {VAD_FRAME_MS}, not {self.frame_ms}"
        for name in ("aggressiveness", "gate_aggressiveness"):
            if not 0 <= getattr(self, name) <= 3:
                yield f"{name} must be 0 to 3, not {getattr(self, name)}"
        if not (0 < self.silence_threshold <= self.offset_threshold <= self.onset_threshold
                <= self.span_end_threshold < 1):
            yield ("thresholds must satisfy 0 < silence_threshold <= offset_threshold <= "
                   "onset_threshold <= span_end_threshold < 1")
        for name in ("edge_drop_db", "edge_floor_db"):
            if getattr(self, name) < 0:
                yield f"{name} cannot be negative, not {getattr(self, name)}"
        if self.onset_ms > self.onset_window_ms:
            yield "onset_ms cannot exceed onset_window_ms"
        for name in ("hangover_ms", "endpoint_ms"):
            if getattr(self, name) < self.onset_window_ms:
                yield (f"{name} must be at least onset_window_ms: a shorter pause would start "
                       "the next utterance from frames the last one already counted")
        if self.endpoint_ms > self.hangover_ms:
            yield "endpoint_ms cannot exceed hangover_ms (the hangover would end speech first)"
        if self.pad_end_ms > self.hangover_ms:
            yield "pad_end_ms cannot exceed hangover_ms (that audio is not kept)"
        if self.max_utterance_s * 1000 < 2 * self.min_utterance_ms + SPLIT_MARGIN_MS:
            yield (f"max_utterance_s must be at least {2 * self.min_utterance_ms + SPLIT_MARGIN_MS}"
                   " ms: a split keeps min_utterance_ms on each side")

    @property
    def neural(self) -> bool:
        return self.vad != "webrtc"

    def to_dict(self) -> dict:
        """The options as recorded in results; ``vad`` names the detectors, as DESIGN.md shows."""
        return {**asdict(self), "vad": VAD_LABELS[self.vad]}


@dataclass(frozen=True, eq=False)
class Segment:
    """One utterance as audio: speech from ``start`` to ``end`` (s from the stream's start).

    ``samples`` (16 kHz float32) begin at ``audio_start`` and include the padding.
    """

    start: float
    end: float
    audio_start: float
    samples: np.ndarray = field(repr=False)
    # the pitch track of ``samples`` when a stage already computed it (the voice tagger reuses it)
    pitch: PitchTrack | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class _Frame:
    index: int  # frame number since the stream began
    samples: np.ndarray
    view: np.ndarray  # what the VADs judge (the samples, or their denoised version)
    gate: bool  # webrtcvad heard speech
    prob: float = 0.0  # neural VAD speech probability (0 while the gate sleeps)
    energy: float = 0.0

    def onset(self, o: SegmenterOptions) -> bool:
        return self.prob >= o.onset_threshold if o.neural else self.gate

    def speech(self, o: SegmenterOptions) -> bool:
        return self.prob >= o.offset_threshold if o.neural else self.gate

    def sure_silence(self, o: SegmenterOptions) -> bool:
        return o.neural and self.prob < o.silence_threshold

    def score(self, o: SegmenterOptions) -> float:
        """How speech-like the frame is, for choosing a split point."""
        return self.prob if o.neural else self.energy


class Segmenter:
    """Streaming segmenter: ``feed`` blocks, get finished :class:`Segment` objects back."""

    def __init__(self, options: SegmenterOptions = SegmenterOptions(), model=None):
        self.options = options
        self._neural = None
        if options.neural:
            from edge.vad import NeuralVad

            self._neural = NeuralVad(model)
        gate_level = options.gate_aggressiveness if options.neural else options.aggressiveness
        self._webrtc = webrtcvad.Vad(gate_level)
        self._frame_samples = (
            self._neural.window_samples if self._neural else SAMPLE_RATE * options.frame_ms // 1000
        )
        self._gate_samples = SAMPLE_RATE * (GATE_FRAME_MS if options.neural else options.frame_ms) // 1000
        self.frame_s = self._frame_samples / SAMPLE_RATE
        self._recent: deque[_Frame] = deque(
            maxlen=self.frames(options.pad_start_ms) + self.frames(options.onset_window_ms)
        )
        self._speech: list[_Frame] = []  # the utterance in progress, padding included
        self._first_voiced = 0  # index into _speech of its first speech frame
        self._silent_run = self._sure_run = 0
        self._pending = np.zeros(0, np.float32)
        self._pending_vad = np.zeros(0, np.float32)
        self._next_index = 0
        self._counted_until = 0  # frames before this index belong to a finished utterance
        self._gate_left = 0  # frames the neural VAD keeps running without webrtcvad's say-so
        self._model_awake = False
        self._slept: deque[_Frame] = deque(maxlen=round(WARM_UP_S / self.frame_s))
        self._held: list[tuple[np.ndarray, np.ndarray, list[bool]]] = []  # gated, not yet judged
        self._held_frames = 0
        # an utterance ends on endpoint_ms of sure silence or hangover_ms of non-speech: hold
        # fewer frames than either, so the frame that ends it is never held
        self._hold_limit = min(HOLD_FRAMES, self.frames(options.endpoint_ms), self.frames(options.hangover_ms))
        self._block_views = np.zeros((0, self._frame_samples), np.float32)  # the block at hand
        self._block_next = 0  # row of ``_block_views`` of the frame after the one being judged
        self._ahead = np.zeros(0, np.float32)  # probabilities judged ahead, from ``_ahead_index``
        self._ahead_index = 0

    def frames(self, ms: float) -> int:
        """Whole frames in ``ms`` milliseconds (at least one)."""
        return max(1, round(ms / 1000 / self.frame_s))

    @property
    def in_speech(self) -> bool:
        return bool(self._speech)

    def progress(self) -> tuple[float, float] | None:
        """``(audio_start s, length s)`` of the utterance in progress (its padding included),
        or None between utterances; cheap, unlike :meth:`in_progress`."""
        if not self._speech:
            return None
        return self._speech[0].index * self.frame_s, len(self._speech) * self.frame_s

    def in_progress(self) -> np.ndarray:
        """The samples of the utterance in progress (empty between utterances)."""
        return np.concatenate([f.samples for f in self._speech]) if self._speech else np.zeros(0, np.float32)

    def cut(self, at_s: float) -> Segment | None:
        """End the utterance in progress at ``at_s`` (s from the stream's start; a new voice
        found inside it): the speech before is returned as a finished segment now, and the
        rest goes on as a new utterance. None when ``at_s`` is not inside its speech."""
        speech, first = self._speech, self._first_voiced
        cut = next((i for i, f in enumerate(speech) if f.index * self.frame_s >= at_s), None)
        if cut is None or cut <= first:
            return None
        self._speech, self._first_voiced = speech[cut:], 0
        log.debug("utterance cut at %.2f s where the voice changed", at_s)
        return self._segment(speech[:cut], first, cut)

    def feed(self, block: np.ndarray, vad_view: np.ndarray | None = None) -> Iterator[Segment]:
        """Add 16 kHz samples; ``vad_view`` (same length) is what the VADs judge, if given.

        While the neural VAD is awake, up to ``HOLD_FRAMES`` frames wait to be judged in one
        model call (a microphone's 32 ms blocks would otherwise cost a call each): between
        utterances, and inside one while its last judged frame is speech. Once a frame is
        judged not speech, every frame is judged on arrival until speech resumes, and no
        utterance ends on fewer than ``HOLD_FRAMES`` frames of silence, so an utterance's end
        is found in the same block as without holding. The segments are the same whatever
        the blocks; only a cut at a change of voice can come up to 3 frames later.
        """
        self._pending = np.concatenate([self._pending, np.asarray(block, np.float32)])
        view = block if vad_view is None else vad_view
        self._pending_vad = np.concatenate([self._pending_vad, np.asarray(view, np.float32)])
        n = self._frame_samples
        usable = self._pending.size - self._pending.size % n
        if not usable:
            return
        frames = self._pending[:usable].reshape(-1, n)
        views = self._pending_vad[:usable].reshape(-1, n)
        self._pending, self._pending_vad = self._pending[usable:], self._pending_vad[usable:]
        # webrtcvad adapts to what it hears, so every frame is gated once, in order, on arrival
        gate_pcm = (np.clip(views[:, : self._gate_samples], -1.0, 1.0) * PCM16_SCALE).astype("<i2")
        gates = [self._webrtc.is_speech(row.tobytes(), SAMPLE_RATE) for row in gate_pcm]
        self._held.append((frames, views, gates))
        self._held_frames += len(gates)
        if self._model_awake and self._held_frames < self._hold_limit and (
            not self._speech or self._speech[-1].speech(self.options)
        ):
            return
        yield from self._release()

    def _release(self) -> Iterator[Segment]:
        """Judge and walk through every held frame, in order."""
        if not self._held:
            return
        held, self._held, self._held_frames = self._held, [], 0
        frames = np.concatenate([h[0] for h in held])
        self._block_views = np.concatenate([h[1] for h in held])
        gates = [g for h in held for g in h[2]]
        energies = np.mean(frames**2, axis=1)
        for row, samples in enumerate(frames):
            self._block_next = row + 1
            frame = _Frame(self._next_index, samples, self._block_views[row], gate=gates[row],
                           energy=float(energies[row]))
            segment = self._on_frame(frame)
            if segment is not None:
                yield segment

    def flush(self) -> Iterator[Segment]:
        """End of stream: finish the utterance in flight (the unfinished last frame is dropped)."""
        yield from self._release()
        if self._speech:
            segment = self._finish()
            if segment is not None:
                yield segment

    def _judge(self, frame: _Frame) -> None:
        """The neural VAD's probability of a frame webrtcvad has judged (while the gate is open)."""
        if self._neural is None:
            return
        if frame.gate or self.options.vad == "silero":
            self._gate_left = round(GATE_HOLD_S / self.frame_s)
        if self._gate_left == 0 and not self._speech:
            self._model_awake = False
            self._ahead = self._ahead[:0]  # judged from a state that waking up starts afresh
            self._slept.append(frame)
            return
        self._gate_left = max(0, self._gate_left - 1)
        if not self._model_awake:  # waking up: warm the model on the frames it slept through
            self._neural.reset()
            slept = list(self._slept)
            for earlier, prob in zip(slept, self._judge_ahead(frame.index, slept), strict=True):
                earlier.prob = float(prob)
            self._slept.clear()
            self._model_awake = True
        if not self._ahead_index <= frame.index < self._ahead_index + self._ahead.size:
            self._judge_ahead(frame.index)
        frame.prob = float(self._ahead[frame.index - self._ahead_index])

    def _judge_ahead(self, index: int, earlier: list[_Frame] = ()) -> np.ndarray:
        """One model call over ``earlier`` frames, then frame ``index`` and up to
        ``LOOKAHEAD_FRAMES`` of the block: keeps the latter's probabilities, returns the former's."""
        stop = self._block_next - 1 + LOOKAHEAD_FRAMES
        views = [f.view for f in earlier] + list(self._block_views[self._block_next - 1 : stop])
        probs = self._neural.probabilities(np.stack(views))
        self._ahead, self._ahead_index = probs[len(earlier) :], index
        return probs[: len(earlier)]

    def _on_frame(self, frame: _Frame) -> Segment | None:
        self._judge(frame)
        self._next_index += 1
        self._recent.append(frame)
        if not self._speech:
            self._maybe_start()
            return None
        return self._go_on(frame)

    def _go_on(self, frame: _Frame) -> Segment | None:
        """One more frame of an utterance in progress: end it, split it, or keep going."""
        opts = self.options
        self._speech.append(frame)
        self._silent_run = 0 if frame.speech(opts) else self._silent_run + 1
        self._sure_run = self._sure_run + 1 if frame.sure_silence(opts) else 0
        if (self._silent_run >= self.frames(opts.hangover_ms)
                or self._sure_run >= self.frames(opts.endpoint_ms)):
            return self._finish()
        if len(self._speech) - self._first_voiced >= self.frames(opts.max_utterance_s * 1000):
            return self._split()
        return None

    def _maybe_start(self) -> None:
        opts = self.options
        window = [f for f in list(self._recent)[-self.frames(opts.onset_window_ms) :]
                  if f.index >= self._counted_until]
        if sum(f.onset(opts) for f in window) < self.frames(opts.onset_ms):
            return
        first = next(f for f in window if f.onset(opts))
        pad = self.frames(opts.pad_start_ms)
        self._speech = [f for f in self._recent if first.index - pad <= f.index]
        self._first_voiced = next(i for i, f in enumerate(self._speech) if f is first)
        self._silent_run = 0 if window[-1].speech(opts) else 1
        self._sure_run = 1 if window[-1].sure_silence(opts) else 0

    def _finish(self) -> Segment | None:
        speech, first = self._speech, self._first_voiced
        self._speech, self._silent_run, self._sure_run = [], 0, 0
        self._counted_until = speech[-1].index + 1
        voiced = [i for i, f in enumerate(speech) if f.onset(self.options)]
        sure = [i for i in voiced if speech[i].prob >= self.options.span_end_threshold]
        voiced = voiced if not (self.options.neural and sure) else voiced[: voiced.index(sure[-1]) + 1]
        voiced_ms = (voiced[-1] + 1 - first) * self.frame_s * 1000 if voiced else 0
        if voiced_ms < self.options.min_utterance_ms:
            log.debug("dropped %d ms of speech: too short", voiced_ms)
            return None
        last = voiced[-1]
        audio_end = min(len(speech), last + 1 + self.frames(self.options.pad_end_ms))
        span = self._audible_span(speech, first, last)
        return self._segment(speech[:audio_end], first, last + 1, span)

    def _audible_span(self, speech: list[_Frame], first: int, last: int) -> tuple[float, float]:
        """Start and end (s) of the span's audible voice, to 10 ms.

        The model answers a frame late: it is still sure of speech a frame or two after the
        last word in a dry room, and while the echo dies away in a reverberant one (130 ms
        past the truth's end at the median, the longer the room's echo); it also comes in a
        piece of a frame after the first sound. Energy does not lag: the span ends with the
        last 10 ms piece, up to a frame past the model's last sure frame, that is within
        ``edge_drop_db`` of the utterance's own loud level and ``edge_floor_db`` above the
        noise around it, and starts with the first such piece up to ``EDGE_REACH_FRAMES``
        before the model's first frame.
        """
        opts, frame_s = self.options, self.frame_s
        start, end = speech[first].index * frame_s, (speech[last].index + 1) * frame_s
        if not opts.neural or opts.edge_drop_db <= 0:
            return start, end
        loud = _piece_db(speech[first : last + 1])
        around = np.concatenate([_piece_db(speech[:first]), _piece_db(speech[last + 1 :])])
        threshold_db = max(float(np.percentile(loud, LOUD_PERCENTILE)) - opts.edge_drop_db,
                           float(np.median(around)) + opts.edge_floor_db if around.size else -np.inf)
        tail = _piece_db(speech[first : last + 2])
        above = np.flatnonzero(tail >= threshold_db)
        if above.size:
            end = min(end + frame_s, speech[first].index * frame_s + (above[-1] + 1) * PIECE_S)
        head = _piece_db(speech[max(0, first - EDGE_REACH_FRAMES) : first])[::-1]
        quiet = np.flatnonzero(head < threshold_db)
        start -= (quiet[0] if quiet.size else head.size) * PIECE_S
        return float(start), float(max(end, start + PIECE_S))

    def _split(self) -> Segment:
        """Cut the utterance at its least speech-like point; the rest goes on as a new one."""
        speech, first = self._speech, self._first_voiced
        min_frames = self.frames(self.options.min_utterance_ms)
        scores = np.array([f.score(self.options) for f in speech[first:]])
        smooth = np.convolve(scores, np.ones(SPLIT_SMOOTH_FRAMES), mode="same")
        lo = min(min_frames, len(smooth) - 1)
        cut = first + lo + int(np.argmin(smooth[lo : len(smooth) - min_frames]))
        self._speech, self._first_voiced = speech[cut:], 0
        log.debug("long speech split at %.2f s", speech[cut].index * self.frame_s)
        return self._segment(speech[:cut], first, cut)

    def _segment(self, frames: list[_Frame], first: int, end: int,
                 span: tuple[float, float] | None = None) -> Segment:
        """A segment of speech from ``frames[first]`` up to (not including) ``frames[end]``,
        or over ``span`` (s) where the voice's own edges were found."""
        start, stop = span or (frames[first].index * self.frame_s, (frames[0].index + end) * self.frame_s)
        return Segment(
            start=round(float(start), 3),
            end=round(float(stop), 3),
            audio_start=round(frames[0].index * self.frame_s, 3),
            samples=np.concatenate([f.samples for f in frames]),
        )


class EarlyCutter(Protocol):
    """Looks into the utterance in progress for a place to end it early (a change of voice)."""

    def due(self, audio_start_s: float, length_s: float) -> bool: ...

    def find(self, audio_start_s: float, samples: np.ndarray) -> float | None: ...


def segment_stream(
    blocks: Iterable[np.ndarray],
    options: SegmenterOptions = SegmenterOptions(),
    cut_early: EarlyCutter | None = None,
) -> Iterator[Segment]:
    """Generator stage: 16 kHz blocks in, finished utterances out (the last one flushed).

    ``cut_early`` is asked about the utterance in progress every ``WATCH_STEP_S`` of audio,
    whatever the block size (a file's 10 s blocks and a microphone's 32 ms ones give the
    same cuts); where it finds a time, the speech before it is yielded at once.
    """
    segmenter = Segmenter(options)
    stream = _with_denoised(blocks) if options.denoise else ((b, None) for b in blocks)
    if cut_early is not None:
        stream = _in_steps(stream)
    for block, view in stream:
        yield from segmenter.feed(block, view)
        if cut_early is not None:
            yield from _cut_early(segmenter, cut_early)
    yield from segmenter.flush()


def _cut_early(segmenter: Segmenter, cut_early: EarlyCutter) -> Iterator[Segment]:
    progress = segmenter.progress()
    if progress is None or not cut_early.due(*progress):
        return
    at_s = cut_early.find(progress[0], segmenter.in_progress())
    part = None if at_s is None else segmenter.cut(at_s)
    if part is not None:
        yield part


def _in_steps(stream: Iterable[tuple]) -> Iterator[tuple]:
    """``(block, view)`` pairs re-cut into pieces of at most ``WATCH_STEP_S``."""
    step = int(WATCH_STEP_S * SAMPLE_RATE)
    for block, view in stream:
        for i in range(0, block.size, step):
            yield block[i : i + step], None if view is None else view[i : i + step]


class _NoTorch:
    """Import hook that makes ``import torch`` fail as if torch were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("the edge runtime does not use torch")
        return None


def _noisereduce():
    """noisereduce without torch: it tries ``import torch`` at import time for an
    optional GPU path; the hook makes that fail fast, as if torch were absent."""
    if "noisereduce" not in sys.modules and "torch" not in sys.modules:
        blocker = _NoTorch()
        sys.meta_path.insert(0, blocker)
        try:
            import noisereduce  # noqa: F401
        finally:
            sys.meta_path.remove(blocker)
    return sys.modules.get("noisereduce") or importlib.import_module("noisereduce")


def denoise(samples: np.ndarray) -> np.ndarray:
    """Stationary spectral-gating noise reduction (noisereduce), same length out."""
    if samples.size < 2048:  # too short for its STFT: leave it as it is
        return samples
    reduced = _noisereduce().reduce_noise(y=samples, sr=SAMPLE_RATE, stationary=True)
    return reduced.astype(np.float32)


def _with_denoised(blocks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Regroup into ``DENOISE_BLOCK_S`` blocks and pair each with its denoised version."""
    size = int(DENOISE_BLOCK_S * SAMPLE_RATE)
    pending = np.zeros(0, np.float32)
    for block in blocks:
        pending = np.concatenate([pending, block])
        while pending.size >= size:
            chunk, pending = pending[:size], pending[size:]
            yield chunk, denoise(chunk)
    if pending.size:
        yield pending, denoise(pending)
