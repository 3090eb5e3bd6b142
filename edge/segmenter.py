"""Utterances out of a stream of audio blocks: webrtcvad with onset, hangover and padding.

An utterance's times are its voiced frames (from the first voiced frame to the
last); that is what the statistics count. The samples handed to the recognisers
carry extra padding on both sides so that no word is clipped. Speech longer
than ``max_utterance_s`` is split at its quietest frame, never at a fixed point.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import webrtcvad

from edge.audio import SAMPLE_RATE
from edge.pitch import PitchTrack

log = logging.getLogger(__name__)

VAD_FRAME_MS = (10, 20, 30)  # the only frame lengths webrtcvad accepts
PCM16_SCALE = 32767  # float [-1, 1] to the int16 PCM webrtcvad reads
DENOISE_BLOCK_S = 1.0  # noisereduce needs context: it sees 1 s at a time (adds 1 s of delay)
QUIET_SMOOTH_FRAMES = 3  # the split point is the quietest 3-frame stretch
NOISE_FLOOR_S = 3.0  # the noise floor is judged over the last 3 s of frames ...
NOISE_FLOOR_PERCENTILE = 10  # ... as the energy most frames exceed (pauses between words)
NOISE_FLOOR_EVERY = 10  # frames between floor updates (a percentile per frame costs more than the VAD)


@dataclass(frozen=True)
class SegmenterOptions:
    """How speech is found. Times in milliseconds unless named ``_s``."""

    frame_ms: int = 30
    # webrtcvad 0 (least) to 3 (most aggressive at rejecting non-speech); 3 because at 2 home
    # noise at 20 dB SNR passed as speech (+50 % speech time on household scenes)
    aggressiveness: int = 3
    onset_ms: int = 90  # voiced audio needed within ``onset_window_ms`` to start an utterance
    onset_window_ms: int = 150
    # unvoiced audio that ends an utterance (shorter pauses stay inside); longer merged
    # parents who answer each other quickly into one utterance
    hangover_ms: int = 240
    pad_start_ms: int = 150  # audio before the first voiced frame given to the recognisers
    pad_end_ms: int = 150  # audio after the last voiced frame given to the recognisers
    min_utterance_ms: int = 200  # shorter voiced stretches are clicks and knocks: dropped
    max_utterance_s: float = 15.0  # longer speech is split at its quietest point
    denoise: bool = False  # noisereduce before the VAD decision (the samples stay as heard)
    # a frame is speech only when webrtcvad says so AND it is this far above the noise floor:
    # webrtcvad alone hears steady home noise right after speech as more speech (0: off)
    min_speech_over_floor_db: float = 6.0

    def __post_init__(self):
        if self.frame_ms not in VAD_FRAME_MS:
            raise ValueError(f"frame_ms must be one of {VAD_FRAME_MS}, not {self.frame_ms}")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0 to 3, not {self.aggressiveness}")
        if self.pad_end_ms > self.hangover_ms:
            raise ValueError("pad_end_ms cannot exceed hangover_ms (that audio is not kept)")
        if self.max_utterance_s * 1000 < 2 * self.min_utterance_ms:
            raise ValueError("max_utterance_s must be at least twice min_utterance_ms")

    def frames(self, ms: float) -> int:
        """Whole frames in ``ms`` milliseconds (at least one)."""
        return max(1, round(ms / self.frame_ms))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Segment:
    """One utterance as audio: voiced from ``start`` to ``end`` (s from the stream's start).

    ``samples`` (16 kHz float32) begin at ``audio_start`` and include the padding.
    """

    start: float
    end: float
    audio_start: float
    samples: np.ndarray = field(repr=False)
    # the pitch track of ``samples`` when a stage already computed it (the voice tagger reuses it)
    pitch: PitchTrack | None = field(default=None, repr=False)
    # the speaker vector of ``samples`` when the voice-change stage already computed it
    embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class _Frame:
    index: int  # frame number since the stream began
    samples: np.ndarray
    voiced: bool
    energy: float


class Segmenter:
    """Streaming segmenter: ``feed`` blocks, get finished :class:`Segment` objects back."""

    def __init__(self, options: SegmenterOptions = SegmenterOptions()):
        self.options = options
        self._vad = webrtcvad.Vad(options.aggressiveness)
        self._frame_samples = SAMPLE_RATE * options.frame_ms // 1000  # 480 samples per 30 ms
        self._frame_s = options.frame_ms / 1000
        # the onset window plus the start padding before its first voiced frame
        self._recent: deque[_Frame] = deque(
            maxlen=options.frames(options.pad_start_ms) + options.frames(options.onset_window_ms)
        )
        self._speech: list[_Frame] = []  # the utterance in progress, padding included
        self._first_voiced = 0  # index into _speech of its first voiced frame
        self._silent_run = 0
        self._pending = np.zeros(0, np.float32)
        self._pending_vad = np.zeros(0, np.float32)
        self._next_index = 0
        self._energies: deque[float] = deque(maxlen=options.frames(NOISE_FLOOR_S * 1000))
        self._over_floor = 10 ** (options.min_speech_over_floor_db / 10)
        self._floor = 0.0

    @property
    def in_speech(self) -> bool:
        return bool(self._speech)

    def feed(self, block: np.ndarray, vad_view: np.ndarray | None = None) -> Iterator[Segment]:
        """Add 16 kHz samples; ``vad_view`` (same length) is what the VAD judges, if given."""
        self._pending = np.concatenate([self._pending, np.asarray(block, np.float32)])
        view = block if vad_view is None else vad_view
        self._pending_vad = np.concatenate([self._pending_vad, np.asarray(view, np.float32)])
        n = self._frame_samples
        usable = self._pending.size - self._pending.size % n
        frames = self._pending[:usable].reshape(-1, n)
        pcm = (np.clip(self._pending_vad[:usable], -1.0, 1.0) * PCM16_SCALE).astype("<i2")
        energies = np.mean(frames**2, axis=1)
        for k, samples in enumerate(frames):
            segment = self._on_frame(samples, pcm[k * n : (k + 1) * n].tobytes(), energies[k])
            if segment is not None:
                yield segment
        self._pending, self._pending_vad = self._pending[usable:], self._pending_vad[usable:]

    def flush(self) -> Iterator[Segment]:
        """End of stream: finish the utterance in flight (the unfinished last frame is dropped)."""
        if self._speech:
            segment = self._finish()
            if segment is not None:
                yield segment

    def _above_floor(self, energy: float) -> bool:
        """Whether ``energy`` stands out of the recent noise floor (always, until one is known)."""
        self._energies.append(energy)
        if self._over_floor <= 1 or len(self._energies) < self._energies.maxlen:
            return True
        if self._next_index % NOISE_FLOOR_EVERY == 0:
            self._floor = float(np.percentile(self._energies, NOISE_FLOOR_PERCENTILE))
        return energy >= self._floor * self._over_floor

    def _on_frame(self, samples: np.ndarray, pcm: bytes, energy: float) -> Segment | None:
        voiced = self._above_floor(energy) and self._vad.is_speech(pcm, SAMPLE_RATE)
        frame = _Frame(self._next_index, samples, voiced, float(energy))
        self._next_index += 1
        self._recent.append(frame)
        if not self._speech:
            self._maybe_start()
            return None
        self._speech.append(frame)
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._silent_run >= self.options.frames(self.options.hangover_ms):
            return self._finish()
        if len(self._speech) - self._first_voiced >= self._max_frames:
            return self._split()
        return None

    @property
    def _max_frames(self) -> int:
        return self.options.frames(self.options.max_utterance_s * 1000)

    def _maybe_start(self) -> None:
        opts = self.options
        window = list(self._recent)[-opts.frames(opts.onset_window_ms) :]
        if sum(f.voiced for f in window) < opts.frames(opts.onset_ms):
            return
        first = next(f for f in window if f.voiced)
        pad = opts.frames(opts.pad_start_ms)
        self._speech = [f for f in self._recent if first.index - pad <= f.index]
        self._first_voiced = next(i for i, f in enumerate(self._speech) if f is first)
        self._silent_run = 0 if window[-1].voiced else 1

    def _finish(self) -> Segment | None:
        speech, first = self._speech, self._first_voiced
        self._speech, self._silent_run = [], 0
        voiced = [i for i, f in enumerate(speech) if f.voiced]
        voiced_ms = (voiced[-1] + 1 - first) * self.options.frame_ms if voiced else 0
        if voiced_ms < self.options.min_utterance_ms:
            log.debug("dropped %d ms of voiced audio: too short", voiced_ms)
            return None
        last = voiced[-1]
        audio_end = min(len(speech), last + 1 + self.options.frames(self.options.pad_end_ms))
        return self._segment(speech[:audio_end], first, last + 1)

    def _split(self) -> Segment:
        """Cut the utterance at its quietest point; the rest goes on as a new utterance."""
        speech, first = self._speech, self._first_voiced
        min_frames = self.options.frames(self.options.min_utterance_ms)
        energies = np.array([f.energy for f in speech[first:]])
        smooth = np.convolve(energies, np.ones(QUIET_SMOOTH_FRAMES), mode="same")
        lo = min(min_frames, len(smooth) - 1)
        cut = first + lo + int(np.argmin(smooth[lo : len(smooth) - min_frames]))
        self._speech, self._first_voiced = speech[cut:], 0
        log.debug("long speech split at %.2f s", speech[cut].index * self._frame_s)
        return self._segment(speech[:cut], first, cut)

    def _segment(self, frames: list[_Frame], first: int, end: int) -> Segment:
        """A segment voiced from ``frames[first]`` up to (not including) ``frames[end]``."""
        return Segment(
            start=round(frames[first].index * self._frame_s, 3),
            end=round((frames[0].index + end) * self._frame_s, 3),
            audio_start=round(frames[0].index * self._frame_s, 3),
            samples=np.concatenate([f.samples for f in frames]),
        )


def segment_stream(
    blocks: Iterable[np.ndarray], options: SegmenterOptions = SegmenterOptions()
) -> Iterator[Segment]:
    """Generator stage: 16 kHz blocks in, finished utterances out (the last one flushed)."""
    segmenter = Segmenter(options)
    stream = _with_denoised(blocks) if options.denoise else ((b, None) for b in blocks)
    for block, view in stream:
        yield from segmenter.feed(block, view)
    yield from segmenter.flush()


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
