"""Home noise, SNR mixing, reverberation and the noise bank."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE, load_audio, save_audio
from training import noise

ONE_SECOND = SAMPLE_RATE


def tone(seconds: float = 1.0, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def band_energy_share(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum() / spectrum.sum())


@pytest.mark.parametrize("target_db", [-5.0, 0.0, 10.0, 20.0])
def test_mixed_noise_has_the_requested_snr(target_db):
    rng = np.random.default_rng(0)
    speech = tone()
    bg = noise.home_noise(ONE_SECOND // 2, rng, "fan")  # shorter than speech: looped
    mixed = noise.mix_at_snr(speech, bg, target_db)
    assert noise.snr_db(speech, mixed - speech) == pytest.approx(target_db, abs=0.01)


def test_snr_over_active_samples_ignores_pauses():
    speech = np.concatenate([tone(), np.zeros(ONE_SECOND, np.float32)])
    active = np.arange(speech.size) < ONE_SECOND
    bg = noise.home_noise(speech.size, np.random.default_rng(1), "rumble")
    mixed = noise.mix_at_snr(speech, bg, 15.0, active=active)
    added = mixed - speech
    assert noise.snr_db(speech[active], added[active]) == pytest.approx(15.0, abs=0.01)
    assert np.abs(added[~active]).max() > 0  # the pause is noisy too


@pytest.mark.parametrize("kind", noise.NOISE_KINDS)
def test_every_kind_is_deterministic_unit_level_noise(kind):
    a = noise.home_noise(ONE_SECOND, np.random.default_rng(7), kind)
    b = noise.home_noise(ONE_SECOND, np.random.default_rng(7), kind)
    c = noise.home_noise(ONE_SECOND, np.random.default_rng(8), kind)
    assert a.dtype == np.float32 and a.shape == (ONE_SECOND,)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert noise.power(a) == pytest.approx(1.0, rel=1e-3)


def test_noise_kinds_sound_different():
    rng = np.random.default_rng(3)
    n = 2 * ONE_SECOND
    assert band_energy_share(noise.hum(n, rng), 0, 500) > 0.95
    assert band_energy_share(noise.rumble(n, rng), 0, 300) > 0.95
    assert band_energy_share(noise.vacuum(n, rng), 300, 8000) > 0.9
    assert band_energy_share(noise.tv(n, rng), 0, 150) < 0.05  # small speaker, no bass
    assert band_energy_share(noise.babble(n, rng), 100, 4000) > 0.8


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown noise kind"):
        noise.home_noise(100, np.random.default_rng(0), "thunder")


def test_reverb_keeps_length_and_level_and_smears_an_impulse():
    x = np.zeros(ONE_SECOND, np.float32)
    x[1000] = 1.0
    wet = noise.reverberate(x, np.random.default_rng(0), rt60_range_s=(0.5, 0.5))
    assert wet.shape == x.shape
    assert noise.power(wet) == pytest.approx(noise.power(x), rel=1e-3)
    late = wet[1000 + SAMPLE_RATE // 10 : 1000 + SAMPLE_RATE // 5]  # 100-200 ms later
    assert np.abs(late).max() > 1e-3
    assert np.abs(wet[:1000]).max() < 1e-6  # causal: nothing before the impulse


def test_impulse_response_decays_by_60_db_over_rt60():
    rir = noise.room_impulse_response(np.random.default_rng(0), rt60_s=0.4)
    tenth = rir.size // 10
    early = noise.power(rir[1 : 1 + tenth])
    final = noise.power(rir[-tenth:])
    # energy falls 60 dB over the whole length: the last tenth is ~54 dB below the first
    assert 45 < 10 * np.log10(early / final) < 65


def test_gain_in_db():
    x = tone()
    assert noise.power(noise.apply_gain(x, 6.0)) / noise.power(x) == pytest.approx(
        10**0.6, rel=1e-4
    )


def test_noise_bank_round_trip(tmp_path):
    folder = noise.write_noise_bank(tmp_path, seed=1, clips_per_kind=1, seconds=0.5)
    rows = [json.loads(line) for line in (folder / "noise.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in rows} == set(noise.NOISE_KINDS)
    for r in rows:
        audio = load_audio(folder / r["audio"])
        assert audio.size == pytest.approx(r["duration_s"] * SAMPLE_RATE, abs=2)
    bank = noise.NoiseBank.from_dir(folder)
    crop = bank.sample(3 * ONE_SECOND, np.random.default_rng(0))
    assert crop.shape == (3 * ONE_SECOND,) and noise.power(crop) > 0


def test_user_noise_folder_of_any_format_skips_broken_files(tmp_path):
    save_audio(tmp_path / "fridge.flac", tone(0.5, 100.0))
    (tmp_path / "sub").mkdir()
    save_audio(tmp_path / "sub" / "tap.wav", tone(0.5, 900.0))
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    bank = noise.NoiseBank.from_dir(tmp_path)
    assert sorted(c.source.rsplit("/", 1)[-1] for c in bank.clips) == ["fridge.flac", "tap.wav"]
    assert all(c.kind == "user" for c in bank.clips)


def test_augment_is_deterministic_and_adds_noise():
    speech = tone()
    opts = noise.AugmentOptions(
        noise_prob=1.0, snr_db=(10.0, 10.0), reverb_prob=0.0, gain_db=(0, 0)
    )
    a = noise.augment(speech, np.random.default_rng(5), opts)
    b = noise.augment(speech, np.random.default_rng(5), opts)
    assert np.array_equal(a, b)
    assert noise.snr_db(speech, a - speech) == pytest.approx(10.0, abs=0.05)


def test_babble_from_speech_clips_is_made_of_those_voices():
    rng = np.random.default_rng(2)
    clips = [tone(0.7, 300.0), tone(0.5, 450.0)]
    mixed = noise.babble(2 * ONE_SECOND, rng, talkers=4, speech_clips=clips)
    assert noise.power(mixed) == pytest.approx(1.0, rel=1e-3)
    assert band_energy_share(mixed, 250, 500) > 0.9
    assert band_energy_share(noise.babble(2 * ONE_SECOND, rng), 250, 500) < 0.5


def test_noise_bank_babble_uses_given_speech(tmp_path):
    clips = [tone(0.6, 350.0)]
    folder = noise.write_noise_bank(
        tmp_path, seed=0, clips_per_kind=1, seconds=1.0, speech_clips=clips
    )
    babble = load_audio(folder / "babble_00.wav")
    assert band_energy_share(babble, 300, 400) > 0.8
