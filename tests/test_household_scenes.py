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
