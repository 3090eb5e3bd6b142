"""Korean text: AI-Hub transcript normalisation, tokenizers, CER/WER."""

from __future__ import annotations

import pytest

from training.korean import (
    BLANK,
    SPACE,
    UNKNOWN,
    Tokenizer,
    cer,
    ks_x_1001_syllables,
    normalise,
    wer,
)

# (raw AI-Hub / KsponSpeech transcript, what the acoustic model should learn)
TRANSCRIPTS = [
    ("(70%)/(칠십 퍼센트)", "칠십 퍼센트"),
    (
        "b/ 아/ 모+ 몬 소리야 (70%)/(칠 십 퍼센트) 확률이라니 n/",
        "아 모 몬 소리야 칠 십 퍼센트 확률이라니",
    ),
    ("o/ 그래서 (2시)/(두 시)에 만나기로 했어.", "그래서 두 시에 만나기로 했어"),
    ("(FP:음) 오늘 저녁은 뭐 먹을까?", "음 오늘 저녁은 뭐 먹을까"),
    ("(FP:어) 그러니까 (NO:) 내 말은 l/", "어 그러니까 내 말은"),
    ("(SN:딸깍) 엄마 이거 봐봐!", "엄마 이거 봐봐"),
    ("u/ 그거 진짜* 맛있었어", "그거 진짜 맛있었어"),
    ("밥 먹자,   얼른   와.", "밥 먹자 얼른 와"),
    ("아니 아니+ 그게 아니고~", "아니 아니 그게 아니고"),
    ('"정말?" 하고 물어봤지…', "정말 하고 물어봤지"),
    ("(TV)/(티비) 좀 꺼 줄래?", "티비 좀 꺼 줄래"),
    ("  b/ n/  ", ""),
    ("안녕하세요. 연습입니다.", "안녕하세요 연습입니다"),
]


@pytest.mark.parametrize(("raw", "expected"), TRANSCRIPTS)
def test_normalise_keeps_what_was_said(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw", ["(SP:뭐라고) 했는지 모르겠어", "그래서 (SP:) 갔지", "(FP:음) (SP:어쩌구) 했어"]
)
def test_unclear_speech_excludes_the_utterance(raw: str) -> None:
    assert normalise(raw) is None


def test_normalise_composes_decomposed_input() -> None:
    import unicodedata

    assert normalise(unicodedata.normalize("NFD", "밥 먹자!")) == "밥 먹자"


def test_ks_x_1001_has_exactly_2350_syllables() -> None:
    syllables = ks_x_1001_syllables()
    assert len(syllables) == 2350
    assert syllables[0] == "가" and syllables[-1] == "힝"
    assert "똥" in syllables and "똠" not in syllables and "뷁" not in syllables


def test_syllable_vocabulary_layout_and_frequency_order() -> None:
    tok = Tokenizer.syllables(["밥 밥 밥 먹자", "밥 먹어"])
    assert tok.tokens[:4] == [BLANK, SPACE, "밥", "먹"]
    assert tok.tokens[-1] == UNKNOWN
    assert set(ks_x_1001_syllables()) <= set(tok.tokens)
    assert len(tok) == 2 + 2350 + 1  # every corpus syllable here is in KS X 1001


def test_syllable_vocabulary_adds_corpus_characters_outside_ks_x_1001() -> None:
    tok = Tokenizer.syllables(["똠양꿍 먹자"])
    assert "똠" in tok.tokens
    assert tok.decode(tok.encode("똠양꿍 먹자")) == "똠양꿍 먹자"


@pytest.mark.parametrize("make", [Tokenizer.syllables, Tokenizer.jamo])
def test_round_trip(make) -> None:
    texts = ["엄마 밥 줘", "아빠 오늘 몇 시에 와", "잘했어 우리 아기"]
    tok = make(texts)
    for text in texts + ["괜찮아 삶은 달걀"]:
        ids = tok.encode(text)
        assert 0 not in ids and tok.unknown_id not in ids
        assert tok.decode(ids) == text


def test_jamo_vocabulary_is_small_and_decodes_to_syllables() -> None:
    tok = Tokenizer.jamo()
    assert len(tok) == 2 + 19 + 21 + 27 + 1
    ids = tok.encode("닭")
    assert len(ids) == 3  # ㄷ ㅏ ㄺ
    assert tok.decode(ids) == "닭"


def test_unknown_characters_are_explicit() -> None:
    tok = Tokenizer.syllables(["엄마"])
    ids = tok.encode("엄마 é")
    assert ids[-1] == tok.unknown_id
    assert tok.decode(ids) == "엄마"
    assert tok.unknown_characters("엄마 é!") == {"é", "!"}
    with pytest.raises(KeyError, match="é"):
        tok.encode("é", strict=True)


def test_decode_skips_ctc_blanks() -> None:
    tok = Tokenizer.syllables(["밥"])
    assert tok.decode([0, tok.tokens.index("밥"), 0, 1, 0]) == "밥"


@pytest.mark.parametrize("make", [Tokenizer.syllables, Tokenizer.jamo])
def test_save_and_load(tmp_path, make) -> None:
    tok = make(["우유 마시자"])
    path = tmp_path / "vocab.json"
    tok.save(path)
    loaded = Tokenizer.load(path)
    assert loaded == tok
    assert loaded.decode(loaded.encode("우유 마시자")) == "우유 마시자"


def test_bad_token_lists_are_rejected() -> None:
    with pytest.raises(ValueError):
        Tokenizer(["a", " ", UNKNOWN], "syllable")
    with pytest.raises(ValueError):
        Tokenizer([BLANK, SPACE, "가", "가", UNKNOWN], "syllable")


def test_cer_is_corpus_level_without_spaces() -> None:
    # 1 substitution in 5 characters + 1 deletion in 5: 2 / 10, not the mean of 1/5 and 1/5 ...
    assert cer(["밥 먹자 얼른", "우리 아기"], ["밥 먹자 얼룬", "우리 아"]) == pytest.approx(2 / 9)
    # spacing differences are not errors
    assert cer(["밥 먹자"], ["밥먹자"]) == 0.0


def test_cer_weights_long_utterances_more() -> None:
    refs = ["가나다라마바사아자차", "가"]
    hyps = ["가나다라마바사아자차", "나"]
    assert cer(refs, hyps) == pytest.approx(1 / 11)  # the mean per utterance would be 0.5


def test_wer_counts_eojeol() -> None:
    assert wer(["밥 먹자 얼른 와"], ["밥 먹자 얼른 와"]) == 0.0
    assert wer(["밥 먹자 얼른 와"], ["밥 먹자  얼룬 와"]) == pytest.approx(1 / 4)
    assert wer(["밥 먹자"], ["밥먹자"]) == pytest.approx(1.0)  # 1 substitution + 1 deletion


def test_scores_reject_mismatched_lists() -> None:
    with pytest.raises(ValueError):
        cer(["가"], [])
    with pytest.raises(ValueError):
        wer([], [])
