"""The household-match harness judges cached vectors by the runtime's own rule, and its
noisy enrolment copies are at the SNR asked."""

from __future__ import annotations

import numpy as np
import pytest

from edge.household import Household
from edge.speaker import SpeakerEncoder, unit
from training.enrol_noise import NOISES, noisy_copy
from training.household_match import figures, prototype_rule, prototype_scores, runtime_rule

DIM = 256


def _axis(k: int, lean: int | None = None, cosine: float = 1.0) -> np.ndarray:
    """A unit vector at ``cosine`` to axis ``k`` (leaning towards axis ``lean``)."""
    v = np.zeros(DIM, np.float32)
    v[k] = cosine
    v[k + 1 if lean is None else lean] = np.sqrt(1 - cosine**2)
    return v


def _scene() -> dict:
    """Mother on axis 0, father on axis 2: her everyday speech, his child-directed speech
    tagged female (close to his print only), the child and a TV right on her print."""
    rows = [  # role, style, seconds, voice, p(other), vector
        ("mother", "everyday", 3.0, "female", 0.0, _axis(0)),
        ("father", "to_child", 2.0, "female", 0.0, _axis(2, cosine=0.9)),
        ("father", "everyday", 2.0, "male", 0.0, _axis(2, cosine=0.7)),
        ("child", "child", 1.5, "child", 0.0, _axis(0)),
        ("tv", "tv", 2.5, "other", 0.9, _axis(0)),
    ]
    names = ("role", "style", "seconds", "voice", "p_other", "emb")
    scene = {n: np.asarray(c) for n, c in zip(names, zip(*rows, strict=True), strict=True)}
    scene["held"] = np.zeros(len(rows), bool)
    partial = {"mother": _axis(0), "father": _axis(2)}
    for role, v in partial.items():
        scene[f"{role}_clean"] = v[None]
        scene[f"{role}_hum_10"] = _axis(4, cosine=0.5)[None]  # a copy the noise moved
    return scene


@pytest.fixture(scope="module")
def info():
    return SpeakerEncoder().info


def test_runtime_rule_names_each_parent_and_never_the_child_or_the_tv(info):
    who = runtime_rule(info, typed_other_max=0.28)(_scene())
    assert who == ["mother", "father", "father", None, None]
    got = figures([_scene()], runtime_rule(info, 0.28))
    assert got["mean_share_error_points"] == 0.0
    assert got["child to a parent"] == 0.0 and got["tv_seconds_to_a_parent"] == 0.0


def test_a_parent_scores_the_closest_of_their_prototypes():
    prototypes = {"mother": np.stack([_axis(0), _axis(4)]), "father": _axis(2)[None]}
    scores = prototype_scores(prototypes, _axis(4, cosine=0.8))
    assert scores["mother"] == pytest.approx(0.8) and scores["father"] == pytest.approx(0.0)


def test_a_typed_father_below_the_strict_threshold_needs_a_male_voice(info):
    rule = prototype_rule(("clean", "hum_10"), strict=0.811, typed=0.615, other_max=0.28)
    scene = _scene()
    scene["voice"][2] = "female"  # his 0.7 everyday utterance, now tagged female
    assert rule(scene)[2] is None
    assert rule(_scene())[2] == "father"


@pytest.mark.parametrize("kind", sorted(NOISES))
def test_noisy_copies_are_at_the_snr_asked_and_reproducible(kind):
    t = np.arange(16000) / 16000
    speech = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    copy = noisy_copy(speech, kind, 10.0)
    noise = copy - speech
    snr = 10 * np.log10(np.mean(speech.astype(float) ** 2) / np.mean(noise.astype(float) ** 2))
    assert snr == pytest.approx(10.0, abs=0.1)
    assert np.array_equal(copy, noisy_copy(speech, kind, 10.0))


def test_t_norm_names_a_parent_who_stands_out_of_the_cohort_and_not_one_who_blends_in(info):
    from edge.cohort import Cohort
    from edge.voiceprint import Voiceprint

    prints = [Voiceprint("mother", _axis(0), info.sha256, "", 0, 0, 0)]
    rng = np.random.default_rng(0)
    crowd = np.stack([unit(v) for v in rng.standard_normal((40, DIM))])  # strangers
    household = Household(prints, info, 1.0, Cohort(crowd, info.sha256, strict=3.0, typed=2.0))
    noisy_mother = _axis(0, cosine=0.25)  # a low cosine, but no stranger is close
    assert household.match(noisy_mother, "female")[0] == "mother"
    child = unit(_axis(0) + crowd[:10].sum(axis=0))  # as close to ten strangers as to her
    assert float(prints[0].embedding @ child) > 0.25
    assert household.match(child, "female")[0] is None


def test_the_cohort_tv_guard_keeps_a_likely_loudspeaker_out_of_the_typed_tier(info):
    from edge.cohort import Cohort
    from edge.voiceprint import Voiceprint

    prints = [Voiceprint("father", _axis(0), info.sha256, "", 0, 0, 0)]
    crowd = np.stack([unit(v) for v in np.random.default_rng(0).standard_normal((40, DIM))])
    cohort = Cohort(crowd, info.sha256, strict=100.0, typed=2.0, other_max=0.2)
    household = Household(prints, info, typed_other_max=0.28, cohort=cohort)
    presenter = _axis(0, cosine=0.5)  # stands out of the cohort: only the channel tells
    assert household.match(presenter, "male", other_prob=0.1)[0] == "father"
    assert household.match(presenter, "male", other_prob=0.25)[0] is None
