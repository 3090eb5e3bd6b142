"""The microphone source against a stand-in for sounddevice (this machine has no sound card):
device choice by index or name, resampling from the device's own rate, overflows counted,
and an unplugged device reported instead of hanging."""

from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np
import pytest

import edge.sources
from edge.sources import MicrophoneError, MicrophoneSource, list_input_devices, resolve_device

DEVICES = [
    {
        "name": "HDA Intel PCH: ALC897 Analog",
        "max_input_channels": 2,
        "default_samplerate": 48000.0,
    },
    {"name": "HDMI output", "max_input_channels": 0, "default_samplerate": 48000.0},
    {"name": "USB Conference Mic", "max_input_channels": 1, "default_samplerate": 44100.0},
]


class FakeStatus:
    def __init__(self, overflow=False):
        self.input_overflow = overflow


class FakeInputStream:
    """Calls back from its own thread with a 440 Hz tone, like PortAudio."""

    def __init__(
        self, device, channels, samplerate, blocksize, dtype, callback, blocks, overflow_at
    ):
        self.rate, self.blocksize, self.callback = samplerate, blocksize, callback
        self.blocks, self.overflow_at = blocks, overflow_at
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        for i in range(self.blocks):
            t = (np.arange(self.blocksize) + i * self.blocksize) / self.rate
            data = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None]
            self.callback(data, self.blocksize, None, FakeStatus(i in self.overflow_at))
            time.sleep(0.001)

    def start(self):
        self._thread.start()

    def close(self, ignore_errors=True):
        pass


def fake_sounddevice(native_16k: bool, blocks=20, overflow_at=()):
    module = types.ModuleType("sounddevice")
    module.PortAudioError = type("PortAudioError", (Exception,), {})
    module.query_devices = lambda: DEVICES
    module.default = types.SimpleNamespace(device=(0, 1))

    def check_input_settings(device, samplerate, channels):
        if not native_16k:
            raise module.PortAudioError("Invalid sample rate")

    module.check_input_settings = check_input_settings
    module.InputStream = lambda **kw: FakeInputStream(**kw, blocks=blocks, overflow_at=overflow_at)
    return module


@pytest.fixture
def sounddevice(monkeypatch):
    def install(**kw):
        monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(**kw))

    monkeypatch.setattr(edge.sources, "MIC_READ_TIMEOUT_S", 0.3)
    return install


def test_devices_by_index_name_or_default(sounddevice):
    sounddevice(native_16k=True)
    assert [d.index for d in list_input_devices()] == [0, 2]  # HDMI has no input
    assert resolve_device(None).index == 0
    assert resolve_device("usb").name == "USB Conference Mic"
    assert resolve_device("2").index == 2
    with pytest.raises(MicrophoneError, match="matches no input device"):
        resolve_device("bluetooth")
    with pytest.raises(MicrophoneError, match="matches several"):
        resolve_device("c")


def read_until_unplugged(source):
    blocks = []
    with pytest.raises(MicrophoneError, match="delivered no audio"):
        for block in source:
            blocks.append(block)
    return np.concatenate(blocks)


def test_a_device_without_16k_is_resampled_and_a_silent_device_is_reported(sounddevice):
    sounddevice(native_16k=False, blocks=20)  # 20 x 100 ms at 44.1 kHz, then nothing
    source = MicrophoneSource("usb", block_seconds=0.1)
    audio = read_until_unplugged(source)
    assert audio.size == pytest.approx(2.0 * 16_000, abs=400)  # the stream keeps a filter tail
    spectrum = np.abs(np.fft.rfft(audio[2000:18000]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 16000-sample window: 1 Hz bins


def test_overflows_are_counted(sounddevice, caplog):
    sounddevice(native_16k=True, blocks=10, overflow_at=(3, 7))
    source = MicrophoneSource(0, block_seconds=0.1)
    with caplog.at_level("WARNING", logger="edge.sources"):
        audio = read_until_unplugged(source)
    assert source.overflows == 2
    assert audio.size == 10 * 1600
    assert "microphone overflow #1" in caplog.text


def test_no_input_device_is_a_clear_error(monkeypatch):
    module = fake_sounddevice(native_16k=True)
    module.query_devices = lambda: DEVICES[1:2]
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    with pytest.raises(MicrophoneError, match="no audio input device"):
        MicrophoneSource()


def test_nan_in_a_float_pcm_stream_is_a_clear_error():
    import io

    from edge.audio import AudioError
    from edge.sources import pcm_source

    samples = np.zeros(16_000, "<f4")
    samples[8_000] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        list(pcm_source(io.BytesIO(samples.tobytes()), encoding="f32le"))
