"""Procedural noise of random kind (training.noise_random) and its use in augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import median_filter

from edge.audio import SAMPLE_RATE
from training import noise, noise_random
from training.ds2.config import load_config

N = 2 * SAMPLE_RATE + 7  # an odd length: FFT round trips must still give exactly N


def spectrum_db(x: np.ndarray, bands: int = 24) -> np.ndarray:
    """Energy in log-spaced bands from 50 Hz to 8 kHz, dB."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    edges = np.geomspace(50.0, SAMPLE_RATE / 2, bands + 1)
    energy = [
        power[(freqs >= lo) & (freqs < hi)].sum()
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    return 10 * np.log10(np.asarray(energy) + 1e-12)


def centroid_hz(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    return float((power * freqs).sum() / power.sum())


def draws(kind: str | None, count: int) -> list[np.ndarray]:
    """``count`` noises of ``kind``, one per seed 0, 1, ..."""
    return [noise_random.random_noise(N, np.random.default_rng(s), kind) for s in range(count)]


def frame_rms_spread(x: np.ndarray, frame: int = 320) -> float:
    """Coefficient of variation of 20 ms frame RMS: 0 for a steady noise."""
    rms = np.sqrt(np.mean(x[: x.size // frame * frame].reshape(-1, frame) ** 2, axis=1))
    return float(rms.std() / rms.mean())


@pytest.mark.parametrize("kind", [*noise_random.ALL_KINDS, None])
def test_every_kind_has_the_length_type_and_unit_level(kind):
    x = noise_random.random_noise(N, np.random.default_rng(3), kind)
    assert x.shape == (N,) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("kind", [*noise_random.ALL_KINDS, None])
def test_the_same_seed_gives_the_same_noise_and_another_seed_another(kind):
    a = noise_random.random_noise(N, np.random.default_rng(11), kind)
    b = noise_random.random_noise(N, np.random.default_rng(11), kind)
    c = noise_random.random_noise(N, np.random.default_rng(12), kind)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_spectral_shapes_vary_widely_between_draws():
    noises = draws("coloured", 30)
    shapes = [spectrum_db(x) for x in noises]
    centroids = [centroid_hz(x) for x in noises]
    # dark rumble to bright hiss: centroids spread over more than a factor of 5
    assert max(centroids) / min(centroids) > 5
    assert min(centroids) < 600 and max(centroids) > 2500
    # and the shapes differ, not only their tilt: some pairs are nearly uncorrelated
    corr = np.corrcoef(np.asarray(shapes))
    assert np.min(corr) < 0.2
    assert np.median(corr[np.triu_indices(30, 1)]) < 0.9


def test_the_random_envelope_makes_notches_and_edges_at_random_places():
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, 2001)
    gains = np.asarray(
        [noise_random.random_envelope(np.random.default_rng(s))(freqs) for s in range(20)]
    )
    assert np.all(gains >= 0) and np.all(gains <= 1.0 + 1e-9)
    # the loudest frequency is somewhere else for different draws
    assert len({int(np.argmax(g)) // 100 for g in gains}) >= 6


def test_modulated_noise_is_unsteady_and_coloured_noise_is_steady():
    steady = [frame_rms_spread(x) for x in draws("coloured", 10)]
    moving = [frame_rms_spread(x) for x in draws("modulated", 10)]
    assert np.median(steady) < 0.15
    assert np.median(moving) > 0.5


def test_transients_and_grains_come_in_events():
    for kind in ("transients", "grains"):
        crest = [np.abs(x).max() / np.sqrt(np.mean(x**2)) for x in draws(kind, 10)]
        assert np.median(crest) > 6, kind  # Gaussian noise of this length stays near 4-5


def test_tonal_noise_is_peaky():
    def peakiness(x):
        """The strongest bin against the median of its 200 neighbours (about 20 for hiss)."""
        power = np.abs(np.fft.rfft(x)) ** 2
        return float((power / (median_filter(power, 201) + 1e-20)).max())

    tones = [peakiness(x) for x in draws("tonal", 8)]
    hiss = [peakiness(x) for x in draws("coloured", 8)]
    assert np.median(tones) > 20 * np.median(hiss)


def test_the_random_draw_uses_every_kind():
    seen = set()
    original = dict(noise_random._MAKERS)
    try:
        for kind, maker in original.items():
            noise_random._MAKERS[kind] = lambda n, r, kind=kind, maker=maker: (
                seen.add(kind) or maker(n, r)
            )
        for seed in range(60):
            noise_random.random_noise(800, np.random.default_rng(seed))
    finally:
        noise_random._MAKERS.update(original)
    assert seen == set(noise_random.KINDS)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        noise_random.random_noise(100, np.random.default_rng(0), "thunder")
    with pytest.raises(ValueError):
        noise_random.random_noise(0, np.random.default_rng(0))


def _speech() -> np.ndarray:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    return (0.2 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def _bank(hz: float) -> noise.NoiseBank:
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    clip = np.sin(2 * np.pi * hz * t).astype(np.float32)
    return noise.NoiseBank([noise.NoiseClip("test", clip, "test")])


def test_augmentation_takes_procedural_noise_instead_of_the_bank_at_its_share():
    options = noise.AugmentOptions(noise_prob=1.0, reverb_prob=0.0, gain_db=(0.0, 0.0))
    speech = _speech()

    def run(bank_hz: float, share: float) -> np.ndarray:
        opts = noise.AugmentOptions(**{**options.__dict__, "random_noise_prob": share})
        return noise.augment(speech, np.random.default_rng(5), opts, _bank(bank_hz))

    # share 0: the bank's clip is the noise, so two banks give two results
    assert not np.allclose(run(500.0, 0.0), run(3000.0, 0.0))
    # share 1: the bank is never read; the noise is procedural and at the drawn SNR
    np.testing.assert_array_equal(run(500.0, 1.0), run(3000.0, 1.0))
    residual = run(500.0, 1.0) - speech
    assert 0.0 <= noise.snr_db(speech, residual) <= 25.0
    # share 0 is the old behaviour bit for bit (no extra random draw)
    old = noise.augment(speech, np.random.default_rng(5), options, _bank(500.0))
    np.testing.assert_array_equal(run(500.0, 0.0), old)


def test_the_training_config_reads_the_share(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('preset = "demo"\n[augment.noise]\nrandom_noise_prob = 0.5\n')
    assert load_config(str(path)).augment.noise.random_noise_prob == 0.5
    assert load_config("demo").augment.noise.random_noise_prob == 0.0
