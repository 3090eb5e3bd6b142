"""CTC decoding: greedy and prefix beam search on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from edge.decoder import greedy_ids, ids_to_text, is_jamo_vocab, prefix_beam_search


def frames(*rows: list[float]) -> np.ndarray:
    """Probability rows -> ``(T, V)`` log-probabilities."""
    return np.log(np.asarray(rows, dtype=np.float64))


def ctc_log_likelihood(log_probs: np.ndarray, labels: list[int]) -> float:
    """log P(labels | log_probs) by the CTC forward algorithm (blank 0), for checking decoders."""
    ext = [0]
    for label in labels:
        ext += [label, 0]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = log_probs[0, 0]
    if len(ext) > 1:
        alpha[1] = log_probs[0, ext[1]]
    for t in range(1, len(log_probs)):
        new = np.full(len(ext), -np.inf)
        for s, label in enumerate(ext):
            paths = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
            if s >= 2 and label != 0 and ext[s - 2] != label:
                paths.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(paths) + log_probs[t, label]
        alpha = new
    return float(np.logaddexp.reduce(alpha[-2:]) if len(ext) > 1 else alpha[-1])


def test_greedy_merges_repeats_and_drops_blanks():
    lp = frames([0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8])
    assert greedy_ids(lp) == [1, 1, 2]


def test_greedy_of_no_frames_is_empty():
    assert greedy_ids(np.zeros((0, 4), np.float32)) == []


def test_beam_search_sums_alignments_that_greedy_misses():
    # Each frame prefers blank (0.6), but "a" over both frames has 0.64 vs 0.36 for "".
    lp = frames([0.6, 0.4], [0.6, 0.4])
    assert greedy_ids(lp) == []
    assert prefix_beam_search(lp, beam_width=4) == [1]


def test_beam_search_needs_a_blank_between_repeated_labels():
    lp = frames([0.05, 0.95], [0.9, 0.1], [0.05, 0.95])
    assert prefix_beam_search(lp, beam_width=4) == [1, 1]
    lp = frames([0.05, 0.95], [0.05, 0.95], [0.05, 0.95])
    assert prefix_beam_search(lp, beam_width=4) == [1]


@pytest.mark.parametrize("seed", range(5))
def test_beam_search_is_never_less_probable_than_greedy(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(12, 5)) * 1.5
    lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    greedy, beam = greedy_ids(lp), prefix_beam_search(lp, beam_width=8, prune_log_prob=-50.0)
    assert ctc_log_likelihood(lp, beam) >= ctc_log_likelihood(lp, greedy) - 1e-9


def test_ids_to_text_composes_jamo_and_drops_special_tokens():
    tokens = ["<blank>", " ", "ᄇ", "ᅡ", "ᆸ", "ᄆ", "ᅥ", "ᆨ", "ᄌ", "<unk>"]
    assert is_jamo_vocab(tokens)
    ids = [2, 3, 4, 9, 1, 1, 5, 6, 7, 8, 3]
    assert ids_to_text(ids, tokens) == "밥 먹자"


def test_ids_to_text_keeps_syllables():
    tokens = ["<blank>", " ", "밥", "먹", "자", "<unk>"]
    assert not is_jamo_vocab(tokens)
    assert ids_to_text([2, 1, 3, 4], tokens) == "밥 먹자"
