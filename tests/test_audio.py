"""The front end: any file to 16 kHz mono, features that do not depend on how audio was stored."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest
import soundfile as sf

from edge.audio import (
    HOP_SAMPLES,
    LOGMEL,
    SPECTROGRAM,
    STFT_BLOCK_FRAMES,
    AudioError,
    FeatureConfig,
    _window,
    compute_features,
    frame_count,
    iter_audio_blocks,
    load_audio,
    mel_filterbank,
    normalise,
    raise_volume,
)


def band_limited_signal(rate: int, seconds: float = 1.5) -> np.ndarray:
    """A voice-like signal: harmonics of 150 Hz below 3.5 kHz with a slow envelope."""
    t = np.arange(int(rate * seconds)) / rate
    tone = sum(np.sin(2 * np.pi * 150 * k * t + k) / k for k in range(1, 24))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t)
    return (0.2 * tone * envelope).astype(np.float32)


def test_same_features_for_16k_mono_and_44k_stereo(tmp_path):
    mono = tmp_path / "mono16k.wav"
    stereo = tmp_path / "stereo44k.wav"
    sf.write(mono, band_limited_signal(16_000), 16_000, subtype="PCM_16")
    s44 = band_limited_signal(44_100)
    sf.write(stereo, np.stack([s44, s44], axis=1), 44_100, subtype="PCM_24")

    a, b = load_audio(mono), load_audio(stereo)
    assert abs(a.size - b.size) <= 2
    n = min(a.size, b.size)
    for config in (SPECTROGRAM, LOGMEL):
        fa = compute_features(a[:n], config)
        fb = compute_features(b[:n], config)
        inner = slice(5, -5)  # resampler edge transients at the ends
        error = np.abs(fa[inner] - fb[inner])
        # stated tolerance, in units of the normalised features (unit variance per bin)
        assert error.mean() < 0.02
        assert np.percentile(error, 99) < 0.15


def test_feature_shapes_and_normalisation():
    x = band_limited_signal(16_000, 2.0)
    spec = compute_features(x, SPECTROGRAM)
    assert spec.shape == (frame_count(x.size), 161)
    assert np.allclose(spec.mean(axis=0), 0, atol=1e-4)
    mel = compute_features(x, LOGMEL)
    assert mel.shape == (frame_count(x.size), 64)


def test_mel_filterbank_has_no_empty_filter():
    fb = mel_filterbank(16_000, 320, 128)
    assert (fb.sum(axis=0) > 0).all()


def test_streaming_read_matches_whole_read(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, band_limited_signal(22_050, 5.0), 22_050)
    blocks = list(iter_audio_blocks(path, block_seconds=0.7))
    assert len(blocks) > 3
    assert np.allclose(np.concatenate(blocks), load_audio(path), atol=1e-6)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable audio file"),
        (b"this is a text file, not audio" * 10, "not a readable audio file"),
    ],
)
def test_unreadable_files_give_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        load_audio(path)


def test_empty_and_missing_and_truncated(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16_000)
    with pytest.raises(AudioError, match="contains no audio"):
        load_audio(empty)
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    good = tmp_path / "good.wav"
    sf.write(good, band_limited_signal(16_000), 16_000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioError):
        load_audio(truncated)


def test_long_file_refused_when_a_limit_is_set(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16_000 * 3, np.float32), 16_000)
    with pytest.raises(AudioError, match="longer than"):
        load_audio(path, max_seconds=2)


def test_a_file_libsndfile_cannot_seek_is_streamed(tmp_path):
    """GSM 6.10 in WAV is not seekable for libsndfile: it still reads, block by block."""
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(8_000 * 3) / 8_000)).astype(np.float32)
    path = tmp_path / "gsm.wav"
    sf.write(path, tone, 8_000, subtype="GSM610")
    audio = np.concatenate(list(iter_audio_blocks(path, block_seconds=0.5)))
    assert audio.size == pytest.approx(16_000 * 3, abs=1000)  # GSM pads to 20 ms frames
    assert np.sqrt(np.mean(audio[4000:-4000] ** 2)) > 0.1  # the tone, not silence


SPEAKER_MEL = FeatureConfig(  # the speaker encoder's front end
    type="mel", n_fft=400, window="hann_periodic", n_mels=40, normalisation="volume",
    mel_scale="slaney", target_dbfs=-30.0,
)  # fmt: skip


def whole_stft_features(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """The features with every frame's FFT in one call (the textbook form, before blocks)."""
    samples = (
        raise_volume(samples, config.target_dbfs) if config.normalisation == "volume" else samples
    )
    pad = config.n_fft // 2
    padded = np.pad(samples, pad, mode="reflect" if samples.size > pad else "constant")
    padded = np.pad(padded, (0, max(0, config.n_fft - padded.size)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length]
    frames = frames[: frame_count(samples.size, config.hop_length)]
    window = np.zeros(config.n_fft, np.float32)
    offset = (config.n_fft - config.win_length) // 2
    window[offset : offset + config.win_length] = _window(config.window, config.win_length)
    magnitude = np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)
    if config.type == "spectrogram":
        features = np.log1p(magnitude)
    else:
        bank = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.mel_scale)
        features = magnitude**2 @ bank
        features = np.log(features + 1e-6) if config.type == "logmel" else features
    features = normalise(features) if config.normalisation == "utterance" else features
    return features.astype(np.float32)


@pytest.mark.parametrize(
    "config", [SPECTROGRAM, LOGMEL, SPEAKER_MEL], ids=["spec", "logmel", "mel"]
)
@pytest.mark.parametrize(
    "frames", [1, STFT_BLOCK_FRAMES, STFT_BLOCK_FRAMES + 1, 5 * STFT_BLOCK_FRAMES + 7]
)
def test_features_in_blocks_are_the_same_numbers_as_one_whole_fft(config, frames):
    x = band_limited_signal(16_000, 10.0)[: (frames - 1) * HOP_SAMPLES + 37]
    assert frame_count(x.size) == frames
    assert np.array_equal(compute_features(x, config), whole_stft_features(x, config))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc and minor faults")
def test_features_of_an_8s_utterance_reuse_their_buffers():
    """The STFT in blocks: no megabyte-sized buffer to fault in afresh on every utterance
    (the whole 8 s spectrum at once cost ~1900 page faults per call, more CPU than the FFT)."""
    x = band_limited_signal(16_000, 8.0)
    for _ in range(3):  # malloc settles its thresholds
        compute_features(x, LOGMEL), compute_features(x, SPEAKER_MEL)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        compute_features(x, LOGMEL), compute_features(x, SPEAKER_MEL)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5 < 300
