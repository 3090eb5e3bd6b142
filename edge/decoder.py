"""CTC decoding in numpy: greedy and prefix beam search, label ids to text.

Input everywhere is ``log_probs`` ``(T, V)`` float32 natural-log probabilities
of one utterance, index 0 the CTC blank (the STT model's output without its
batch axis). Output is a list of label ids (no blanks, repeats merged).

Prefix beam search can fuse a language model (shallow fusion): each label a
prefix gains adds ``lm_weight * log P_LM(label | prefix) + insertion_bonus``,
and a finished prefix adds ``lm_weight * log P_LM(end | prefix)``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.hangul import compose

BLANK_ID = 0
SPECIAL_TOKENS = ("<blank>", "<unk>")  # decode to nothing
JAMO_FIRST, JAMO_LAST = 0x1100, 0x11FF  # conjoining jamo block
NEG_INF = -np.inf
_SPACES = re.compile(r"\s+")


def greedy_ids(log_probs: np.ndarray) -> list[int]:
    """Best label per frame, repeats merged, blanks removed."""
    best = np.asarray(log_probs).argmax(axis=-1)
    if best.size == 0:
        return []
    keep = np.ones(best.size, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(i) for i in best[keep & (best != BLANK_ID)]]


def _logsumexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high = max(a, b)
    return high + float(np.log1p(np.exp(-abs(a - b))))


class LanguageModel(Protocol):
    """What shallow fusion asks of a language model (edge.lm.CharNgram is one)."""

    def next_log_probs(self, token_ids: Sequence[int]) -> np.ndarray: ...

    def end_log_prob(self, token_ids: Sequence[int]) -> float: ...


@dataclass(frozen=True)
class Fusion:
    """A language model and how much it counts against the acoustic model."""

    lm: LanguageModel
    lm_weight: float = 0.5  # scale of the LM's log-probability
    insertion_bonus: float = 1.0  # per label, offsets the LM's pull towards short outputs

    def label_scores(self, prefix: tuple[int, ...]) -> np.ndarray:
        return self.lm_weight * self.lm.next_log_probs(prefix) + self.insertion_bonus

    def end_score(self, prefix: tuple[int, ...]) -> float:
        return self.lm_weight * self.lm.end_log_prob(prefix)


def _extend(beams, frame: np.ndarray, candidates: np.ndarray, fusion: Fusion | None = None):
    """One frame of prefix beam search: ``prefix -> (log P ending in blank, in non-blank)``."""
    nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [NEG_INF, NEG_INF])
    for prefix, (p_blank, p_label) in beams:
        total = _logsumexp(p_blank, p_label)
        entry = nxt[prefix]
        entry[0] = _logsumexp(entry[0], total + float(frame[BLANK_ID]))
        last = prefix[-1] if prefix else None
        gain = fusion.label_scores(prefix) if fusion else None
        for label in candidates:
            label = int(label)
            if label == BLANK_ID:
                continue
            p = float(frame[label])
            new = p + float(gain[label]) if gain is not None else p  # a label the prefix gains
            if label == last:
                entry[1] = _logsumexp(entry[1], p_label + p)  # repeat collapses into the prefix
                longer = nxt[prefix + (label,)]
                longer[1] = _logsumexp(longer[1], p_blank + new)  # blank between: a new label
            else:
                longer = nxt[prefix + (label,)]
                longer[1] = _logsumexp(longer[1], total + new)
    return nxt


def prefix_beam_search(
    log_probs: np.ndarray,
    beam_width: int = 8,
    prune_log_prob: float = -12.0,
    fusion: Fusion | None = None,
) -> list[int]:
    """The most probable label sequence under CTC, summing over alignments.

    Keeps ``beam_width`` prefixes per frame; labels below ``prune_log_prob`` in
    a frame are not tried (the best label always is). ``beam_width=1`` is
    close to greedy but merges alignments of the same prefix. With ``fusion``
    the language model's scores join the acoustic ones (shallow fusion).
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    beams = [((), (0.0, NEG_INF))]
    for frame in log_probs:
        candidates = np.flatnonzero(frame >= min(prune_log_prob, frame.max()))
        candidates = candidates[np.argsort(-frame[candidates])][: max(beam_width, 1) + 1]
        nxt = _extend(beams, frame, candidates, fusion)
        ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)
        beams = [(prefix, tuple(p)) for prefix, p in ranked[:beam_width]]
    if not beams:
        return []
    if fusion is None:
        return list(beams[0][0])
    return list(max(beams, key=lambda b: _logsumexp(*b[1]) + fusion.end_score(b[0]))[0])


def is_jamo_vocab(tokens: Sequence[str]) -> bool:
    """True when the vocabulary is conjoining jamo (decoded text must be composed)."""
    return any(len(t) == 1 and JAMO_FIRST <= ord(t) <= JAMO_LAST for t in tokens)


def ids_to_text(ids: Sequence[int], tokens: Sequence[str]) -> str:
    """Label ids to text: special tokens dropped, jamo composed, spaces collapsed."""
    text = "".join(tokens[i] for i in ids if tokens[i] not in SPECIAL_TOKENS)
    if is_jamo_vocab(tokens):
        text = compose(text)
    return _SPACES.sub(" ", text).strip()
