"""Build the character n-gram language model the STT decoder fuses (edge/lm.py reads it).

The text is the sentence bank's training part (``training/data/sentences.txt``
without its held-out sentences) and the natural bank's training part
(``training/data/natural_train.txt``), never the honest test's sentences.
Characters are the STT vocabulary's: conjoining jamo and the space.

Example:
    talkratio-train lm --out edge/assets/stt.lm.npz --order 6
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import typer

from edge.hangul import to_jamo
from edge.lm import BOUNDARY, DEFAULT_INSERTION_BONUS, DEFAULT_LM_WEIGHT
from training.honest import NATURAL_TEST_FILE, NATURAL_TRAIN_FILE, load_natural, sentence_key
from training.korean import normalise
from training.sentences import is_held_out, load_bank

log = logging.getLogger(__name__)

DEFAULT_ORDER = 6  # jamo: about two syllables of context
DISCOUNT = 0.7  # absolute discount per seen n-gram (0.5-0.8 suits small corpora)


def training_text() -> list[str]:
    """Normalised sentences the LM learns from; none is a test sentence."""
    bank = [s for s in load_bank() if not is_held_out(s)] + load_natural(NATURAL_TRAIN_FILE)
    test = {sentence_key(s) for s in load_natural(NATURAL_TEST_FILE)}
    texts = [normalise(s) for s in bank if sentence_key(s) not in test]
    return [t for t in texts if t]


def count_ngrams(texts: Iterable[str], order: int) -> tuple[list[str], list[Counter]]:
    """Symbols (``<s>`` first) and, per order, counts of symbol-id tuples."""
    sequences = [to_jamo(t) for t in texts]
    symbols = [BOUNDARY] + sorted({c for s in sequences for c in s})
    index = {c: i for i, c in enumerate(symbols)}
    counts = [Counter() for _ in range(order)]
    for sequence in sequences:
        ids = [0] + [index[c] for c in sequence] + [0]
        for end in range(1, len(ids)):
            for k in range(1, order + 1):
                if end - k + 1 < 0:
                    break
                counts[k - 1][tuple(ids[end - k + 1 : end + 1])] += 1
    return symbols, counts


def _code(symbols: Sequence[int], base: int) -> int:
    code = 0
    for s in symbols:
        code = code * base + s
    return code


def order_arrays(k: int, counts: Counter, base: int) -> dict[str, np.ndarray]:
    """Sorted n-gram codes and counts, and per context its total and distinct next symbols."""
    grams = sorted((_code(g, base), c, _code(g[:-1], base)) for g, c in counts.items())
    keys = np.array([g[0] for g in grams], dtype=np.int64)
    values = np.array([g[1] for g in grams], dtype=np.uint32)
    context_of = np.array([g[2] for g in grams], dtype=np.int64)
    contexts, first, types = np.unique(context_of, return_index=True, return_counts=True)
    totals = np.add.reduceat(values.astype(np.int64), first).astype(np.uint32)
    return {
        f"keys_{k}": keys,
        f"counts_{k}": values,
        f"contexts_{k}": contexts,
        f"totals_{k}": totals,
        f"types_{k}": types.astype(np.uint32),
    }


def build(
    texts: Sequence[str],
    order: int = DEFAULT_ORDER,
    discount: float = DISCOUNT,
    weights: tuple[float, float] = (DEFAULT_LM_WEIGHT, DEFAULT_INSERTION_BONUS),
) -> dict:
    """The arrays of an ``.npz`` LM file (edge/lm.py's format); ``weights``: fusion defaults."""
    symbols, counts = count_ngrams(texts, order)
    arrays = {
        "symbols": np.array(symbols),
        "order": np.array(order),
        "discount": np.array(discount),
        "lm_weight": np.array(weights[0]),
        "insertion_bonus": np.array(weights[1]),
    }
    for k in range(1, order + 1):
        arrays.update(order_arrays(k, counts[k - 1], len(symbols)))
    return arrays


def cli(
    out: Path = typer.Option(..., "--out", help="The .npz file to write."),
    order: int = typer.Option(DEFAULT_ORDER, help="n-gram order in jamo (2-8)."),
    lm_weight: float = typer.Option(DEFAULT_LM_WEIGHT, help="Fusion weight stored in the file."),
    insertion_bonus: float = typer.Option(
        DEFAULT_INSERTION_BONUS, help="Per-label bonus stored in the file."
    ),
) -> None:
    """Build the STT decoder's character n-gram language model from the training text.

    Example: talkratio-train lm --out edge/assets/stt.lm.npz --order 6
    """
    if not 2 <= order <= 8:
        typer.echo("Error: --order must be between 2 and 8.", err=True)
        raise typer.Exit(2)
    texts = training_text()
    arrays = build(texts, order, weights=(lm_weight, insertion_bonus))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    ngrams = sum(int(arrays[f"keys_{k}"].size) for k in range(1, order + 1))
    summary = {"out": str(out), "sentences": len(texts), "order": order, "ngrams": ngrams}
    summary.update(lm_weight=lm_weight, insertion_bonus=insertion_bonus)
    typer.echo(json.dumps({**summary, "bytes": out.stat().st_size}))
