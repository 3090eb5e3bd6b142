"""Who is talking: voice type and parents' shares on held-out household scenes, with and without enrolment.

Usage::

    .venv/bin/python -m benchmarks.voice_type                 # 12 scenes, ~10 min on 2 cores
    .venv/bin/python -m benchmarks.voice_type --scenes 2      # checks the harness
    .venv/bin/python -m benchmarks.voice_type --data data/voicetype/home  # + test split
    .venv/bin/python -m benchmarks.voice_type --pipeline      # + the whole pipeline
    .venv/bin/python -m benchmarks.voice_type --split dev --pipeline --voice-change early=true
    .venv/bin/python -m benchmarks.voice_type --engine kokoro --pipeline  # Kokoro-82M voices

Scenes: :mod:`training.household_scenes` (a mother, a father, a child and a TV,
voices and sentences the voice-type training never had, child-directed speech,
children under and over 280 Hz, TV at -20 to -6 dB, test-only noise at 5-20 dB).
``--split dev`` makes the same kind of scenes from the dev voices and training
sentences: what the decision thresholds are chosen on (never the test scenes).

Each utterance is judged on its own (the truth's segmentation: this measures
the voice type and the household match, not the VAD). With ``--pipeline`` each
scene is also laid into one recording and run through ``talkratio analyze``'s
pipeline (:mod:`benchmarks.voice_pipeline`): the VAD, the voice-change cuts and
short parts are then measured too, beside the truth segmentation's figures. Seconds are utterance
durations. Figures: |mother-share error| in points, per-parent seconds error,
duration-weighted frame F1 per voice class, the share of TV seconds credited to
a parent, child-vs-mother balanced accuracy; with enrolment each parent is
enrolled from 12 other sentences in their everyday voice and matched as the
runtime matches (:mod:`edge.household`, with the bundled cohort, :mod:`edge.cohort`).

Writes ``benchmarks/results/voice_type.json`` and ``voice_type.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks import voice_pipeline
from edge.audio import SAMPLE_RATE
from edge.voice_change import VoiceChangeOptions
from training.household_scenes import (
    SNRS_DB,
    SceneOptions,
    Utterance,
    enrolment_audio,
    make_scene,
    mix,
    mix_held_out_tv,
)

log = logging.getLogger(__name__)

PIPELINE_KEY = 4  # the pipeline recording's random stream (gaps, noise); 1-3 are the scenes'
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks/results"
TRUE_VOICE = {"mother": "female", "father": "male", "child": "child", "tv": "other"}
VOICE_CLASSES = ("female", "male", "child", "other")
TEST_SPLITS = ("test", "test_kokoro")
SPLIT_TITLES = {
    "test": "espeak-ng voices and sentences training never had",
    "test_kokoro": "Kokoro blends of the held-out jf_tebukuro voice; every clip unchanged and once in a home style",
}


@dataclass(frozen=True)
class Options:
    scenes: int = 12
    utterances: int = 36  # per scene
    seed: int = 11
    data: Path | None = None  # voice-data folder: test-split figures too
    out: Path = RESULTS
    model: Path | None = None  # voice model (default: the bundled one)
    split: str = "test"  # voices and sentences: test (the scene-only ones) or dev (calibration)
    rule: bool = True  # False: the voice model's other rule switched off (the best label decides)
    child_ratio: float | None = None  # the child rule's ratio instead of the model's (1: off)
    pipeline: bool = False  # also the whole pipeline on each scene laid into one recording
    voice_change: VoiceChangeOptions = VoiceChangeOptions()  # of the pipeline
    engine: str = "espeak"  # the scenes' voices: espeak-ng, or Kokoro-82M (recorded people)
    child_min: float | None = None  # the cohort's child_min instead of the bundled one (inf: off)


# --------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class Judged:
    role: str
    style: str
    seconds: float
    f0_hz: float
    voice: str
    speaker: str | None  # without enrolment
    enrolled_speaker: str | None  # with enrolment


def parent_of(voice: str) -> str | None:
    return {"female": "mother", "male": "father"}.get(voice)


def judge_scene(index: int, options: Options, tagger, encoder) -> tuple[list[Judged], list[Judged], dict | None]:
    """``(utterances judged, TV through held-out loudspeaker settings judged, the whole
    pipeline's figures or None)`` of scene ``index``, by the runtime's own rules
    (:meth:`tagger.tag`, :func:`edge.household.speaker_of`)."""
    from edge.cohort import load_cohort
    from edge.household import Household, enrol
    from edge.voice import typed_other_max

    scene = SceneOptions(options.utterances, options.seed, options.split, options.engine)
    utterances, voices, tv_db = make_scene(index, scene)
    rng = np.random.default_rng([options.seed, index, 1])
    snr = SNRS_DB[index % len(SNRS_DB)]
    prints = [
        enrol(role, [enrolment_audio(voices[role], rng, options.split)], encoder)
        for role in ("mother", "father")
    ]
    cohort = load_cohort(encoder.info)
    if cohort is not None and options.child_min is not None:
        cohort = replace(cohort, child_min=options.child_min)
    household = Household(prints, encoder.info, typed_other_max(tagger), cohort)
    judged = [
        judge(u, x, tagger, encoder, household)
        for u, x in zip(utterances, mix(utterances, snr, tv_db, rng), strict=True)
    ]
    held_out_mix = mix_held_out_tv(
        utterances, snr, tv_db, np.random.default_rng([options.seed, index, 2])
    )
    held_out = [
        judge(u, x, tagger, encoder, household)
        for u, x in zip(utterances, held_out_mix, strict=True)
        if x is not None
    ]
    log.info("scene %d (SNR %.0f dB, TV %.0f dB): %d utterances", index, snr, tv_db, len(judged))
    if not options.pipeline:
        return judged, held_out, None
    households = {"without_enrolment": None, "with_enrolment": household}
    scene = (utterances, snr, tv_db)
    return judged, held_out, pipeline_scene(index, options, scene, judged, households, tagger, encoder)


def pipeline_scene(index, options, scene, judged, households, tagger, encoder) -> dict:
    """Figures of the scene ``(utterances, snr dB, tv dB)`` laid into one recording, through
    ``talkratio analyze``'s pipeline and, on the same timeline, cut as the truth cuts it,
    without and with the enrolled household: ``{enrolment: {segmentation: figures}}``."""
    from edge.recognition import Recognizers

    utterances, snr, tv_db = scene
    rng = np.random.default_rng([options.seed, index, PIPELINE_KEY])
    speech, noise = voice_pipeline.levelled(utterances, snr, tv_db, rng)
    samples, spans = voice_pipeline.recording(speech, [u.role for u in utterances], noise, rng)
    voices = [j.voice for j in judged]
    out = {}
    for (name, household), field in zip(households.items(), ("speaker", "enrolled_speaker"), strict=True):
        cut = voice_pipeline.judged_spans(spans, voices, [getattr(j, field) for j in judged])
        recognizers = Recognizers(voice=tagger, speaker=encoder, household=household)
        records = voice_pipeline.analyse(samples, recognizers, options.voice_change)
        out[name] = {"truth_segmentation": voice_pipeline.scene_figures(spans, cut),
                     "pipeline": voice_pipeline.scene_figures(spans, records)}
    log.info("scene %d through the pipeline: %d s", index, round(samples.size / SAMPLE_RATE))
    return out  # fmt: skip


def judge(u: Utterance, x: np.ndarray, tagger, encoder, household) -> Judged:
    """One utterance's voice, and its speaker without and with the enrolled household."""
    from edge.household import speaker_of

    embedding = encoder.embed(x)
    result = tagger.tag(x, embedding=embedding)
    other_prob = result.scores.get("other", 0.0)
    speaker, _ = speaker_of(result.voice, household, embedding, other_prob)
    return Judged(
        u.role, u.style, u.seconds, u.f0_hz, result.voice, parent_of(result.voice), speaker
    )


def seconds_of(judged: list[Judged], role: str, field: str | None) -> float:
    """Seconds credited to ``role`` (by ``field``) or, with ``field`` None, truly ``role``'s."""
    return sum(j.seconds for j in judged if (getattr(j, field) if field else j.role) == role)


def share(mother_s: float, father_s: float) -> float | None:
    total = mother_s + father_s
    return mother_s / total if total else None


def scene_figures(judged: list[Judged], field: str) -> dict:
    """Share error (points), per-parent seconds error (%), TV credited to a parent (%)."""
    truth = {r: seconds_of(judged, r, None) for r in ("mother", "father")}
    got = {r: seconds_of(judged, r, field) for r in ("mother", "father")}
    true_share, got_share = (
        share(truth["mother"], truth["father"]),
        share(got["mother"], got["father"]),
    )
    tv = [j for j in judged if j.role == "tv"]
    tv_s = sum(j.seconds for j in tv)
    tv_parent = sum(j.seconds for j in tv if getattr(j, field) is not None)
    return {
        "share_error_points": None if got_share is None else 100 * abs(got_share - true_share),
        "mother_seconds_error": abs(got["mother"] - truth["mother"]) / truth["mother"],
        "father_seconds_error": abs(got["father"] - truth["father"]) / truth["father"],
        "tv_to_parent": tv_parent / tv_s if tv_s else 0.0,
    }  # fmt: skip


def frame_f1(judged: list[Judged]) -> dict[str, float]:
    """Duration-weighted F1 of each voice class (an ``unknown`` answer is a miss)."""
    out = {}
    for label in VOICE_CLASSES:
        hit = sum(j.seconds for j in judged if TRUE_VOICE[j.role] == label and j.voice == label)
        said = sum(j.seconds for j in judged if j.voice == label)
        true = sum(j.seconds for j in judged if TRUE_VOICE[j.role] == label)
        out[label] = 2 * hit / (said + true) if said + true else float("nan")
    return out


def child_vs_mother(judged: list[Judged]) -> float:
    """Balanced accuracy of children tagged ``child`` and mothers tagged ``female``."""
    child = [j.voice == "child" for j in judged if j.role == "child"]
    mother = [j.voice == "female" for j in judged if j.role == "mother"]
    return float((np.mean(child) + np.mean(mother)) / 2)


def summarise(scenes: list[list[Judged]]) -> dict:
    every = [j for s in scenes for j in s]
    out = {
        "scenes": len(scenes),
        "utterances": len(every),
        "speech_s": round(sum(j.seconds for j in every), 1),
    }
    for name, field in (("without_enrolment", "speaker"), ("with_enrolment", "enrolled_speaker")):
        per_scene = [scene_figures(s, field) for s in scenes]
        errors = [f["share_error_points"] for f in per_scene if f["share_error_points"] is not None]
        parents = [
            f[k] for f in per_scene for k in ("mother_seconds_error", "father_seconds_error")
        ]
        tv_s = sum(j.seconds for j in every if j.role == "tv")
        tv_parent = sum(
            j.seconds for j in every if j.role == "tv" and getattr(j, field) is not None
        )
        out[name] = {
            "mean_share_error_points": round(float(np.mean(errors)), 2),
            "max_share_error_points": round(float(np.max(errors)), 2),
            "mean_parent_seconds_error": round(float(np.mean(parents)), 4),
            "max_parent_seconds_error": round(float(np.max(parents)), 4),
            "tv_seconds_to_a_parent": round(tv_parent / tv_s, 4) if tv_s else 0.0,
        }
    out["frame_f1"] = {k: round(v, 4) for k, v in frame_f1(every).items()}
    out["child_vs_mother_balanced_accuracy"] = round(child_vs_mother(every), 4)
    out["by_style"] = style_table(every)
    return out  # fmt: skip


def held_out_summary(judged: list[Judged]) -> dict:
    """The TV through held-out loudspeaker settings: seconds credited to a parent, and what
    it was called."""
    tv_s = sum(j.seconds for j in judged)
    out = {"utterances": len(judged), "speech_s": round(tv_s, 1)}
    for name, field in (("without_enrolment", "speaker"), ("with_enrolment", "enrolled_speaker")):
        credited = sum(j.seconds for j in judged if getattr(j, field) is not None)
        out[name] = {"tv_seconds_to_a_parent": round(credited / tv_s, 4) if tv_s else 0.0}
    out["by_style"] = style_table(judged)
    return out


def switch_rule_off(tagger) -> None:
    """The voice model as it was before the ``other`` rule: the best label decides."""
    tagger.other_threshold, tagger.detector, tagger.other_threshold_typed = None, None, 1.0


def child_min_of(encoder, options: Options) -> str:
    """The household's ``child_min`` the scenes were judged with (``inf``: never)."""
    from edge.cohort import load_cohort

    cohort = load_cohort(encoder.info)
    value = options.child_min if options.child_min is not None else (
        None if cohort is None else cohort.child_min)  # fmt: skip
    return "none (no cohort)" if value is None else str(value)


def rule_of(tagger) -> dict:
    """The ``other`` rule the voice model carries (None: the best label decides)."""
    from edge.voice import typed_other_max

    detector = getattr(tagger, "detector", None)
    return {
        "other_threshold": getattr(tagger, "other_threshold", None),
        "loudspeaker_threshold": None if detector is None else detector.threshold,
        "other_threshold_typed": typed_other_max(tagger),
        "child_ratio": getattr(tagger, "child_ratio", 1.0),
    }


def style_table(judged: list[Judged]) -> dict:
    """What each kind of utterance was called: ``{role/style: {voice: share of seconds}}``."""
    table = {}
    for key in sorted({f"{j.role}/{j.style}" for j in judged}):
        group = [j for j in judged if f"{j.role}/{j.style}" == key]
        total = sum(j.seconds for j in group)
        voices = sorted({j.voice for j in group})
        table[key] = {
            v: round(sum(j.seconds for j in group if j.voice == v) / total, 3) for v in voices
        }
    return table


# --------------------------------------------------------------------------- test split


def test_split_figures(path: Path, tagger) -> dict:
    """The bundled model on the home data's test split: held-out voices and sentences, with
    test-only noise at 10 and 5 dB (embeddings from :func:`training.voice.probe.embed_split`)."""
    data = np.load(path)
    if "original" in data["style"]:  # a recorded voice left as it is: the plain F/M test
        return {
            "all": split_figures(data, tagger),
            "original voices": split_figures(data, tagger, "original"),
        }
    return {"all": split_figures(data, tagger)}


def split_figures(data, tagger, style: str | None = None) -> dict:
    """Figures per noise condition of one embedded test split (optionally one style only)."""
    from training.voice.probe import TEST_CONDITIONS, balanced_accuracy, balanced_accuracy_margin

    keep = np.ones(data["y"].size, bool) if style is None else data["style"] == style
    y = data["y"][keep]
    out = {}
    for k, condition in enumerate(TEST_CONDITIONS):
        probs = np.concatenate(
            [tagger.session.run(["probs"], {"embedding": v[None]})[0] for v in data["x"][keep, k]]
        )
        guess = tagger.weighed(probs).argmax(axis=1)  # the model's child rule, if it has one
        adults = np.isin(y, [0, 1])
        kid_or_mum = np.isin(y, [0, 2])
        out[condition] = {
            "balanced_accuracy_4": round(balanced_accuracy(y, guess, [0, 1, 2, 3]), 4),
            "female_male_balanced_accuracy": round(balanced_accuracy(y[adults], guess[adults], [0, 1]), 4),
            "female_male_margin_95": round(balanced_accuracy_margin(y[adults], guess[adults], [0, 1]), 3),
            "child_vs_female_balanced_accuracy": round(balanced_accuracy(y[kid_or_mum], guess[kid_or_mum], [0, 2]), 4),
            "women_called_child": round(float((guess[y == 0] == 2).mean()), 4),
            "coverage": round(float((probs.max(axis=1) >= tagger.threshold).mean()), 4),
            "n": int(y.size),
        }  # fmt: skip
    return out


# --------------------------------------------------------------------------- outputs


def markdown(results: dict) -> str:
    s = results["scenes"]
    lines = [
        f"# Voice type and parents' shares (`{results.get('command', 'python -m benchmarks.voice_type')}`)",
        "",
        f"{s['scenes']} {SCENE_KINDS[results['options']['split']]}"
        f"{ENGINE_KINDS.get(results['options'].get('engine', 'espeak'), '')}, {s['utterances']} utterances, "
        f"{s['speech_s']} s of speech "
        "(voices and sentences training never had, child-directed speech, children under and over 280 Hz, "
        "TV at -20 to -6 dB, test-only noise at 5-20 dB). Utterances judged one by one (truth segmentation).",
        "",
        "| figure | without enrolment | with enrolment | target |",
        "|---|---|---|---|",
    ]
    rows = [
        ("mean \\|mother-share error\\| (points)", "mean_share_error_points", "<= 3"),
        ("max \\|mother-share error\\| (points)", "max_share_error_points", ""),
        ("mean per-parent seconds error", "mean_parent_seconds_error", "<= 0.10"),
        ("max per-parent seconds error", "max_parent_seconds_error", ""),
        ("share of TV seconds credited to a parent", "tv_seconds_to_a_parent", "<= 0.10 / <= 0.03"),
    ]
    for title, key, target in rows:
        lines.append(
            f"| {title} | {s['without_enrolment'][key]} | {s['with_enrolment'][key]} | {target} |"
        )
    lines += [
        "",
        "| frame F1 | " + " | ".join(VOICE_CLASSES) + " |",
        "|---|" + "---|" * len(VOICE_CLASSES),
    ]
    lines.append("| scenes | " + " | ".join(str(s["frame_f1"][c]) for c in VOICE_CLASSES) + " |")
    lines += [
        "",
        f"Child vs mother balanced accuracy: {s['child_vs_mother_balanced_accuracy']} (target >= 0.90).",
        "",
    ]
    lines += ["| utterances | voice given (share of seconds) |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["by_style"].items()]
    lines += held_out_markdown(results)
    if "pipeline" in results:
        lines += ["", "## The whole pipeline (`--pipeline`)", "", PIPELINE_NOTE, ""]
        lines += voice_pipeline.markdown(results["pipeline"])
    for split, parts in results.get("test_splits", {}).items():
        lines += ["", f"## Home data split `{split}` ({SPLIT_TITLES[split]}; test-only noise)", ""]
        lines += [
            "| utterances | condition | 4-class BA | female/male BA (95 % interval) | women called child | child vs female BA | coverage | n |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for part, conditions in parts.items():
            for condition, f in conditions.items():
                lines.append(
                    f"| {part} | {condition} | {f['balanced_accuracy_4']} | "
                    f"{f['female_male_balanced_accuracy']} ± {f['female_male_margin_95']} | "
                    f"{f['women_called_child']} | {f['child_vs_female_balanced_accuracy']} | "
                    f"{f['coverage']} | {f['n']} |"
                )
    lines += ["", f"Model: {results['model']}; machine time {results['wall_s']} s.", ""]
    return "\n".join(lines)  # fmt: skip


def held_out_markdown(results: dict) -> list[str]:
    """The rule and the TV through held-out loudspeaker settings."""
    rule, held = results["rule"], results["held_out_loudspeaker_tv"]
    return [
        "",
        f"Rule of the voice model: `other` from p(other) >= {rule['other_threshold']} or "
        f"loudspeaker detector >= {rule['loudspeaker_threshold']}; the typed household tier "
        f"only under p(other) {rule['other_threshold_typed']} (`talkratio-train tv-rule`); "
        f"`child` only at {rule.get('child_ratio', 1.0)} times every other label's probability "
        "(`talkratio-train child-rule`; 1: the best label)"
        + ("" if "child_min" not in rule else
           f"; with enrolment a `child` voice is the parent it matches at a t-norm score of "
           f"{rule['child_min']} (`talkratio-train child-match`; inf: never)") + ".",  # fmt: skip
        "",
        f"The same {held['utterances']} TV utterances ({held['speech_s']} s) through loudspeaker "
        "settings no training used (`training.loudspeaker.held_out_loudspeaker`: soundbar or "
        "tablet band edges, a limiter, band replication, panel dips), same levels and noise: "
        f"{held['without_enrolment']['tv_seconds_to_a_parent']} of their seconds credited to a "
        f"parent without enrolment, {held['with_enrolment']['tv_seconds_to_a_parent']} with; "
        f"called {held['by_style'].get('tv/tv', {})}.",
    ]


ENGINE_KINDS = {"espeak": " (espeak-ng voices)",
                "kokoro": " (Kokoro-82M voices from recorded people: held-out jf_tebukuro blends "
                          "for the test split; the men are >= 75 % jm_kumo, which training also has)"}
SCENE_KINDS = {"test": "held-out household scenes",
               "dev": "development scenes (dev voices and training sentences: for choosing thresholds)"}
PIPELINE_NOTE = (
    "Each scene's utterances laid end to end into one recording in one continuous noise, with "
    f"pauses of {voice_pipeline.GAP_S[0]}-{voice_pipeline.GAP_S[1]} s, or "
    f"{voice_pipeline.QUICK_GAP_S[0]}-{voice_pipeline.QUICK_GAP_S[1]} s for "
    f"{voice_pipeline.QUICK_SHARE:.0%} of them (a reply quicker than the VAD's endpoint: the "
    "segmenter joins it to what it answers, and only the voice-change stage can cut it off), "
    "through `edge.pipeline.analyze_file` (what `talkratio analyze` runs; no transcription). "
    "Truth seconds are each utterance's voice (10 ms pieces within 30 dB of its loudest); "
    "\"truth segmentation\" gives those spans the voice and speaker each utterance was judged "
    "alone, \"whole pipeline\" is what the VAD, the voice-change cuts and the recognisers recorded.")


def shown(value) -> str:
    """An option as the results show it: paths without this machine's folders (relative to
    the repository, or from their ``data`` folder on, as the docs name them)."""
    if not isinstance(value, Path):
        return str(value)
    path = value.resolve()
    if path.is_relative_to(REPO_ROOT):
        return str(path.relative_to(REPO_ROOT))
    parts = path.parts
    return str(Path(*parts[parts.index("data") :])) if "data" in parts else str(value)


def run(options: Options) -> dict:
    from edge.speaker import SpeakerEncoder
    from edge.voice import load_voice_tagger

    start = time.time()
    encoder = SpeakerEncoder()
    tagger = load_voice_tagger(options.model)
    tagger._encoder = encoder
    if not options.rule:
        switch_rule_off(tagger)
    if options.child_ratio is not None:
        tagger.child_ratio = options.child_ratio
    judged = [judge_scene(i, options, tagger, encoder) for i in range(options.scenes)]
    results = {
        "model": f"{tagger.info.name} {tagger.info.version} ({tagger.info.sha256[:12]})",
        "rule": {**rule_of(tagger), "child_min": child_min_of(encoder, options)},
        "options": {k: shown(v) for k, v in asdict(options).items()},
        "scenes": summarise([scene for scene, _, _ in judged]),
        "held_out_loudspeaker_tv": held_out_summary([j for _, held, _ in judged for j in held]),
    }
    if options.pipeline:
        results["pipeline"] = voice_pipeline.summarise([figures for _, _, figures in judged])
    if options.data is not None:
        results["test_splits"] = {
            split: test_split_figures(options.data / f"{split}.emb.npz", tagger)
            for split in TEST_SPLITS
            if (options.data / f"{split}.emb.npz").is_file()
        }
    results["wall_s"] = round(time.time() - start, 1)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=Options.scenes)
    parser.add_argument("--utterances", type=int, default=Options.utterances)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--data", type=Path, default=None, help="voice-data folder (test split)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--model", type=Path, default=None, help="voice model (default: bundled)")
    parser.add_argument(
        "--split",
        choices=("test", "dev"),
        default=Options.split,
        help="scene voices and sentences (dev: for choosing thresholds)",
    )
    parser.add_argument(
        "--no-rule",
        action="store_true",
        help="the voice model's other rule off (the figures before it)",
    )
    parser.add_argument("--engine", choices=("espeak", "kokoro"), default=Options.engine,
                        help="the scenes' voices (kokoro: Kokoro-82M blends, held out for test)")
    parser.add_argument("--child-ratio", type=float, default=None,
                        help="child needs this many times every other label's probability "
                             "(default: the model's child_ratio; 1: off)")
    parser.add_argument("--child-min", type=float, default=None,
                        help="t-norm score at which a child voice is still the parent it "
                             "matches (default: the cohort's child_min; inf: never)")
    parser.add_argument("--pipeline", action="store_true",
                        help="also each scene as one recording through the whole pipeline")
    parser.add_argument("--voice-change", action="append", default=[], metavar="KEY=VALUE",
                        help="a voice-change option of the pipeline (e.g. typed_change_distance=0.15, "
                             "early=true; none: no value), repeatable")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = Options(
        args.scenes,
        args.utterances,
        args.seed,
        args.data,
        args.out,
        args.model,
        args.split,
        not args.no_rule,
        args.child_ratio,
        args.pipeline,
        voice_change_options(args.voice_change),
        args.engine,
        args.child_min,
    )
    results = {"command": "python -m benchmarks.voice_type " + " ".join(sys.argv[1:] if argv is None else argv),
               **run(options)}
    options.out.mkdir(parents=True, exist_ok=True)
    stem = "voice_type" if options.split == "test" else f"voice_type_{options.split}"
    stem += "" if options.engine == "espeak" else f"_{options.engine}"
    (options.out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (options.out / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))


def voice_change_options(settings: list[str]) -> VoiceChangeOptions:
    """``KEY=VALUE`` strings over the default options (``none``: None; true/false: booleans)."""
    literal = {"none": None, "true": True, "false": False}
    changes = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        if key not in VoiceChangeOptions.__dataclass_fields__:
            raise SystemExit(f"error: {key!r} is not a voice-change option")
        changes[key] = literal[value.lower()] if value.lower() in literal else float(value)
    return replace(VoiceChangeOptions(), **changes)


if __name__ == "__main__":
    main()
