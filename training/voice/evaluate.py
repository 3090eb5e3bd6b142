"""Held-out figures for voice taggers: the learned model and the pitch baseline side by side.

Every tagger is run exactly as the runtime runs it (``.tag(samples)``, with its
refusals), on clean audio and on the same audio mixed with home noise at 10 and
5 dB SNR. An ``unknown`` answer counts as an error for accuracy and recall.

Example:
    talkratio-train voice-eval --test data/manifests_v1/test.jsonl \\
        --model edge/assets/voice.int8.onnx --noise data/corpus_v1/noise --out runs/voice/eval.json
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from edge.audio import load_audio
from edge.voice import UNKNOWN, PitchVoiceTagger, VoiceResult

log = logging.getLogger(__name__)

ECE_BINS = 10  # equal-width confidence bins
CONDITIONS = {"clean": None, "10dB": 10.0, "5dB": 5.0}  # name -> SNR in dB (None: as recorded)


@dataclass(frozen=True)
class Judgement:
    """One utterance: true label, answer, and every label's probability."""

    truth: str
    result: VoiceResult


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by their size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def report(judgements: list[Judgement], labels: tuple[str, ...]) -> dict:
    """accuracy, balanced accuracy, per-class recall/precision/F1, coverage, ECE."""
    truth = np.array([j.truth for j in judgements])
    answer = np.array([j.result.voice for j in judgements])
    per_class = {}
    for label in labels:
        hits = np.sum((truth == label) & (answer == label))
        recall = hits / max(np.sum(truth == label), 1)
        precision = hits / max(np.sum(answer == label), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        per_class[label] = {"recall": float(recall), "precision": float(precision), "f1": float(f1)}
    present = [label for label in labels if np.any(truth == label)]
    best = [max(j.result.scores, key=j.result.scores.get) for j in judgements]
    confidence = np.array([max(j.result.scores.values()) for j in judgements])
    return {
        "n": len(judgements),
        "accuracy": float(np.mean(answer == truth)),
        "balanced_accuracy": float(np.mean([per_class[label]["recall"] for label in present])),
        "per_class": per_class,
        "coverage": float(np.mean(answer != UNKNOWN)),
        "accuracy_if_forced": float(np.mean(np.array(best) == truth)),
        "ece": expected_calibration_error(confidence, np.array(best) == truth),
    }


def noisy(samples: np.ndarray, snr_db: float | None, bank, rng: np.random.Generator) -> np.ndarray:
    """``samples`` with a random clip of home noise at ``snr_db`` (as is for None)."""
    if snr_db is None:
        return samples
    from training.noise import home_noise, mix_at_snr

    noise = bank.sample(samples.size, rng) if bank is not None else home_noise(samples.size, rng)
    return np.clip(mix_at_snr(samples, noise, snr_db), -1.0, 1.0)


def evaluate(entries, taggers: dict, labels: tuple[str, ...], bank=None, seed: int = 0) -> dict:
    """``{condition: {tagger name: report}}``; the same noisy audio for every tagger."""
    results = {}
    for condition, snr in CONDITIONS.items():
        judged = {name: [] for name in taggers}
        for i, entry in enumerate(entries):
            samples = noisy(load_audio(entry.audio), snr, bank, np.random.default_rng([seed, i]))
            for name, tagger in taggers.items():
                judged[name].append(Judgement(labels[entry.label], tagger.tag(samples)))
        results[condition] = {name: report(j, labels) for name, j in judged.items()}
        log.info(
            "%s: %s",
            condition,
            ", ".join(f"{n} acc {r['accuracy']:.4f}" for n, r in results[condition].items()),
        )
    return results


def markdown_table(results: dict, labels: tuple[str, ...]) -> str:
    """One row per condition and tagger: accuracy, F1 per class, balanced accuracy, ECE."""
    head = [
        "condition",
        "tagger",
        "accuracy",
        *(f"F1 {label}" for label in labels),
        "balanced acc.",
        "ECE",
        "coverage",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for condition, by_tagger in results.items():
        for name, r in by_tagger.items():
            cells = [condition, name, f"{r['accuracy']:.4f}"]
            cells += [f"{r['per_class'][label]['f1']:.4f}" for label in labels]
            cells += [f"{r['balanced_accuracy']:.4f}", f"{r['ece']:.4f}", f"{r['coverage']:.4f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tagger_name(model: Path) -> str:
    """``run/voice.int8.onnx`` -> ``run/voice.int8``: short, and distinct across runs."""
    return f"{model.parent.name}/{model.stem}" if model.parent.name else model.stem


def load_tagger(model: Path):
    """An ONNX file through the runtime, or a training checkpoint (``.pt``) through torch."""
    if model.suffix == ".pt":
        from training.voice.torch_tagger import TorchVoiceTagger

        return TorchVoiceTagger(model)
    from edge.voice import VoiceTagger

    return VoiceTagger(model)


def cli(
    test: Path = typer.Option(..., help="test manifest (speakers unseen in training)"),
    model: list[Path] = typer.Option(
        [Path("edge/assets/voice.int8.onnx")], help="voice.onnx or voice.pt; repeat to compare"
    ),
    noise: Path = typer.Option(None, help="noise bank folder; default: generated home noise"),
    out: Path = typer.Option(None, help="write the figures here as JSON (and .md beside it)"),
    limit: int = typer.Option(0, help="at most this many utterances, evenly spaced (0: all)"),
    seed: int = typer.Option(0),
) -> None:
    """Accuracy, F1, balanced accuracy and ECE, clean / 10 dB / 5 dB, model vs pitch baseline.

    Example: talkratio-train voice-eval --test data/manifests_v1/test.jsonl
    --model edge/assets/voice.int8.onnx --noise data/corpus_v1/noise
    """
    from training.noise import NoiseBank
    from training.voice.data import read_voice_manifest

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    missing = [p for p in (test, *model) if not p.is_file()]
    if missing:
        typer.echo(f"error: {missing[0]} does not exist", err=True)
        raise typer.Exit(2)
    taggers = {tagger_name(path): load_tagger(path) for path in model}
    labels = tuple(next(iter(taggers.values())).labels)
    entries = read_voice_manifest(test, labels)
    if limit:  # evenly spaced, so every speaker stays represented
        entries = entries[:: max(1, len(entries) // limit)][:limit]
    taggers["pitch baseline"] = PitchVoiceTagger()
    results = evaluate(entries, taggers, labels, NoiseBank.from_dir(noise) if noise else None, seed)
    table = markdown_table(results, labels)
    typer.echo(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {"models": [str(m) for m in model], "test": str(test), "results": results}, indent=2
            )
        )
        out.with_suffix(".md").write_text(table + "\n")
