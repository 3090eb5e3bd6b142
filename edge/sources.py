"""Where audio comes from: microphone, file, raw PCM on stdin, or a file at real-time pace.

Every source is an iterator of ``(n,)`` float32 blocks of 16 kHz mono audio in
[-1, 1]; the segmenter does not know which one it reads. sounddevice (and so
PortAudio) is imported only when a microphone is used.
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr

from edge.audio import SAMPLE_RATE, AudioError, iter_audio_blocks
from edge.errors import UserError

log = logging.getLogger(__name__)

# 32 ms reads: one window of the neural VAD, which decides per window; with 100 ms reads a
# finished utterance waited up to 68 ms more for the rest of its block (benchmarks/vad.py).
# The segmenter still judges several of them per model call where no utterance can end.
LIVE_BLOCK_SECONDS = 0.032
CALLBACK_QUEUE_S = 10.0  # audio buffered between PortAudio and the reader
CALLBACK_QUEUE_BLOCKS = round(CALLBACK_QUEUE_S / LIVE_BLOCK_SECONDS)
MIC_READ_TIMEOUT_S = 2.0  # no block for this long: the microphone is gone
PCM_DTYPES = {"s16le": ("<i2", 32768.0), "s32le": ("<i4", 2147483648.0), "f32le": ("<f4", 1.0)}


class MicrophoneError(UserError, RuntimeError):
    """A microphone that is missing, unplugged or failing, with a message for the user."""


# --------------------------------------------------------------------------- files


FILE_READ_SECONDS = 1.0  # a file is read a second at a time, whatever size its blocks are


def file_source(path: str | Path, block_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """A WAV/FLAC/OGG file of any rate and channel count, as 16 kHz mono blocks.

    Every block but the last has exactly ``block_seconds`` of samples, as a sound card's
    would; the file itself is read in reads of at least a second, so a stream of 32 ms
    blocks does not pay a file read per block (a microphone's blocks come from a queue).
    """
    size = max(1, int(block_seconds * SAMPLE_RATE))
    held = np.zeros(0, np.float32)
    for read in iter_audio_blocks(path, max(block_seconds, FILE_READ_SECONDS)):
        held = np.concatenate([held, read]) if held.size else read
        whole = held.size - held.size % size
        for i in range(0, whole, size):
            yield held[i : i + size]
        held = held[whole:]
    if held.size:
        yield held


def realtime_file_source(
    path: str | Path,
    block_seconds: float = LIVE_BLOCK_SECONDS,
    speed: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[np.ndarray]:
    """A file played at real-time pace (``speed`` times faster), block by block.

    Drives the live path in tests and demos exactly as a microphone would: a
    block is delivered only once its last sample would have been heard.
    """
    started = clock()
    delivered_s = 0.0
    for block in file_source(path, block_seconds):
        delivered_s += block.size / SAMPLE_RATE
        wait_s = started + delivered_s / speed - clock()
        if wait_s > 0:
            sleep(wait_s)
        yield block


# --------------------------------------------------------------------------- stdin


def pcm_source(
    stream: BinaryIO | None = None,
    rate: int = SAMPLE_RATE,
    encoding: str = "s16le",
    channels: int = 1,
    block_seconds: float = LIVE_BLOCK_SECONDS,
) -> Iterator[np.ndarray]:
    """Raw interleaved PCM (``arecord -f S16_LE`` style) from stdin or any byte stream."""
    if encoding not in PCM_DTYPES:
        raise AudioError(f"unknown PCM encoding {encoding!r}; use one of {', '.join(PCM_DTYPES)}")
    stream = stream if stream is not None else sys.stdin.buffer
    dtype, scale = PCM_DTYPES[encoding]
    frame_bytes = np.dtype(dtype).itemsize * channels
    read_bytes = max(1, int(block_seconds * rate)) * frame_bytes
    resampler = _stream_resampler(rate)
    pending = b""
    while chunk := stream.read(read_bytes):
        pending += chunk
        usable = len(pending) - len(pending) % frame_bytes
        raw, pending = pending[:usable], pending[usable:]
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float32) / scale
        if not np.isfinite(samples).all():  # only f32le can carry them; the VAD hears silence
            raise AudioError("the PCM stream contains NaN or infinite samples")
        block = resampler(samples.reshape(-1, channels).mean(axis=1), False)
        if block.size:
            yield block
    tail = resampler(np.zeros(0, np.float32), True)
    if tail.size:
        yield tail


def _stream_resampler(rate: int) -> Callable[[np.ndarray, bool], np.ndarray]:
    """A chunk-by-chunk resampler to 16 kHz that keeps its filter state between chunks."""
    if rate == SAMPLE_RATE:
        return lambda x, last: np.asarray(x, np.float32)
    stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    return lambda x, last: stream.resample_chunk(np.asarray(x, np.float32), last=last)


# --------------------------------------------------------------------------- microphone


@dataclass(frozen=True)
class InputDevice:
    """An audio input as PortAudio lists it."""

    index: int
    name: str
    channels: int
    default_rate: float
    is_default: bool


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # libportaudio missing
        raise MicrophoneError(
            f"audio capture needs PortAudio: sudo apt-get install libportaudio2 ({exc})"
        ) from None
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise MicrophoneError(f"cannot list audio devices: {exc}") from None
    return [
        InputDevice(i, d["name"], d["max_input_channels"], d["default_samplerate"], i == default_in)
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def resolve_device(device: int | str | None) -> InputDevice:
    """A device by index, by (part of) its name, or the system default when ``None``."""
    devices = list_input_devices()
    if not devices:
        raise MicrophoneError("no audio input device found; is a microphone plugged in?")
    if device is None or device == "":
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(device, int) or str(device).isdigit():
        found = [d for d in devices if d.index == int(device)]
    else:
        found = [d for d in devices if str(device).lower() in d.name.lower()]
    if len(found) != 1:
        names = "; ".join(f"{d.index}: {d.name}" for d in devices)
        what = "matches several" if found else "matches no"
        raise MicrophoneError(f"device {device!r} {what} input device ({names})")
    return found[0]


class MicrophoneSource:
    """Blocks from a sounddevice InputStream, resampled to 16 kHz mono when needed.

    PortAudio calls back on its own thread; blocks wait in a bounded queue. When
    the reader falls behind, blocks are dropped and counted (``overflows``)
    rather than growing memory. Iterating raises :class:`MicrophoneError` when
    the device stops delivering audio (unplugged).
    """

    def __init__(self, device: int | str | None = None, block_seconds: float = LIVE_BLOCK_SECONDS):
        self.device = resolve_device(device)
        self.block_seconds = block_seconds
        self.overflows = 0
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=CALLBACK_QUEUE_BLOCKS)
        self._rate = self._pick_rate()
        self._stream = None

    def _pick_rate(self) -> int:
        sd = _sounddevice()
        try:
            sd.check_input_settings(self.device.index, samplerate=SAMPLE_RATE, channels=1)
            return SAMPLE_RATE
        except Exception:  # the device cannot do 16 kHz itself: capture natively, resample
            return int(self.device.default_rate)

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self._count_overflow("PortAudio input overflow")
        try:
            self._queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self._count_overflow("reader fell behind; block dropped")

    def _count_overflow(self, why: str) -> None:
        self.overflows += 1
        if self.overflows == 1 or self.overflows % 100 == 0:
            log.warning("microphone overflow #%d: %s", self.overflows, why)

    def __iter__(self) -> Iterator[np.ndarray]:
        sd = _sounddevice()
        blocksize = int(self.block_seconds * self._rate)
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                channels=1,
                samplerate=self._rate,
                blocksize=blocksize,
                dtype="float32",
                callback=self._callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise MicrophoneError(f"cannot open {self.device.name!r}: {exc}") from None
        log.info("capturing from %r at %d Hz", self.device.name, self._rate)
        try:
            yield from self._read_blocks()
        finally:
            self.close()

    def _read_blocks(self) -> Iterator[np.ndarray]:
        resampler = _stream_resampler(self._rate)
        while True:
            try:
                block = self._queue.get(timeout=MIC_READ_TIMEOUT_S)
            except queue.Empty:
                raise MicrophoneError(
                    f"{self.device.name!r} delivered no audio for {MIC_READ_TIMEOUT_S:.0f} s"
                ) from None
            yield resampler(block, False) if self._rate != SAMPLE_RATE else block

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close(ignore_errors=True)
            finally:
                self._stream = None
