"""A character n-gram language model for shallow fusion in CTC beam search, numpy only.

The model counts n-grams of the STT vocabulary's characters (conjoining jamo
and the space) and smooths them by interpolated absolute discounting::

    P(w | h) = max(c(h w) - D, 0) / c(h) + D * types(h) / c(h) * P(w | h minus its first symbol)

down to a uniform distribution. Sentence starts are the symbol ``<s>``, which
also stands for the sentence's end when it is predicted.

File (``.npz``, written by ``talkratio-train lm``): ``symbols`` (index 0 ``<s>``),
``order``, ``discount``, the fusion weights ``lm_weight`` and ``insertion_bonus``,
and for each order ``k``: ``keys_k`` (sorted codes of
``context + next``, base ``len(symbols)``) with ``counts_k``, and ``contexts_k``
(sorted context codes) with ``totals_k`` and ``types_k``.

Example::

    lm = CharNgram.load("edge/assets/stt.lm.npz", recognizer.tokens)
    scores = lm.next_log_probs(prefix_ids)     # (V,) over the model's token ids
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

BOUNDARY = "<s>"  # sentence start as context, sentence end as prediction
DEFAULT_LM_WEIGHT = 0.5  # used when the file does not carry its tuned weights
DEFAULT_INSERTION_BONUS = 1.0
UNSEEN_LOG_PROB = -20.0  # tokens the LM cannot spell (blank, <unk>): never favoured
CACHE_CONTEXTS = 8192  # contexts whose next-symbol distribution is kept


class CharNgram:
    """A loaded character n-gram, answering in the STT model's token ids."""

    def __init__(self, arrays: dict[str, np.ndarray], tokens: Sequence[str]):
        self.symbols = [str(s) for s in arrays["symbols"]]
        self.order = int(arrays["order"])
        self.discount = float(arrays["discount"])
        # fusion weights tuned for this LM on a dev set (``talkratio-train lm --lm-weight ...``)
        self.lm_weight = float(arrays.get("lm_weight", DEFAULT_LM_WEIGHT))
        self.insertion_bonus = float(arrays.get("insertion_bonus", DEFAULT_INSERTION_BONUS))
        self.base = len(self.symbols)
        self._tables = [
            tuple(
                arrays[f"{name}_{k}"] for name in ("keys", "counts", "contexts", "totals", "types")
            )
            for k in range(1, self.order + 1)
        ]
        index = {s: i for i, s in enumerate(self.symbols)}
        # model token id -> LM symbol id (-1: the LM has no such character)
        self._symbol_of = np.array([index.get(t, -1) for t in tokens], dtype=np.int64)
        self._row = lru_cache(maxsize=CACHE_CONTEXTS)(self._symbol_log_probs)

    @classmethod
    def load(cls, path: str | Path, tokens: Sequence[str]) -> CharNgram:
        with np.load(path, allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files}, tokens)

    def _code(self, symbols: Sequence[int]) -> int:
        code = 0
        for s in symbols:
            code = code * self.base + int(s)
        return code

    def _symbol_log_probs(self, history: tuple[int, ...]) -> np.ndarray:
        """log P(next symbol | last order-1 symbols of ``history``), ``(len(symbols),)``."""
        probs = np.full(self.base, 1.0 / self.base)
        for k in range(1, self.order + 1):
            if k - 1 > len(history):
                break
            context = history[len(history) - (k - 1) :] if k > 1 else ()
            probs = self._interpolate(k, self._code(context), probs)
        return np.log(probs)

    def _interpolate(self, k: int, context: int, lower: np.ndarray) -> np.ndarray:
        keys, counts, contexts, totals, types = self._tables[k - 1]
        at = int(np.searchsorted(contexts, context))
        if at == contexts.size or contexts[at] != context:
            return lower  # unseen context: the lower order alone
        total = float(totals[at])
        lo, hi = np.searchsorted(keys, [context * self.base, (context + 1) * self.base])
        probs = lower * (self.discount * float(types[at]) / total)
        probs[keys[lo:hi] % self.base] += np.maximum(counts[lo:hi] - self.discount, 0.0) / total
        return probs

    def history(self, token_ids: Sequence[int]) -> tuple[int, ...]:
        """The LM context of a decoded prefix: ``<s>`` and its last symbols."""
        symbols = [int(self._symbol_of[t]) for t in token_ids[-(self.order - 1) :]]
        if len(token_ids) < self.order - 1:
            symbols = [0] + symbols
        return tuple(s for s in symbols if s >= 0)

    def next_log_probs(self, token_ids: Sequence[int]) -> np.ndarray:
        """log P(next token | prefix) for every model token id, ``(V,)``."""
        row = self._row(self.history(token_ids))
        known = self._symbol_of >= 0
        out = np.full(self._symbol_of.size, UNSEEN_LOG_PROB)
        out[known] = row[self._symbol_of[known]]
        return out

    def end_log_prob(self, token_ids: Sequence[int]) -> float:
        """log P(the sentence ends here | prefix)."""
        return float(self._row(self.history(token_ids))[0])
