"""The ``other`` (TV, radio) rule of a voice model, chosen on dev household scenes.

A TV presenter credited to a parent moves the share of talk a parent reads; a
parent's utterance called ``other`` only loses a few seconds of that parent. So
``other`` is not left to the best label: the voice model's probability of
``other`` is compared with two thresholds.

- ``other_threshold``: from this probability the answer is ``other`` (never a
  parent, enrolled or not). It is the highest threshold at which at most
  ``target_plain`` of the dev scenes' TV seconds go to a parent without
  enrolment: the cheapest in parents' seconds that meets the target.
- ``other_threshold_typed``: the household's typed match (a low cosine, trusted
  because the voice type agrees with the parent, :mod:`edge.household`) is used
  only under this probability. It is the highest threshold at which at most
  ``target_enrolled`` of the dev TV seconds go to a parent with the household
  enrolled.

The dev scenes are :mod:`training.household_scenes` with ``split="dev"``: the dev
espeak-ng voices (which the voice model was calibrated on, never trained on),
training sentences, the same noise and TV levels as the benchmark. The
benchmark's test scenes are never looked at. Every decision is the runtime's own
(:class:`edge.voice.EmbeddingVoiceTagger` rules and :meth:`edge.household.Household.match`)
on cached probabilities and vectors, so a threshold grid costs seconds.

Example:
    talkratio-train tv-rule --work data/tvreject/tv_rule --write
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import typer

log = logging.getLogger(__name__)

DEV_SEED = 101  # the benchmark's test scenes use seed 11 and the test voices
DEV_SCENES = 16
TARGET_PLAIN = 0.10  # issue 9: TV seconds credited to a parent without enrolment
TARGET_ENROLLED = 0.03  # ... and with a household enrolled
GRID = np.round(np.arange(0.05, 1.0001, 0.01), 2)  # probabilities of other tried
PARENTS = ("mother", "father")


@dataclass(frozen=True)
class Rule:
    other_threshold: float | None = None  # None: off (only the best label says other)
    other_threshold_typed: float = 1.0  # 1.0: the typed tier always trusts female/male


@dataclass(frozen=True)
class Row:
    """One dev utterance as the runtime saw it."""

    scene: int
    role: str
    seconds: float
    probs: np.ndarray | None  # None: refused before the model (too short, a hum, ...)
    f0_hz: float
    embedding: np.ndarray


def dev_rows(tagger, encoder, scenes: int, seed: int) -> tuple[list[Row], list[list]]:
    """The dev scenes' utterances and each scene's two voiceprints."""
    from edge.household import enrol
    from training.household_scenes import SNRS_DB, SceneOptions, enrolment_audio, make_scene, mix

    options = SceneOptions(seed=seed, split="dev")
    rows, prints = [], []
    for index in range(scenes):
        utterances, voices, tv_db = make_scene(index, options)
        rng = np.random.default_rng([seed, index, 1])
        audio = {r: enrolment_audio(voices[r], rng, "dev") for r in PARENTS}
        prints.append([enrol(r, [audio[r]], encoder) for r in PARENTS])
        snr = SNRS_DB[index % len(SNRS_DB)]
        for u, x in zip(utterances, mix(utterances, snr, tv_db, rng), strict=True):
            vector = encoder.embed(x)
            probs, f0 = tagger.probabilities(x, embedding=vector)
            rows.append(Row(index, u.role, u.seconds, probs, f0, vector))
        log.info("dev scene %d: %d utterances", index, len(utterances))
    return rows, prints


def _model_probs(tagger, vector: np.ndarray) -> np.ndarray:
    """The voice model's probabilities for a speaker vector (a judgeable utterance's)."""
    feed = {"embedding": np.asarray(vector, np.float32).reshape(1, -1)}
    return tagger.session.run(["probs"], feed)[0][0]


# --------------------------------------------------------------------------- judging a rule


@dataclass(frozen=True)
class Credit:
    """Who got one dev utterance under a rule: without and with the household enrolled."""

    plain: str | None
    enrolled: str | None


def credits(rows: list[Row], prints: list[list], tagger, speaker_info, rule: Rule) -> list[Credit]:
    """The runtime's answers for every row under ``rule`` (the tagger's thresholds are set)."""
    from edge.household import Household, speaker_of

    tagger.other_threshold = rule.other_threshold
    households = [Household(p, speaker_info, rule.other_threshold_typed) for p in prints]
    out = []
    for row in rows:
        result = tagger.decide(row.probs, row.f0_hz)
        other = result.scores.get("other", 0.0)
        plain, _ = speaker_of(result.voice, None, None)
        enrolled, _ = speaker_of(result.voice, households[row.scene], row.embedding, other)
        out.append(Credit(plain, enrolled))
    return out


def figures(rows: list[Row], got: list[Credit], field: str) -> dict:
    """TV seconds credited to a parent, mean |mother-share error| (points) and mean per-parent
    seconds error over the scenes, for ``field`` (``plain`` or ``enrolled``)."""
    tv = [(r, getattr(c, field)) for r, c in zip(rows, got, strict=True) if r.role == "tv"]
    tv_s = sum(r.seconds for r, _ in tv)
    shares, parents = [], []
    for scene in sorted({r.scene for r in rows}):
        pairs = [(r, getattr(c, field)) for r, c in zip(rows, got, strict=True) if r.scene == scene]
        truth = {p: sum(r.seconds for r, _ in pairs if r.role == p) for p in PARENTS}
        given = {p: sum(r.seconds for r, who in pairs if who == p) for p in PARENTS}
        if sum(given.values()) and all(truth.values()):
            shares.append(100 * abs(given["mother"] / sum(given.values())
                                    - truth["mother"] / sum(truth.values())))  # fmt: skip
        parents += [abs(given[p] - truth[p]) / truth[p] for p in PARENTS if truth[p]]
    return {
        "tv_seconds_to_a_parent": round(sum(r.seconds for r, who in tv if who) / tv_s, 4),
        "mean_share_error_points": round(float(np.mean(shares)), 2),
        "mean_parent_seconds_error": round(float(np.mean(parents)), 4),
    }


def choose(rows, prints, tagger, speaker_info, target_plain: float, target_enrolled: float) -> Rule:
    """The highest ``other_threshold`` meeting ``target_plain``, then the highest
    ``other_threshold_typed`` (at most ``other_threshold``) meeting ``target_enrolled``."""

    def tv(rule: Rule, field: str) -> float:
        got = credits(rows, prints, tagger, speaker_info, rule)
        return figures(rows, got, field)["tv_seconds_to_a_parent"]

    plain = max((t for t in GRID if tv(Rule(t, t), "plain") <= target_plain), default=GRID[0])
    typed = [t for t in GRID if t <= plain]
    enrolled = max((t for t in typed if tv(Rule(plain, t), "enrolled") <= target_enrolled),
                   default=GRID[0])  # fmt: skip
    return Rule(float(plain), float(enrolled))


# --------------------------------------------------------------------------- cache, command


def _cache_path(work: Path, encoder, scenes: int, seed: int) -> Path:
    return work / f"dev_scenes_{encoder.info.sha256[:12]}_{scenes}_{seed}.npz"


def save_rows(path: Path, rows: list[Row], prints: list[list]) -> None:
    """The dev scenes' vectors (never audio): each row's embedding, whether the tagger could
    judge it, its F0, and each scene's voiceprints; the probabilities are recomputed from
    whichever voice model is calibrated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        scene=np.array([r.scene for r in rows]),
        role=np.array([r.role for r in rows]),
        seconds=np.array([r.seconds for r in rows]),
        judged=np.array([r.probs is not None for r in rows]),
        f0=np.array([r.f0_hz for r in rows]),
        embedding=np.stack([r.embedding for r in rows]),
        prints=np.stack([[p.embedding for p in pair] for pair in prints]),
        speech_s=np.array([[p.speech_s for p in pair] for pair in prints]),
    )
    path.chmod(0o600)


def load_rows(path: Path, tagger, encoder) -> tuple[list[Row], list[list]]:
    from edge.voiceprint import Voiceprint

    data = np.load(path)
    rows = [
        Row(int(s), str(r), float(t), _model_probs(tagger, e) if j else None, float(f), e)
        for s, r, t, j, f, e in zip(data["scene"], data["role"], data["seconds"], data["judged"],
                                    data["f0"], data["embedding"], strict=True)
    ]  # fmt: skip
    model = f"{encoder.info.name}@{encoder.info.version}"
    prints = [
        [Voiceprint(role, vector, encoder.info.sha256, model, 0.0, float(speech), 1.0)
         for role, vector, speech in zip(PARENTS, pair, speeches, strict=True)]
        for pair, speeches in zip(data["prints"], data["speech_s"], strict=True)
    ]  # fmt: skip
    return rows, prints


def calibrate(model: Path | None, work: Path, scenes: int, seed: int,
              target_plain: float, target_enrolled: float) -> dict:  # fmt: skip
    """The chosen rule, and the dev figures without a rule, with it, and along the grid."""
    from edge.speaker import SpeakerEncoder
    from edge.voice import EmbeddingVoiceTagger

    encoder = SpeakerEncoder()
    tagger = EmbeddingVoiceTagger(model, encoder=encoder)
    cache = _cache_path(work, encoder, scenes, seed)
    if not cache.is_file():
        save_rows(cache, *dev_rows(tagger, encoder, scenes, seed))
    rows, prints = load_rows(cache, tagger, encoder)
    rule = choose(rows, prints, tagger, encoder.info, target_plain, target_enrolled)
    report = {"rule": asdict(rule), "targets": {"plain": target_plain, "enrolled": target_enrolled}}
    for name, tried in (("without_rule", Rule()), ("with_rule", rule)):
        got = credits(rows, prints, tagger, encoder.info, tried)
        report[name] = {f: figures(rows, got, f) for f in ("plain", "enrolled")}
    report["dev"] = (f"{scenes} household scenes of the dev voices and training sentences "
                     f"(training.household_scenes, split dev, seed {seed}), {len(rows)} utterances")  # fmt: skip
    return report


def write_rule(model: Path, report: dict) -> None:
    """Store the rule and its dev figures in the voice model's metadata."""
    from export.onnx_utils import read_metadata, write_metadata

    metrics = json.loads(read_metadata(model).get("talkratio.metrics", "{}"))
    metrics["tv_rule"] = {k: v for k, v in report.items() if k != "rule"}
    rule = report["rule"]
    write_metadata(model, {
        "other_threshold": f"{rule['other_threshold']:.2f}",
        "other_threshold_typed": f"{rule['other_threshold_typed']:.2f}",
        "metrics": metrics,
    })  # fmt: skip


def cli(
    model: Path = typer.Option(None, help="Voice model (default: the bundled one)."),
    work: Path = typer.Option(..., help="Folder for the dev scenes' cached vectors."),
    scenes: int = typer.Option(DEV_SCENES, help="Dev household scenes."),
    seed: int = typer.Option(DEV_SEED, help="Dev scene seed (the benchmark's test scenes use 11)."),
    target_plain: float = typer.Option(TARGET_PLAIN, help="TV seconds to a parent, no household."),
    target_enrolled: float = typer.Option(TARGET_ENROLLED, help="... with a household enrolled."),
    write: bool = typer.Option(False, "--write", help="Store the rule in the voice model."),
) -> None:
    """Choose the voice model's ``other`` thresholds on dev household scenes.

    Example: talkratio-train tv-rule --work data/tvreject/tv_rule --write
    """
    from edge.onnx_model import bundled_model

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = bundled_model("voice") if model is None else model
    if not path.is_file():
        typer.echo(f"Error: voice model {path} does not exist.", err=True)
        raise typer.Exit(2)
    report = calibrate(path, work, scenes, seed, target_plain, target_enrolled)
    typer.echo(json.dumps(report, indent=1))
    if write:
        write_rule(path, report)
