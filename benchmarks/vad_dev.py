"""What the per-parent seconds error of the VAD is made of, on a development set.

``python -m benchmarks.vad_dev`` (about a minute) prints, for the default segmenter, the
seconds error per parent and scene and where the truth's speech is missed or added: at
the start of each truth utterance, at its end, inside it (a sentence cut in two at a
pause), or outside all speech.

The development set is kept apart from the benchmark's test scenes, so that rules and
thresholds can be chosen here and then reported once by ``benchmarks.vad``: family tracks
from another seed (:data:`DEV_SEED`), noise from training/noise.py (the training bank's
generators, never benchmarks/noise_bank.py) and its synthetic room.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from benchmarks.vad import (
    GRID_S,
    ROLES,
    Family,
    VadBenchOptions,
    _grid_mask,
    detect,
    make_families,
    score,
)
from edge.audio import SAMPLE_RATE
from edge.segmenter import Segment, SegmenterOptions

DEV_SEED = 777  # the benchmark's families come from TEST_BANK_SEED; these never do
# (training noise kind or None for none, SNR dB, reverberant room)
DEV_CONDITIONS = (
    (None, None, False), (None, None, True), ("fan", 10.0, True), ("babble", 10.0, False),
    ("vacuum", 10.0, True), ("tv", 20.0, True), ("hum", 5.0, True), ("babble", 5.0, True),
)


@dataclass(frozen=True)
class EdgeSeconds:
    """Truth speech missed or added (s), by where it lies."""

    start: float  # before the first found frame of a truth utterance
    end: float  # after its last found frame
    inside: float  # between them (a pause that split the sentence)
    whole: float  # utterances not found at all
    added: float  # found outside all truth speech


def dev_families(count: int, scene_s: float = 120.0) -> list[Family]:
    return make_families(VadBenchOptions(scene_s=scene_s, families=count), seed=DEV_SEED)


def dev_mix(family: Family, noise: str | None, snr_db: float | None, reverb: bool, index: int):
    """The family's speech in a training room and training noise at ``snr_db``."""
    from training.noise import home_noise, reverberate

    speech = family.speech
    if reverb:
        speech = reverberate(speech, np.random.default_rng([DEV_SEED, 2, index]))
    if noise is None:
        return speech
    active = np.repeat(family.mask, int(GRID_S * SAMPLE_RATE))
    active = np.pad(active, (0, speech.size - active.size))
    gain = np.sqrt(float(np.mean(speech[active] ** 2)) / 10 ** (snr_db / 10))  # unit-RMS noise
    noise_samples = home_noise(speech.size, np.random.default_rng([DEV_SEED, 3, index]), noise)
    mixed = speech + np.float32(gain) * noise_samples
    return (mixed * min(1.0, 0.9 / float(np.abs(mixed).max()))).astype(np.float32)


def edge_seconds(family: Family, found: list[Segment]) -> EdgeSeconds:
    found_mask = _grid_mask(found, family.speech.size)
    start = end = inside = whole = 0
    for truth in family.segments:
        hit = found_mask[int(round(truth.start / GRID_S)) : int(round(truth.end / GRID_S))]
        where = np.flatnonzero(hit)
        if where.size == 0:
            whole += hit.size
            continue
        start += where[0]
        end += hit.size - 1 - where[-1]
        inside += int(np.sum(~hit[where[0] : where[-1]]))
    added = int(np.sum(found_mask & ~family.mask))
    return EdgeSeconds(*(GRID_S * v for v in (start, end, inside, whole, added)))


def run(options: SegmenterOptions, families: int) -> None:
    family_list = dev_families(families)
    totals = np.zeros(5)
    for noise, snr_db, reverb in DEV_CONDITIONS:
        for index, family in enumerate(family_list):
            found, decided, _ = detect(dev_mix(family, noise, snr_db, reverb, index), options)
            result = score(family, found, decided)
            errors = {r: result["seconds"][r] / result["true_seconds"][r] - 1 for r in ROLES}
            edges = edge_seconds(family, found)
            totals += np.array([edges.start, edges.end, edges.inside, edges.whole, edges.added])
            level = "" if snr_db is None else f"{snr_db:g} dB "
            label = f"{noise or 'clean'} {level}{'reverb' if reverb else 'dry'}"
            print(f"{label:20s} family {index}: recall {result['recall']:.3f} precision "
                  f"{result['precision']:.3f} mother {errors['mother']:+.1%} father {errors['father']:+.1%}"
                  f" | missed start {edges.start:.2f} s, end {edges.end:.2f} s, inside {edges.inside:.2f} s,"
                  f" whole {edges.whole:.2f} s; added {edges.added:.2f} s")
    truth_s = sum(float(f.mask.sum()) * GRID_S for f in family_list) * len(DEV_CONDITIONS)
    names = ("missed at starts", "missed at ends", "missed inside", "missed whole", "added outside")
    print("; ".join(f"{n} {v / truth_s:+.1%}" for n, v in zip(names, totals, strict=True)),
          f"(of {truth_s:.0f} s of truth speech)")


def truth_table(families: int) -> None:
    """How much of each role's truth a tighter trim would cut: each utterance's sound is
    trimmed at 40 to 20 dB below its loudest 10 ms (a margin around its truth span, shorter
    than the shortest pause, holds what the truth trimmed away)."""
    from training.synth import speech_bounds

    margin = int(0.15 * SAMPLE_RATE)
    family_list = dev_families(families)
    base: dict[str, float] = {}
    for trim_db in (40.0, 35.0, 30.0, 25.0, 20.0):
        kept: dict[str, float] = {}
        for family in family_list:
            for truth in family.segments:
                start = int(round(truth.start * SAMPLE_RATE)) - margin
                sound = family.speech[max(0, start) : int(round(truth.end * SAMPLE_RATE)) + margin]
                low, high = speech_bounds(sound, trim_db)
                kept[truth.role] = kept.get(truth.role, 0.0) + (high - low) / SAMPLE_RATE
        base = base or kept  # the first row, 40 dB: synth's own trim
        print(f"trim {trim_db:g} dB: " + ", ".join(
            f"{role} {kept[role] / base[role] - 1:+.1%}" for role in sorted(kept)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=3, help="dev family tracks (120 s each)")
    parser.add_argument("--edge-drop-db", type=float, default=SegmenterOptions.edge_drop_db,
                        help="the segmenter's edge_drop_db (0: the model's frames alone)")
    parser.add_argument("--truth-table", action="store_true",
                        help="how much of the truth each trim level keeps, per role")
    args = parser.parse_args(argv)
    if args.truth_table:
        truth_table(args.families)
        return 0
    run(SegmenterOptions(edge_drop_db=args.edge_drop_db), args.families)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
