"""The household match rule measured in seconds instead of minutes: cached scene vectors.

``cache`` runs the voice model and the speaker encoder once over household scenes
(:mod:`training.household_scenes`, ``dev`` split by default: thresholds are
chosen there, never on the benchmark's test scenes) and keeps, per scene, each
utterance's vector, voice type and probability of ``other``, and the 1.6 s
partials of each parent's enrolment speech: as heard, and with the
:mod:`training.enrol_noise` noises mixed in at 15, 10 and 5 dB SNR. ``sweep`` then
judges every utterance under several match rules and prints the benchmark's
figures (:func:`benchmarks.voice_type.summarise`) for each:

- ``cosine``: :func:`edge.household.speaker_of` on raw cosines, with the speaker
  model's thresholds (the match before the cohort);
- ``t-norm``: the same with a cohort (:mod:`edge.cohort`) over a grid of strict and
  typed thresholds;
- ``prototypes``: each parent also keeps noisy-copy voiceprints; an utterance
  scores the highest cosine over a parent's prototypes (noise-augmented
  enrolment), at the model's thresholds and at lower typed ones.

``cohort`` makes the cohort (the training split's espeak-ng voices, which neither
dev nor test scenes use, as adults, as children and through a loudspeaker) and
writes it with the chosen thresholds.

Example::

    python -m training.household_match cache --split dev --scenes 12 --out data/household2/dev
    python -m training.household_match cohort --out data/household2/cohort.npz
    python -m training.household_match sweep --cache data/household2/dev --cohort data/household2/cohort.npz
    python -m training.household_match cohort --out edge/assets/household_cohort.npz --strict 1.8 --typed 1.5 --other-max 0.2
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.voice_type import Judged, held_out_summary, parent_of, summarise
from edge.cohort import Cohort
from edge.household import CHILD, NEVER_PARENT_VOICES, ROLES, Household, speaker_of
from edge.speaker import unit
from edge.voiceprint import Voiceprint

log = logging.getLogger(__name__)

SEED = 11  # the benchmark's scene seed
COPY_SNRS_DB = (15.0, 10.0, 5.0)
PROTOTYPE_SETS = {  # which enrolment versions a parent's prototypes come from
    "hum": ("clean", "hum_15", "hum_10", "hum_5"),
    "fan": ("clean", "fan_15", "fan_10", "fan_5"),
    "broadband": ("clean", "broadband_15", "broadband_10", "broadband_5"),
}
TYPED_SWEEP = (0.615, 0.58, 0.55)  # the bundled typed threshold, and two lower ones
TNORM_STRICT_SWEEP = (1.6, 1.8, 2.0, 2.5)  # standard deviations above the cohort
TNORM_TYPED_SWEEP = (1.25, 1.4, 1.5, 1.75)
OTHER_MAX_SWEEP = (1.0, 0.2, 0.15, 0.1)  # the cohort's TV guard (1.0: the voice model's alone)
COHORT_SENTENCES = 4  # about 10 s per cohort voice and style
COHORT_SEED = 2026

# --------------------------------------------------------------------------- cache


def enrolment_partials(speech: np.ndarray, role: str, encoder) -> dict[str, np.ndarray]:
    """``{role_version: (P, D)}``: partials of the speech as heard and of each noisy copy."""
    from training.enrol_noise import NOISES, noisy_copy

    out = {f"{role}_clean": encoder.partials(speech)}
    for kind in NOISES:
        for snr in COPY_SNRS_DB:
            out[f"{role}_{kind}_{snr:.0f}"] = encoder.partials(noisy_copy(speech, kind, snr))
    return out


def cache_scene(index: int, split: str, tagger, encoder) -> dict[str, np.ndarray]:
    """One scene's arrays, made exactly as :func:`benchmarks.voice_type.judge_scene` hears it."""
    from edge.segmenter import SegmenterOptions, segment_stream
    from training import household_scenes as hs

    utterances, voices, tv_db = hs.make_scene(index, hs.SceneOptions(36, SEED, split))
    rng = np.random.default_rng([SEED, index, 1])
    snr = hs.SNRS_DB[index % len(hs.SNRS_DB)]
    arrays = {}
    for role in ROLES:
        audio = hs.enrolment_audio(voices[role], rng, split)
        speech = np.concatenate([s.samples for s in segment_stream([audio], SegmenterOptions())])
        arrays |= enrolment_partials(speech, role, encoder)
    held = hs.mix_held_out_tv(utterances, snr, tv_db, np.random.default_rng([SEED, index, 2]))
    heard = [
        (u, x, False) for u, x in zip(utterances, hs.mix(utterances, snr, tv_db, rng), strict=True)
    ]
    heard += [(u, x, True) for u, x in zip(utterances, held, strict=True) if x is not None]
    rows = []
    for u, x, held_out in heard:
        vector = encoder.embed(x)
        result = tagger.tag(x, embedding=vector)
        rows.append((u.role, u.style, u.seconds, result.voice, result.scores.get("other", 0.0),
                     vector, held_out))  # fmt: skip
    names = ("role", "style", "seconds", "voice", "p_other", "emb", "held")
    return arrays | {
        n: np.asarray(column) for n, column in zip(names, zip(*rows, strict=True), strict=True)
    }


def cache(split: str, scenes: int, out: Path) -> None:
    from edge.speaker import SpeakerEncoder
    from edge.voice import load_voice_tagger

    encoder, tagger = SpeakerEncoder(), load_voice_tagger(None)
    tagger._encoder = encoder
    out.mkdir(parents=True, exist_ok=True)
    for index in range(scenes):
        path = out / f"scene{index}.npz"
        if not path.is_file():  # resumable: a scene takes minutes on a shared CPU
            np.savez(path, **cache_scene(index, split, tagger, encoder))
            log.info("scene %d cached", index)


# --------------------------------------------------------------------------- cohort


def cohort_voice(variant: str, gender: str, rng: np.random.Generator) -> list[np.ndarray]:
    """``[adult, child, loudspeaker]`` vectors of one training voice: everyday sentences at
    its own F0 and tract, short sentences as a child (as the scenes make children), and
    the everyday ones through the ``other`` class's loudspeaker chain."""
    from training.household_scenes import speak
    from training.voice import home
    from training.voiceconv import VoiceChange

    adult_text = home.split_sentences("train", short=False)
    child_text = home.split_sentences("train", short=True)
    adult = VoiceChange(f0_median_hz=home.draw_adult_f0(gender, rng),
                        formant_scale=rng.uniform(0.96, 1.04))  # fmt: skip
    child = VoiceChange(f0_median_hz=rng.uniform(235, 420), f0_range=rng.uniform(1.0, 1.4),
                        formant_scale=rng.uniform(1.2, 1.32), tempo=rng.uniform(1.05, 1.25))  # fmt: skip

    def spoken(pool: list[str], change: VoiceChange) -> np.ndarray:
        picks = rng.choice(len(pool), COHORT_SENTENCES, replace=False)
        return np.concatenate([speak(variant, pool[i], change) for i in picks])

    talk, kid = spoken(adult_text, adult), spoken(child_text, child)
    return [talk, kid, home.loudspeaker(talk, rng)]


def make_cohort(encoder) -> np.ndarray:
    """``(3V, D)``: every training-split espeak-ng voice as adult, child and loudspeaker."""
    from training import synth
    from training.voice import home

    held = set().union(*home.SPLIT_VARIANTS.values())
    genders = synth.variant_genders()
    rng = np.random.default_rng(COHORT_SEED)
    vectors = []
    for variant in sorted((v for v in genders if v not in held), key=str.lower):
        vectors += [encoder.embed(x) for x in cohort_voice(variant, genders[variant], rng)]
        log.info("cohort %s embedded", variant)
    return np.stack(vectors).astype(np.float32)


def write_cohort(out: Path, strict: float, typed: float, other_max: float) -> None:
    from edge.speaker import SpeakerEncoder

    encoder = SpeakerEncoder()
    vectors = make_cohort(encoder)
    np.savez(out, vectors=vectors, speaker_sha256=encoder.info.sha256, strict=strict,
             typed=typed, other_max=other_max)  # fmt: skip
    log.info("%d cohort vectors written to %s", len(vectors), out)


# --------------------------------------------------------------------------- rules

Rule = Callable[[dict], list]  # a cached scene -> each utterance's speaker (or None)


def runtime_rule(info, typed_other_max: float, cohort: Cohort | None = None) -> Rule:
    """The runtime's rule: clean-centroid voiceprints, raw cosines with the speaker model's
    thresholds, or t-norm scores with ``cohort``'s."""

    def judge(scene: dict) -> list:
        prints = [Voiceprint(r, unit(scene[f"{r}_clean"].mean(axis=0)), info.sha256, "", 0, 0, 0)
                  for r in ROLES]  # fmt: skip
        household = Household(prints, info, typed_other_max, cohort)
        return [speaker_of(str(v), household, e, float(p))[0]
                for v, e, p in zip(scene["voice"], scene["emb"], scene["p_other"], strict=True)]  # fmt: skip

    return judge


def prototype_scores(prototypes: dict[str, np.ndarray], vector: np.ndarray) -> dict[str, float]:
    """Each parent's highest cosine over their prototypes."""
    return {role: float((p @ vector).max()) for role, p in prototypes.items()}


def prototype_rule(versions: Sequence[str], strict: float, typed: float, other_max: float) -> Rule:
    """Prototypes from ``versions`` of the enrolment; the runtime's two tiers on top."""

    def judge(scene: dict) -> list:
        prototypes = {r: np.stack([unit(scene[f"{r}_{v}"].mean(axis=0)) for v in versions])
                      for r in ROLES}  # fmt: skip
        return [_named(prototype_scores(prototypes, e), str(v), float(p), strict, typed, other_max)
                for v, e, p in zip(scene["voice"], scene["emb"], scene["p_other"], strict=True)]  # fmt: skip

    return judge


def _named(scores: dict, voice: str, p_other: float, strict: float, typed: float,
           other_max: float) -> str | None:  # fmt: skip
    best = max(scores, key=scores.get)
    agrees = parent_of(voice) == best and p_other < other_max
    needed = min(strict, typed) if agrees else strict
    closer = all(scores[best] > s for r, s in scores.items() if r != best)
    never = voice in NEVER_PARENT_VOICES or voice == CHILD  # prototypes: child never a parent
    return best if not never and scores[best] >= needed and closer else None


# --------------------------------------------------------------------------- figures


def judged(scene: dict, speakers: list) -> tuple[list[Judged], list[Judged]]:
    """``(scene utterances, held-out TV copies)`` as the benchmark's records."""
    rows = [Judged(str(r), str(s), float(t), 0.0, str(v), parent_of(str(v)), who)
            for r, s, t, v, who in zip(scene["role"], scene["style"], scene["seconds"],
                                       scene["voice"], speakers, strict=True)]  # fmt: skip
    return ([j for j, h in zip(rows, scene["held"], strict=True) if not h],
            [j for j, h in zip(rows, scene["held"], strict=True) if h])  # fmt: skip


def named_share(rows: list[Judged], role: str, style: str, who: str | None) -> float:
    """Share of ``role``'s ``style`` seconds credited to ``who``."""
    group = [j for j in rows if j.role == role and j.style == style]
    total = sum(j.seconds for j in group)
    return sum(j.seconds for j in group if j.enrolled_speaker == who) / total if total else 0.0


def figures(scenes: list[dict], rule: Rule) -> dict:
    """The benchmark's with-enrolment figures under ``rule``, and who got which seconds."""
    pairs = [judged(s, rule(s)) for s in scenes]
    every = [j for rows, _ in pairs for j in rows]
    wrong = {"mother": "father", "father": "mother"}
    out = dict(summarise([rows for rows, _ in pairs])["with_enrolment"])
    out["held_out_tv_to_a_parent"] = held_out_summary([j for _, h in pairs for j in h])[
        "with_enrolment"]["tv_seconds_to_a_parent"]  # fmt: skip
    for role, style in (("mother", "everyday"), ("mother", "to_child"), ("father", "everyday"),
                        ("father", "to_child")):  # fmt: skip
        out[f"{role}/{style} named"] = round(named_share(every, role, style, role), 3)
        out[f"{role}/{style} other parent"] = round(named_share(every, role, style, wrong[role]), 3)
    out["child to a parent"] = round(1 - named_share(every, "child", "child", None), 3)
    return out


def sweep(cache_dir: Path, cohort_path: Path | None) -> dict:
    from edge.speaker import SpeakerEncoder
    from edge.voice import load_voice_tagger, typed_other_max

    info = SpeakerEncoder().info
    other_max = typed_other_max(load_voice_tagger(None))
    strict = float(info.json_field("match_threshold"))
    scenes = [dict(np.load(p)) for p in sorted(cache_dir.glob("scene*.npz"))]
    rules = {"cosine": runtime_rule(info, other_max)}
    if cohort_path is not None:
        vectors = np.load(cohort_path)["vectors"]
        grid = ((s, t, o) for s in TNORM_STRICT_SWEEP for t in TNORM_TYPED_SWEEP
                for o in OTHER_MAX_SWEEP)  # fmt: skip
        for s, t, o in grid:
            cohort = Cohort(vectors, info.sha256, s, t, o)
            rules[f"t-norm, strict {s}, typed {t}, other_max {o}"] = runtime_rule(
                info, other_max, cohort
            )
    for name, versions in PROTOTYPE_SETS.items():
        for typed in TYPED_SWEEP:
            rules[f"prototypes {name}, typed {typed}"] = prototype_rule(
                versions, strict, typed, other_max
            )
    for typed in TYPED_SWEEP[1:]:
        rules[f"clean only, typed {typed}"] = prototype_rule(("clean",), strict, typed, other_max)
    return {"scenes": len(scenes), "rules": {name: figures(scenes, r) for name, r in rules.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("cache", "cohort", "sweep"))
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("data/household2/dev"))
    parser.add_argument("--cache", type=Path, default=Path("data/household2/dev"))
    parser.add_argument("--cohort", type=Path, default=None, help="cohort .npz (sweep)")
    parser.add_argument("--strict", type=float, default=1.8, help="t-norm strict threshold")
    parser.add_argument("--typed", type=float, default=1.5, help="t-norm typed threshold")
    parser.add_argument(
        "--other-max", type=float, default=0.2, help="typed tier's p(other) ceiling"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "cache":
        cache(args.split, args.scenes, args.out)
    elif args.command == "cohort":
        write_cohort(args.out, args.strict, args.typed, args.other_max)
    else:
        print(json.dumps(sweep(args.cache, args.cohort), indent=1))


if __name__ == "__main__":
    main()
