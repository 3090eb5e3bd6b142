"""The day soak's audio: the hours asked for, in microphone blocks, each pass cut differently."""

import numpy as np

from benchmarks.soak.day import BLOCK_S, day_of_audio, varied_passes

RATE = 1000  # a small rate keeps an hour of blocks cheap


def test_a_day_of_audio_delivers_the_hours_asked_for_in_blocks_and_logs_each_hour():
    samples = np.arange(2500, dtype=np.float32)
    log: list = []
    blocks = list(day_of_audio(2.0, samples, RATE, log))
    assert {b.size for b in blocks} == {int(BLOCK_S * RATE)}
    assert sum(b.size for b in blocks) == 2 * 3600 * RATE
    assert [entry[0] for entry in log] == [0, 1, 2, 2.0]
    joined = np.concatenate(blocks)
    assert np.array_equal(joined[: 3 * samples.size], np.tile(samples, 3))  # plain loop


def test_varied_passes_start_at_different_points_and_end_in_quiet_pauses_of_other_lengths():
    samples = np.linspace(0.5, 1.0, 8 * RATE, dtype=np.float32)  # no sample of it is quiet
    passes = varied_passes(samples, RATE, seed=3)
    first = [next(passes) for _ in range(6)]
    assert len({p.size for p in first}) == 6
    for p in first:
        loud = np.flatnonzero(np.abs(p) >= 0.5)
        speech = p[: loud[-1] + 1]
        assert np.array_equal(speech, samples[samples.size - speech.size :])  # the sample's tail
        assert samples.size - 3 * RATE <= speech.size <= samples.size
        pause = p[loud[-1] + 1 :]
        assert 0.2 * RATE <= pause.size <= 4 * RATE and np.abs(pause).max() < 0.05


def test_varied_blocks_join_passes_without_losing_or_repeating_audio():
    samples = np.linspace(0.5, 1.0, 3 * RATE, dtype=np.float32)
    blocks = list(day_of_audio(0.01, samples, RATE, [], vary=True))
    joined = np.concatenate(blocks)
    passes = varied_passes(samples, RATE)
    expected = np.concatenate([next(passes) for _ in range(40)])[: joined.size]
    assert np.array_equal(joined, expected)
