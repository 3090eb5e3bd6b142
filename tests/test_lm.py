"""The character n-gram language model and its shallow fusion in the beam search."""

from __future__ import annotations

import numpy as np
import pytest

from edge.decoder import Fusion, greedy_ids, prefix_beam_search
from edge.lm import CharNgram
from training import lm as lm_build
from training.honest import NATURAL_TEST_FILE, load_natural, sentence_key

TOKENS = ["<blank>", " ", "a", "b", "c", "<unk>"]


def tiny_lm(texts, order=3, weights=(1.0, 0.0)):
    return CharNgram(lm_build.build(texts, order, weights=weights), TOKENS)


def sequence_log_prob(model, ids):
    total = sum(model.next_log_probs(ids[:i])[ids[i]] for i in range(len(ids)))
    return total + model.end_log_prob(ids)


def test_next_symbol_distribution_sums_to_one():
    model = tiny_lm(["ab ab", "abc", "ba"])
    for prefix in ([], [2], [2, 3], [4, 4, 4]):
        row = model._row(model.history(prefix))
        assert np.exp(row).sum() == pytest.approx(1.0)


def test_lm_prefers_what_it_read_and_never_favours_blank():
    model = tiny_lm(["ab ab", "ab abc"])
    assert sequence_log_prob(model, [2, 3]) > sequence_log_prob(model, [3, 2]) + 2
    scores = model.next_log_probs([2])
    assert scores[3] == scores.max() and scores[0] < -10 and scores[5] < -10


def test_fusion_turns_an_acoustic_near_miss_into_the_likely_word():
    # acoustics slightly prefer "ac"; the LM has only ever seen "ab"
    rows = [[0.1, 0.0, 0.8, 0.05, 0.05, 0.0], [0.1, 0.0, 0.05, 0.4, 0.45, 0.0]]
    log_probs = np.log(np.asarray(rows) + 1e-9)
    assert greedy_ids(log_probs) == [2, 4]
    assert prefix_beam_search(log_probs, 4) == [2, 4]
    fusion = Fusion(tiny_lm(["ab", "ab ab", "ba ab"]), lm_weight=1.0, insertion_bonus=0.0)
    assert prefix_beam_search(log_probs, 4, fusion=fusion) == [2, 3]


def test_lm_file_round_trip_keeps_its_fusion_weights(tmp_path):
    path = tmp_path / "lm.npz"
    np.savez_compressed(path, **lm_build.build(["ab ba"], 3, weights=(0.3, 1.5)))
    model = CharNgram.load(path, TOKENS)
    assert (model.lm_weight, model.insertion_bonus) == (0.3, 1.5)
    assert model.next_log_probs([2]).shape == (len(TOKENS),)


def test_lm_text_holds_no_honest_test_sentence():
    test = {sentence_key(s) for s in load_natural(NATURAL_TEST_FILE)}
    text = lm_build.training_text()
    assert len(text) > 3000
    assert not test & {sentence_key(t) for t in text}


def test_bundled_recognizer_fuses_the_bundled_lm_in_beam_search_only():
    from edge.stt import BUNDLED_LM, SpeechRecognizer

    assert BUNDLED_LM.is_file() and BUNDLED_LM.stat().st_size < 1_000_000  # small package data
    assert SpeechRecognizer(beam_width=8).fusion is not None
    assert SpeechRecognizer(beam_width=1).fusion is None  # greedy never reads it
    assert SpeechRecognizer(beam_width=8, lm=None).fusion is None
