"""Household scenes cast with Kokoro voices: held-out blends for the test, training blends for dev."""

import numpy as np

from training import household_scenes as hs
from training import kokoro


def _voices(cast: dict) -> dict[str, set[str]]:
    return {role: {v for v, _ in voice["variant"].blend} for role, voice in cast.items()}


def test_kokoro_test_scenes_speak_with_the_held_out_voice_and_dev_scenes_never_do():
    for index in range(6):
        test = _voices(hs.cast(index, np.random.default_rng([11, index]), "test", "kokoro"))
        dev = _voices(hs.cast(index, np.random.default_rng([11, index]), "dev", "kokoro"))
        assert all(kokoro.HELD_OUT_VOICE in used for used in test.values())
        assert not any(kokoro.HELD_OUT_VOICE in used for used in dev.values())
        assert kokoro.MALE_VOICE in test["father"] and kokoro.MALE_VOICE in dev["father"]
        assert kokoro.MALE_VOICE not in test["mother"]


def test_a_kokoro_cast_is_the_same_for_the_same_scene_and_differs_between_scenes():
    first = hs.cast(2, np.random.default_rng([11, 2]), "test", "kokoro")
    again = hs.cast(2, np.random.default_rng([11, 2]), "test", "kokoro")
    other = hs.cast(3, np.random.default_rng([11, 3]), "test", "kokoro")
    assert first["mother"]["variant"] == again["mother"]["variant"]
    assert first["mother"]["f0"] == again["mother"]["f0"]
    assert first["mother"]["variant"] != other["mother"]["variant"]
    child_f0 = {i: hs.cast(i, np.random.default_rng([11, i]), "test", "kokoro")["child"]["f0"] for i in (0, 1)}
    assert 235 <= child_f0[0] <= 275 and 300 <= child_f0[1] <= 420  # under and over 280 Hz


def test_espeak_scenes_keep_their_variant_names():
    cast = hs.cast(0, np.random.default_rng([11, 0]), "test")
    assert all(isinstance(voice["variant"], str) for voice in cast.values())


def test_a_fast_voice_is_enrolled_from_more_sentences_and_a_slow_one_as_before(tmp_path, monkeypatch):
    """Twelve quick sentences hold under the 20 s of speech an enrolment needs: more are
    added until the household's VAD hears enough; a voice that has it gets the 12 alone."""
    from edge.household import MIN_ENROL_SPEECH_S
    from edge.segmenter import segment_stream
    from tests.conftest import speak

    quick = speak("네 좋아요", "ko+f3", tmp_path)  # about a second of speech per sentence
    slow = speak("오늘 저녁에는 할머니 댁에 가서 맛있는 밥을 먹고 천천히 집에 돌아올 거예요", "ko+f3", tmp_path)
    voice = {"variant": "ko+f3", "f0": None, "formant": 1.0}
    lengths = {}
    for name, clip in (("quick", quick), ("slow", slow)):
        monkeypatch.setattr(hs, "speak", lambda variant, text, change, clip=clip: clip)
        monkeypatch.setattr(hs, "VoiceChange", lambda **k: None)
        audio = hs.enrolment_audio(voice, np.random.default_rng(0), "dev")
        heard = sum(s.duration for s in segment_stream([audio]))
        lengths[name] = audio.size / (clip.size + hs.SAMPLE_RATE // 2)
        assert heard >= MIN_ENROL_SPEECH_S, name
    assert lengths["quick"] > hs.ENROL_SENTENCES + 1
    assert lengths["slow"] == hs.ENROL_SENTENCES
