"""The sentence bank and the synthetic espeak-ng corpus (AI-Hub layout)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio import SAMPLE_RATE
from edge.hangul import count_eojeol
from training import sentences, synth

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


# --------------------------------------------------------------------------- sentence bank


def test_bank_is_large_distinct_and_stored_as_built():
    bank = sentences.load_bank()
    assert len(bank) >= 1500
    assert len(set(bank)) == len(bank)
    assert list(bank) == sentences.build_bank()  # package data matches its generator


def test_bank_sentences_are_clean_spoken_korean():
    for sentence in sentences.load_bank():
        assert 2 <= count_eojeol(sentence) <= 15, sentence
        assert not re.search(r"[0-9{}\[\]/A-Za-z]", sentence), sentence  # numbers as words
    lengths = [count_eojeol(s) for s in sentences.load_bank()]
    assert max(lengths) >= 10 and min(lengths) == 2


def test_particles_follow_the_last_syllable():
    text = "밥[을/를] 사과[을/를] 물[으로/로] 집[으로/로] 차[으로/로] 민준[아/야] 지우[아/야]"
    assert sentences.attach_particles(text) == "밥을 사과를 물로 집으로 차로 민준아 지우야"


def test_held_out_subset_is_about_a_tenth_and_ignores_spacing():
    bank = sentences.load_bank()
    share = sum(map(sentences.is_held_out, bank)) / len(bank)
    assert 0.07 < share < 0.13
    held = next(s for s in bank if sentences.is_held_out(s))
    assert sentences.is_held_out(held.replace(" ", "").rstrip(".?!"))


def test_undefined_template_slot_is_an_error():
    sources = sentences.parse_sources("@food = 밥\nT: {food}[을/를] {drink} 먹자.\n")
    with pytest.raises(ValueError, match="undefined slots"):
        sentences.build_bank(sources)


# --------------------------------------------------------------------------- voices and pitch


def test_f0_estimate_of_a_voiced_tone():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for f0 in (110.0, 220.0):
        voiced = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
        assert synth.median_f0(voiced.astype(np.float32)) == pytest.approx(f0, rel=0.03)
    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32)
    assert synth.f0_frames(noise).size < 10  # white noise is not voiced


def test_speech_bounds_trim_silence_to_10_ms():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    silence = np.zeros(SAMPLE_RATE // 2, np.float32)
    audio = np.concatenate([silence, 0.5 * np.sin(2 * np.pi * 200 * t), silence])
    start, end = synth.speech_bounds(audio.astype(np.float32))
    assert start == pytest.approx(SAMPLE_RATE // 2, abs=SAMPLE_RATE // 100)
    assert end == pytest.approx(3 * SAMPLE_RATE // 2, abs=SAMPLE_RATE // 100)


@needs_espeak
def test_variant_genders_come_from_the_voice_files():
    genders = synth.variant_genders()
    assert {genders[v] for v in ("f1", "f2", "f3", "f4", "f5")} == {"female"}
    assert {genders[v] for v in ("m1", "m2", "m3")} == {"male"}
    assert "klatt" not in genders  # declares no gender
    assert "whisperf" not in genders  # no voicing to measure


@needs_espeak
def test_speakers_sound_like_real_women_and_men():
    speakers = synth.make_speakers(4, seed=3)
    assert len({(s.variant, s.pitch, s.speed) for s in speakers}) == len(speakers)
    assert not {s.variant for s in speakers} & synth.SCENE_VARIANTS
    text = "오늘 저녁은 뭐 먹을까? 엄마랑 같이 만들어 보자."
    for s in speakers:
        f0 = synth.median_f0(synth.synthesize(text, s))
        low, high = synth.FEMALE_F0_HZ if s.gender == "female" else synth.MALE_F0_HZ
        assert low - 10 <= f0 <= high + 10, (s, f0)


@needs_espeak
def test_synthesis_is_trimmed_16k_speech():
    speaker = synth.make_speakers(1, seed=0)[0]
    audio = synth.synthesize("밥 먹자.", speaker)
    assert audio.dtype == np.float32 and 0.4 < audio.size / SAMPLE_RATE < 3
    edge = SAMPLE_RATE // 50  # 20 ms at each end is already speech
    assert np.abs(audio[:edge]).max() > 0.01 and np.abs(audio[-edge:]).max() > 0.005


# --------------------------------------------------------------------------- corpus


def corpus_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("SYN_*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    options = synth.SynthOptions(
        hours=0.005, seed=5, speakers_per_gender=2, workers=1, noise_bank_s=0.5
    )
    summary = synth.make_corpus(out, options)
    return out, summary


@needs_espeak
def test_corpus_is_in_the_aihub_layout(small_corpus):
    out, summary = small_corpus
    records = sorted(out.rglob("SYN_*.json"))
    assert len(records) == summary["utterances"] > 5
    bank = sentences.load_bank()
    total_s = 0.0
    for path in records:
        record = json.loads(path.read_text())
        talk, place, who = record["발화정보"], record["대화정보"], record["녹음자정보"]
        wav = path.with_name(talk["fileNm"])
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
        assert float(talk["recrdTime"]) == pytest.approx(info.duration, abs=0.01)
        assert bank[int(talk["scriptId"][1:])] == talk["stt"]
        assert talk["scriptSet"] == ("heldout" if sentences.is_held_out(talk["stt"]) else "train")
        assert who["recorderId"] == path.parent.name and who["gender"] in ("여", "남")
        assert who["gender"] == ("여" if "_F_" in who["recorderId"] else "남")
        assert 20 <= who["age"] <= 40 and place["recrdEnvrn"] == "실내"
        total_s += info.duration
    assert total_s >= 0.005 * 3600
    assert total_s < 0.005 * 3600 + 15  # stops at the first utterance past the target


@needs_espeak
def test_corpus_reports_speakers_and_noise_bank(small_corpus):
    out, summary = small_corpus
    rows = [json.loads(line) for line in (out / "speakers.jsonl").read_text().splitlines()]
    assert {r["gender"] for r in rows} == {"female", "male"} and len(rows) == 4
    for r in rows:
        assert abs(r["measured_f0_hz"] - r["target_f0_hz"]) < 15
    assert summary["by_gender"]["female"]["median_f0_hz"]["median"] > 165
    assert summary["by_gender"]["male"]["median_f0_hz"]["median"] < 155
    kinds = {json.loads(line)["kind"] for line in (out / "noise" / "noise.jsonl").open()}
    assert kinds >= {"hum", "fan", "babble"}


@needs_espeak
def test_same_seed_same_corpus_whatever_the_workers(tmp_path, small_corpus):
    out, _ = small_corpus
    again = synth.SynthOptions(hours=0.005, seed=5, speakers_per_gender=2, workers=2)
    synth.run_jobs(synth.make_speakers(2, 5), tmp_path, again, lambda s: None)
    assert corpus_files(tmp_path) == corpus_files(out)


@needs_espeak
def test_noise_option_fills_the_pauses(tmp_path):
    speakers = synth.make_speakers(1, seed=2)
    job = next(synth.iter_jobs(speakers, seed=2))
    clean_opts = synth.SynthOptions(seed=2)
    noisy_opts = synth.SynthOptions(seed=2, noise_snr_db=(10.0, 10.0))
    clean = synth.make_utterance(job, tmp_path / "clean", clean_opts)
    noisy = synth.make_utterance(job, tmp_path / "noisy", noisy_opts)
    lead = SAMPLE_RATE // 20  # the first 50 ms are padding
    clean_audio, _ = sf.read(clean.stem + ".wav")
    noisy_audio, _ = sf.read(noisy.stem + ".wav")
    assert np.abs(clean_audio[:lead]).max() == 0
    assert np.abs(noisy_audio[:lead]).max() > 0.001


def test_cli_refuses_bad_options(tmp_path):
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command()(synth.cli)
    result = CliRunner().invoke(app, ["--out", str(tmp_path), "--hours", "0"])
    assert result.exit_code == 2
    assert "--hours must be positive" in result.output


def test_bank_lines_limit_the_plan_to_the_first_sentences():
    speaker = synth.Speaker("SYN_F_0001", "female", 30, "f1", 50, 160, 200.0)
    jobs = synth.iter_jobs([speaker], seed=0, bank_lines=10)
    indices = {next(jobs).sentence_index for _ in range(30)}
    assert indices == set(range(10))  # every one of them, each cycle reshuffled


def test_text_file_replaces_the_bank_and_refuses_test_sentences(tmp_path):
    from training.honest import load_natural

    own = tmp_path / "own.txt"
    own.write_text("# comment\n밥 먹자.\n\n물 마셔.\n", encoding="utf-8")
    speaker = synth.Speaker("SYN_F_0001", "female", 30, "f1", 50, 160, 200.0)
    jobs = synth.iter_jobs([speaker], seed=0, text=str(own))
    assert {next(jobs).sentence for _ in range(4)} == {"밥 먹자.", "물 마셔."}
    leak = tmp_path / "leak.txt"
    leak.write_text(f"밥 먹자.\n{load_natural()[0]}\n", encoding="utf-8")
    assert synth._text_problems(own) == []
    assert "honest-test" in synth._text_problems(leak)[0]


def test_voice_change_is_per_speaker_and_moves_pitch_and_formants():
    options = synth.SynthOptions(seed=3, voice_change_prob=1.0)
    changes = [synth.voice_change_for(f"SYN_F_{i:04d}", options) for i in range(1, 9)]
    assert changes[0] == synth.voice_change_for("SYN_F_0001", options)  # fixed by seed and id
    assert len(set(changes)) == 8
    for change in changes:
        assert 0.9 <= change.formant_scale <= 1.12 and 0.85 <= change.f0_scale <= 1.2
    assert synth.voice_change_for("SYN_F_0001", synth.SynthOptions(seed=3)) is None
    some = synth.SynthOptions(seed=3, voice_change_prob=0.5)
    kept = [synth.voice_change_for(f"SYN_M_{i:04d}", some) is None for i in range(200)]
    assert 60 < sum(kept) < 140


@needs_espeak
def test_converted_speaker_sounds_higher(tmp_path):
    pytest.importorskip("pyworld")
    speaker = synth.make_speakers(1, seed=0)[0]  # female
    job = synth.Job(0, speaker, 0, "오늘 저녁에 뭐 먹을까?")
    plain = synth.make_utterance(job, tmp_path / "plain", synth.SynthOptions(seed=1))
    up = synth.VoiceChange(f0_scale=1.3)
    converted = synth.convert(synth.synthesize(job.sentence, speaker), up)
    assert synth.median_f0(converted) > 1.2 * plain.median_f0_hz


def test_recombined_sentences_use_the_words_in_new_orders():
    source = ["엄마 밥 줘.", "아빠 물 마셔?", "동생 공 던져!"]
    made = sentences.recombine(source, 50, seed=1)
    words = {w for s in source for w in s.strip(".?!").split()}
    assert all(set(s.strip(".?").split()) <= words for s in made)
    assert all(2 <= len(s.split()) <= 6 for s in made)
    assert len(set(made)) > 40 and made == sentences.recombine(source, 50, seed=1)
