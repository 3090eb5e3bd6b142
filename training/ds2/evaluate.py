"""CER and WER of a DS2 checkpoint or ONNX file, clean and with noise at set SNRs.

``talkratio-train ds2-eval MODEL --manifest M.jsonl --snr 10 --snr 5`` prints
JSON like the research tables, one entry per condition::

    {"model": "...", "manifest": "...", "utterances": 504,
     "results": {"clean": {"cer": 0.041, "wer": 0.12, "utterances": 504,
                           "unseen_sentences": {"cer": 0.06, "wer": 0.2, "utterances": 50}},
                 "snr_10": {...}, "snr_5": {...}}}

Noisy copies mix each utterance with a clip of the noise bank at exactly that
SNR, chosen by a generator seeded from ``(seed, utterance index)``, so every
model is scored on the same noisy audio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from edge.audio import FeatureConfig, compute_features, load_audio
from edge.decoder import Fusion, greedy_ids, ids_to_text, prefix_beam_search
from edge.lm import CharNgram
from training.ds2.data import Entry, noise_bank, read_manifest
from training.korean import cer, wer
from training.noise import NoiseBank, home_noise, mix_at_snr
from training.sentences import is_held_out

log = logging.getLogger(__name__)

NOISE_SEED = 20261124  # fixed, so noisy test sets are the same for every model


@dataclass(frozen=True)
class Scorer:
    """A model as the evaluation sees it: features ``(T, F)`` -> log-probs ``(T_out, V)``."""

    name: str
    features: FeatureConfig
    tokens: list[str]
    log_probs: Callable[[np.ndarray], np.ndarray]


def onnx_scorer(path: Path, threads: int = 1) -> Scorer:
    from edge.stt import SpeechRecognizer

    recognizer = SpeechRecognizer(path, threads=threads)
    session, name = recognizer.session, recognizer.session.get_inputs()[0].name
    return Scorer(
        str(path),
        recognizer.info.features,
        recognizer.tokens,
        lambda feats: session.run(None, {name: feats[None]})[0][0],
    )


def checkpoint_scorer(path: Path) -> Scorer:
    import torch

    from training.ds2.train import load_model

    model, tokenizer, state = load_model(path)

    def log_probs(feats: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(feats)[None])[0][0].numpy()

    return Scorer(
        str(path), FeatureConfig.from_json(state["features"]), tokenizer.tokens, log_probs
    )


def load_scorer(path: Path, threads: int = 1) -> Scorer:
    """A ``.onnx`` file or a training checkpoint."""
    return onnx_scorer(path, threads) if path.suffix == ".onnx" else checkpoint_scorer(path)


def noisy(
    samples: np.ndarray, snr_db: float | None, bank: NoiseBank | None, index: int, seed: int
) -> np.ndarray:
    """The utterance as scored at ``snr_db`` (None: clean)."""
    if snr_db is None:
        return samples
    rng = np.random.default_rng((seed, index))
    noise = bank.sample(samples.size, rng) if bank else home_noise(samples.size, rng)
    return np.clip(mix_at_snr(samples, noise, snr_db), -1.0, 1.0)


def transcribe(
    scorer: Scorer,
    entries: Sequence[Entry],
    snr_db: float | None = None,
    bank: NoiseBank | None = None,
    beam_width: int = 1,
    seed: int = NOISE_SEED,
    fusion: Fusion | None = None,
) -> list[str]:
    """Hypotheses for ``entries`` (clean, or mixed at ``snr_db``); ``fusion``: LM in the beam."""
    hyps = []
    for index, entry in enumerate(entries):
        samples = noisy(load_audio(entry.audio), snr_db, bank, index, seed)
        log_probs = scorer.log_probs(compute_features(samples, scorer.features))
        ids = (
            greedy_ids(log_probs)
            if beam_width == 1
            else prefix_beam_search(log_probs, beam_width, fusion=fusion)
        )
        hyps.append(ids_to_text(ids, scorer.tokens))
    return hyps


def score(refs: Sequence[str], hyps: Sequence[str]) -> dict:
    """CER and WER over all pairs, and over the pairs whose sentence training never saw.

    A sentence is unseen when the sentence bank holds it out of training
    (``training.sentences.is_held_out``): the figure for new sentences.
    """
    result = {
        "cer": round(cer(refs, hyps), 4),
        "wer": round(wer(refs, hyps), 4),
        "utterances": len(refs),
    }
    unseen = [(r, h) for r, h in zip(refs, hyps, strict=True) if is_held_out(r)]
    if unseen:
        u_refs, u_hyps = zip(*unseen, strict=True)
        result["unseen_sentences"] = {
            "cer": round(cer(u_refs, u_hyps), 4),
            "wer": round(wer(u_refs, u_hyps), 4),
            "utterances": len(unseen),
        }
    return result


def evaluate(
    scorer: Scorer,
    entries: Sequence[Entry],
    snrs: Sequence[float] = (),
    bank: NoiseBank | None = None,
    beam_width: int = 1,
    fusion: Fusion | None = None,
    every_kind: bool = False,
) -> dict[str, dict]:
    """``{"clean": {"cer", "wer", "unseen_sentences": {...}}, "snr_10": {...}, ...}``.

    ``every_kind``: each noisy condition mixes every utterance with each kind of noise in
    ``bank`` in turn; its ``cer`` and ``wer`` are the mean over the kinds, and ``by_kind``
    holds each. One clip drawn per utterance moves a small test's figure by several points
    with the draw; every utterance under every kind does not.
    """
    refs = [e.text for e in entries]
    results = {}
    for snr_db in (None, *snrs):
        key = "clean" if snr_db is None else f"snr_{snr_db:g}"
        if every_kind and snr_db is not None and bank is not None:
            results[key] = _every_kind(scorer, entries, refs, snr_db, bank, beam_width, fusion)
        else:
            hyps = transcribe(scorer, entries, snr_db, bank, beam_width, fusion=fusion)
            results[key] = score(refs, hyps)
        log.info(
            "%s %s: CER %.4f WER %.4f", scorer.name, key, results[key]["cer"], results[key]["wer"]
        )
    return results


def _every_kind(scorer, entries, refs, snr_db, bank, beam_width, fusion) -> dict:
    """One noisy condition scored under each kind of noise of ``bank``, and their mean."""
    kinds = sorted({clip.kind for clip in bank.clips})
    by_kind = {}
    for kind in kinds:
        only = NoiseBank([clip for clip in bank.clips if clip.kind == kind])
        by_kind[kind] = score(refs, transcribe(scorer, entries, snr_db, only, beam_width, fusion=fusion))
    return {
        "cer": round(float(np.mean([r["cer"] for r in by_kind.values()])), 4),
        "wer": round(float(np.mean([r["wer"] for r in by_kind.values()])), 4),
        "utterances": len(refs),
        "by_kind": by_kind,
    }


def _fusion(
    lm: Path | None, tokens: list[str], weight: float | None, bonus: float | None
) -> Fusion | None:
    if lm is None:
        return None
    if not lm.is_file():
        raise FileNotFoundError(f"{lm} does not exist")
    model = CharNgram.load(lm, tokens)
    return Fusion(
        model,
        model.lm_weight if weight is None else weight,
        model.insertion_bonus if bonus is None else bonus,
    )


def cli(
    model: Annotated[Path, typer.Argument(help="checkpoint (.pt) or ONNX file (.onnx)")],
    manifest: Annotated[Path, typer.Option(help="manifest to score (JSON Lines)")],
    snr: Annotated[
        Optional[list[float]],
        typer.Option(help="also score with noise at this SNR (dB); repeatable"),
    ] = None,
    noise: Annotated[
        Optional[Path],
        typer.Option(help="noise.jsonl of a noise bank (default: generated home noise)"),
    ] = None,
    beam_width: Annotated[int, typer.Option(help="1 greedy, more: prefix beam search")] = 1,
    limit: Annotated[Optional[int], typer.Option(help="score only the first N utterances")] = None,
    lm: Annotated[
        Optional[Path], typer.Option(help="character LM (.npz) to fuse into the beam search")
    ] = None,
    lm_weight: Annotated[
        Optional[float], typer.Option(help="override the LM file's weight")
    ] = None,
    insertion_bonus: Annotated[
        Optional[float], typer.Option(help="override the LM file's per-label bonus")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="also write the JSON here")] = None,
    every_kind: Annotated[
        bool,
        typer.Option(help="score each noisy condition under every kind of the bank's noise; "
                     "report their mean and each"),
    ] = False,
) -> None:
    """CER/WER of a DS2 model, clean and noisy, as JSON.

    Example: talkratio-train ds2-eval edge/assets/stt.int8.onnx --manifest data/manifests_v1/test.jsonl
    --snr 10 --snr 5 --noise data/corpus_v1/noise/noise.jsonl
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if every_kind and noise is None:
            raise ValueError("--every-kind scores the kinds of a noise bank: give it --noise")
        for path in (model, manifest) + ((noise,) if noise else ()):
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist")
        entries = read_manifest(manifest)[:limit]
        scorer = load_scorer(model)
        fusion = _fusion(lm, scorer.tokens, lm_weight, insertion_bonus)
        results = evaluate(
            scorer, entries, snr or [], noise_bank(noise), beam_width, fusion, every_kind
        )
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = {
        "model": str(model),
        "manifest": str(manifest),
        "utterances": len(entries),
        "beam_width": beam_width,
        "noise": str(noise) if noise else "generated",
        "every_kind": every_kind,
        "lm": {
            "path": str(lm),
            "weight": fusion.lm_weight,
            "insertion_bonus": fusion.insertion_bonus,
        }
        if fusion
        else None,
        "results": results,
    }
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)
