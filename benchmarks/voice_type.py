"""Who is talking: voice type and parents' shares on held-out household scenes, with and without enrolment.

Usage::

    .venv/bin/python -m benchmarks.voice_type                 # 12 scenes, ~10 min on 2 cores
    .venv/bin/python -m benchmarks.voice_type --scenes 2      # checks the harness
    .venv/bin/python -m benchmarks.voice_type --data data/voicetype/home  # + test split

Scenes (made here, deterministic): a mother, a father, a child and a TV, all
voices the voice-type training never heard (the scene-only espeak-ng variants),
held-out sentences, WORLD-converted (:mod:`training.voiceconv`):

- half of the mother's utterances are to the child: 300-380 Hz, wide, slow;
  the father's to the child: 160-220 Hz;
- the child: formants raised 20-32 %, F0 235-275 Hz in even scenes (under the
  old 280 Hz ceiling) and 300-420 Hz in odd ones;
- the TV: presenters through :func:`training.voice.home.loudspeaker` at -20 to
  -6 dB under the family's speech;
- test-only household noise (:func:`training.voice.home.fresh_noise`) at 5, 10,
  15 and 20 dB SNR against the family's speech.

Each utterance is judged on its own (the truth's segmentation: this measures
the voice type and the household match, not the VAD). Seconds are utterance
durations. Figures: |mother-share error| in points, per-parent seconds error,
duration-weighted frame F1 per voice class, the share of TV seconds credited to
a parent, child-vs-mother balanced accuracy; with enrolment each parent is
enrolled from 10 other sentences in their everyday voice (:mod:`edge.household`).

Writes ``benchmarks/results/voice_type.json`` and ``voice_type.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE
from training import noise as home_noise
from training import synth
from training.voice import home
from training.voiceconv import VoiceChange, convert

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks/results"
SNRS_DB = (5.0, 10.0, 15.0, 20.0)
ROLE_WEIGHTS = {"mother": 0.35, "father": 0.28, "child": 0.2, "tv": 0.17}
TRUE_VOICE = {"mother": "female", "father": "male", "child": "child", "tv": "other"}
CDS_SHARE = {"mother": 0.5, "father": 0.4}  # utterances spoken to the child
ENROL_SENTENCES = 12  # about 30 s with pauses: the household needs 20 s of speech
ENROL_BLOCK_S = 0.5  # enrolment audio reaches the VAD in blocks, as from a microphone
TV_LEVEL_DB = (-20.0, -6.0)
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


@dataclass(frozen=True)
class Utterance:
    role: str
    style: str  # everyday, to_child, child, tv
    seconds: float
    f0_hz: float
    samples: np.ndarray


# --------------------------------------------------------------------------- scenes


def cast(index: int, rng: np.random.Generator) -> dict[str, dict]:
    """Per-scene voices: variant, base F0 and vocal-tract scale of each role."""
    females = home.split_variants("test", "female")
    males = home.split_variants("test", "male")
    mother = str(rng.choice(females))
    child_source = str(rng.choice([v for v in females + males if v != mother]))
    child_f0 = (235.0, 275.0) if index % 2 == 0 else (300.0, 420.0)
    return {
        "mother": {"variant": mother, "f0": rng.uniform(175, 235), "formant": rng.uniform(0.96, 1.04)},
        "father": {"variant": str(rng.choice(males)), "f0": rng.uniform(95, 140), "formant": rng.uniform(0.96, 1.04)},
        "child": {"variant": child_source, "f0": rng.uniform(*child_f0), "formant": rng.uniform(1.2, 1.32)},
    }  # fmt: skip


def change_for(role: str, voice: dict, rng: np.random.Generator) -> tuple[str, VoiceChange]:
    """The style and conversion of one utterance of ``role``."""
    wobble = rng.uniform(0.93, 1.07)
    if role == "child":
        return "child", VoiceChange(
            f0_median_hz=voice["f0"] * wobble, f0_range=rng.uniform(1.0, 1.4),
            formant_scale=voice["formant"], tempo=rng.uniform(1.05, 1.25),
        )  # fmt: skip
    if rng.random() < CDS_SHARE[role]:
        f0 = rng.uniform(300, 380) if role == "mother" else rng.uniform(160, 220)
        return "to_child", VoiceChange(
            f0_median_hz=f0, f0_range=rng.uniform(1.4, 1.8),
            formant_scale=voice["formant"], tempo=rng.uniform(0.8, 0.92),
        )  # fmt: skip
    return "everyday", VoiceChange(
        f0_median_hz=voice["f0"] * wobble, formant_scale=voice["formant"]
    )


def speak(variant: str, text: str, change: VoiceChange) -> np.ndarray:
    speaker = synth.Speaker("BENCH", "female", 30, variant, home.ESPEAK_PITCH, 160, 0.0)
    return convert(synth.synthesize(text, speaker), change)


def tv_utterance(text: str, rng: np.random.Generator) -> np.ndarray:
    """A presenter (any held-out voice, adult) through a TV's loudspeaker."""
    gender = str(rng.choice(["female", "male"]))
    variant = str(rng.choice(home.split_variants("test", gender)))
    change = VoiceChange(f0_median_hz=home.draw_adult_f0(gender, rng))
    return home.loudspeaker(speak(variant, text, change), rng)


def make_scene(index: int, options: Options) -> tuple[list[Utterance], dict, float]:
    """``(utterances, cast, tv level dB)`` of scene ``index`` (clean speech, before noise)."""
    rng = np.random.default_rng([options.seed, index])
    voices = cast(index, rng)
    adult_text = home.split_sentences("test", short=False)
    child_text = home.split_sentences("test", short=True)
    roles = list(ROLE_WEIGHTS)
    out = []
    for _ in range(options.utterances):
        role = roles[rng.choice(len(roles), p=list(ROLE_WEIGHTS.values()))]
        pool = child_text if role == "child" else adult_text
        text = str(pool[int(rng.integers(len(pool)))])
        if role == "tv":
            x, style, f0 = tv_utterance(text, rng), "tv", 0.0
        else:
            style, change = change_for(role, voices[role], rng)
            x, f0 = speak(voices[role]["variant"], text, change), change.f0_median_hz
        out.append(Utterance(role, style, x.size / SAMPLE_RATE, f0, x))
    return out, voices, float(rng.uniform(*TV_LEVEL_DB))


def enrolment_audio(voice: dict, rng: np.random.Generator) -> np.ndarray:
    """About 30 s of one parent alone in their everyday voice (sentences the scene may not use)."""
    pool = home.split_sentences("test", short=False)
    picks = rng.choice(len(pool), ENROL_SENTENCES, replace=False)
    change = VoiceChange(f0_median_hz=voice["f0"], formant_scale=voice["formant"])
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    parts = [np.concatenate([speak(voice["variant"], pool[i], change), pause]) for i in picks]
    x = np.concatenate(parts)
    return home_noise.mix_at_snr(x, home.fresh_noise(x.size, rng), 25.0).astype(np.float32)


def blocks(x: np.ndarray) -> list[np.ndarray]:
    step = int(ENROL_BLOCK_S * SAMPLE_RATE)
    return [x[i : i + step] for i in range(0, x.size, step)]


def mix(utterances: list[Utterance], snr_db: float, tv_db: float, rng) -> list[np.ndarray]:
    """Each utterance at its level in the scene's noise: family speech sets the reference power."""
    family = [u.samples for u in utterances if u.role != "tv"]
    reference = float(np.mean([home_noise.power(x) for x in family])) if family else 1e-2
    noise_power = reference / 10 ** (snr_db / 10)
    out = []
    for u in utterances:
        target = reference * (10 ** (tv_db / 10) if u.role == "tv" else 1.0)
        x = u.samples * np.float32(np.sqrt(target / max(home_noise.power(u.samples), 1e-12)))
        noise = home.fresh_noise(x.size, rng) * np.float32(np.sqrt(noise_power))
        out.append(np.clip(x + noise, -1, 1).astype(np.float32))
    return out


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


def judge_scene(index: int, options: Options, tagger, encoder) -> list[Judged]:
    from edge.household import Household, enrol, speaker_of

    utterances, voices, tv_db = make_scene(index, options)
    rng = np.random.default_rng([options.seed, index, 1])
    snr = SNRS_DB[index % len(SNRS_DB)]
    prints = [
        enrol(role, [enrolment_audio(voices[role], rng)], encoder) for role in ("mother", "father")
    ]
    household = Household(prints, encoder.info)
    judged = []
    for u, x in zip(utterances, mix(utterances, snr, tv_db, rng), strict=True):
        embedding = encoder.embed(x)
        voice = tagger.tag(x, embedding=embedding).voice
        speaker, _ = speaker_of(voice, household, embedding)
        judged.append(Judged(u.role, u.style, u.seconds, u.f0_hz, voice, parent_of(voice), speaker))
    log.info("scene %d (SNR %.0f dB, TV %.0f dB): %d utterances", index, snr, tv_db, len(judged))
    return judged


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
        guess = probs.argmax(axis=1)
        adults = np.isin(y, [0, 1])
        kid_or_mum = np.isin(y, [0, 2])
        out[condition] = {
            "balanced_accuracy_4": round(balanced_accuracy(y, guess, [0, 1, 2, 3]), 4),
            "female_male_balanced_accuracy": round(balanced_accuracy(y[adults], guess[adults], [0, 1]), 4),
            "female_male_margin_95": round(balanced_accuracy_margin(y[adults], guess[adults], [0, 1]), 3),
            "child_vs_female_balanced_accuracy": round(balanced_accuracy(y[kid_or_mum], guess[kid_or_mum], [0, 2]), 4),
            "coverage": round(float((probs.max(axis=1) >= tagger.threshold).mean()), 4),
            "n": int(y.size),
        }  # fmt: skip
    return out


# --------------------------------------------------------------------------- outputs


def markdown(results: dict) -> str:
    s = results["scenes"]
    lines = [
        "# Voice type and parents' shares (`python -m benchmarks.voice_type`)",
        "",
        f"{s['scenes']} held-out household scenes, {s['utterances']} utterances, {s['speech_s']} s of speech "
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
    for split, parts in results.get("test_splits", {}).items():
        lines += ["", f"## Home data split `{split}` ({SPLIT_TITLES[split]}; test-only noise)", ""]
        lines += [
            "| utterances | condition | 4-class BA | female/male BA (95 % interval) | child vs female BA | coverage | n |",
            "|---|---|---|---|---|---|---|",
        ]
        for part, conditions in parts.items():
            for condition, f in conditions.items():
                lines.append(
                    f"| {part} | {condition} | {f['balanced_accuracy_4']} | "
                    f"{f['female_male_balanced_accuracy']} ± {f['female_male_margin_95']} | "
                    f"{f['child_vs_female_balanced_accuracy']} | "
                    f"{f['coverage']} | {f['n']} |"
                )
    lines += ["", f"Model: {results['model']}; machine time {results['wall_s']} s.", ""]
    return "\n".join(lines)  # fmt: skip


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
    scenes = [judge_scene(i, options, tagger, encoder) for i in range(options.scenes)]
    results = {
        "model": f"{tagger.info.name} {tagger.info.version} ({tagger.info.sha256[:12]})",
        "options": {k: shown(v) for k, v in asdict(options).items()},
        "scenes": summarise(scenes),
    }
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = Options(args.scenes, args.utterances, args.seed, args.data, args.out, args.model)
    results = run(options)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "voice_type.json").write_text(json.dumps(results, indent=1))
    (options.out / "voice_type.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
