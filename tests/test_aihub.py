"""AI-Hub import: real file layouts, bad records, selection, speaker-disjoint splits, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from training import aihub
from training.aihub import (
    ImportOptions,
    audio_key,
    cli,
    import_aihub,
    parse_age,
    parse_gender,
)
from training.manifest import (
    SPLITS,
    ManifestEntry,
    SplitFractions,
    read_manifest,
    split_by_speaker,
    write_manifest,
)

FIXTURES = Path(__file__).parent / "fixtures" / "aihub"
FREE_TALK = "자유대화음성/Training"
SAMPLE_RATE = 16000


def read_all(out: Path, names=SPLITS) -> dict[str, list[ManifestEntry]]:
    return {name: list(read_manifest(out / f"{name}.jsonl")) for name in names}


def speakers(entries) -> set[str]:
    return {e.speaker for e in entries}


def male_share(entries) -> float:
    male = sum(e.duration_s for e in entries if e.gender == "male")
    return male / sum(e.duration_s for e in entries)


# ------------------------------------------------------------ the fixture tree


@pytest.fixture(scope="module")
def fixture_import(tmp_path_factory):
    out = tmp_path_factory.mktemp("manifests")
    summary = import_aihub(FIXTURES, out, ImportOptions(seed=3))
    return summary, out


def test_real_layout_is_read_with_its_variations(fixture_import) -> None:
    _, out = fixture_import
    entries = {Path(e.audio).stem[-5:]: e for rows in read_all(out).values() for e in rows}
    assert sorted(entries) == ["00001", "00002", "00003", "00004", "00005"]
    first = entries["00001"]  # JSON with a BOM, WAV in the separate [원천] tree
    assert first.text == "음 오늘 칠십 퍼센트는 끝냈어"
    assert "[원천]" in first.audio and Path(first.audio).is_file()
    assert (first.gender, first.age, first.speaker, first.env, first.source) == (
        "female",
        34,
        "1001",
        "실내",
        "aihub",
    )
    assert first.duration_s == pytest.approx(0.35)  # recrdTime
    assert entries["00002"].age == 34  # age written as a string, fileNm without .wav
    assert entries["00002"].text == "밥 먹자 얼른 와"
    assert entries["00003"].text == "아 그래서 두 시에 가기로 했지"
    assert entries["00003"].gender == "male"
    # no recrdTime: the WAV header beside the JSON gives 0.45 s
    assert entries["00005"].duration_s == pytest.approx(0.45, abs=1e-3)


def test_bad_records_are_counted_not_fatal(fixture_import) -> None:
    summary, out = fixture_import
    assert summary.skipped == {
        "broken_json": 1,
        "empty_text": 1,
        "excluded_transcript": 1,
        "missing_audio": 2,  # one conversation WAV, one near-field home-noise WAV
        "unknown_gender": 1,
    }
    assert summary.label_files == 12  # the hidden ._ macOS file is not a label
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert written["skipped"] == summary.skipped
    assert written["manifests"]["train"]["utterances"] == summary.manifests["train"]["utterances"]


def test_fixture_splits_are_speaker_disjoint(fixture_import) -> None:
    _, out = fixture_import
    splits = read_all(out)
    assert speakers(splits["train"]).isdisjoint(speakers(splits["test"]))
    assert speakers(splits["train"]).isdisjoint(speakers(splits["dev"]))
    assert speakers(splits["dev"]).isdisjoint(speakers(splits["test"]))
    # two speakers per gender: one trains, one tests, for both genders
    assert {e.gender for e in splits["test"]} == {"female", "male"}


def test_home_noise_set_has_far_and_near_field(fixture_import) -> None:
    _, out = fixture_import
    rows = list(read_manifest(out / "home_noise_test.jsonl"))
    by_name = {Path(e.audio).name: e for e in rows}
    assert set(by_name) == {"HNC_F_0001-N.wav", "HNC_F_0001-S.wav", "HNC_M_0002-N.wav"}
    assert by_name["HNC_F_0001-N.wav"].field == "far"
    assert by_name["HNC_F_0001-S.wav"].field == "near"
    assert by_name["HNC_M_0002-N.wav"].text == "티비 꺼 줘"
    assert by_name["HNC_M_0002-N.wav"].gender == "male"
    assert by_name["HNC_F_0001-S.wav"].duration_s == pytest.approx(0.4, abs=1e-3)  # header
    assert all(e.env == "home-noise" for e in rows)
    assert '"field": "far"' in (out / "home_noise_test.jsonl").read_text(encoding="utf-8")


def test_indoor_and_age_selection(tmp_path) -> None:
    options = ImportOptions(indoor_only=True, min_age=20, max_age=40)
    summary = import_aihub(FIXTURES, tmp_path, options)
    kept = [e for rows in read_all(tmp_path).values() for e in rows]
    assert speakers(kept) == {"1001", "1002"}
    assert summary.left_out == {"not_indoor": 1, "age_out_of_range": 1}


# ------------------------------------------------------------ a generated corpus


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * SAMPLE_RATE), np.int16), SAMPLE_RATE)


def label(stem: str, gender: str, speaker: str, age, seconds: float, text: str) -> dict:
    return {
        "발화정보": {"stt": text, "fileNm": f"{stem}.wav", "recrdTime": f"{seconds:.3f}"},
        "대화정보": {"recrdEnvrn": "실내", "cityCode": "수도권"},
        "녹음자정보": {"gender": gender, "recorderId": speaker, "age": age},
    }


def make_corpus(root: Path, n_female: int, n_male: int, per_speaker: int, seed: int = 0) -> Path:
    """AI-Hub tree: labels under [라벨], WAVs under [원천]; 2-6 s per utterance."""
    rng = np.random.default_rng(seed)
    for n in range(n_female + n_male):
        gender, speaker = ("여", f"F{n:03d}") if n < n_female else ("남", f"M{n:03d}")
        for k in range(per_speaker):
            stem = f"일반남여_{speaker}_{k:05d}"
            seconds = float(rng.uniform(2.0, 6.0))
            doc = label(stem, gender, speaker, 20 + n % 20, seconds, f"밥 {k}번 먹자?")
            path = root / "[라벨]" / speaker / f"{stem}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            write_wav(root / "[원천]" / speaker / f"{stem}.wav", 0.01)  # durations from JSON
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("aihub"), n_female=30, n_male=10, per_speaker=6)


def test_balance_and_hours_budget(corpus, tmp_path) -> None:
    budget_h = 0.1  # 360 s; the corpus has about 240 s of male and 720 s of female speech
    options = ImportOptions(male_share=0.5, hours=budget_h, seed=1)
    summary = import_aihub(corpus, tmp_path, options)
    splits = read_all(tmp_path)
    everything = [e for rows in splits.values() for e in rows]
    total_s = sum(e.duration_s for e in everything)
    assert budget_h * 3600 - 2 * 6.0 <= total_s <= budget_h * 3600
    assert male_share(everything) == pytest.approx(0.5, abs=0.02)
    for name in SPLITS:  # every split keeps the 5:5 balance
        assert male_share(splits[name]) == pytest.approx(0.5, abs=0.12), name
    assert summary.left_out["over_budget_or_balance"] == 240 - len(everything)


def test_balance_without_budget_keeps_all_of_the_scarcer_gender(corpus, tmp_path) -> None:
    import_aihub(corpus, tmp_path, ImportOptions(male_share=0.5))
    everything = [e for rows in read_all(tmp_path).values() for e in rows]
    males = [e for e in everything if e.gender == "male"]
    assert len(males) == 60  # 10 speakers x 6 utterances: none dropped
    assert male_share(everything) == pytest.approx(0.5, abs=0.02)


def test_splits_follow_fractions_and_are_speaker_disjoint(corpus, tmp_path) -> None:
    options = ImportOptions(fractions=SplitFractions(0.6, 0.2, 0.2), seed=5)
    import_aihub(corpus, tmp_path, options)
    splits = read_all(tmp_path)
    names = list(SPLITS)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert speakers(splits[a]).isdisjoint(speakers(splits[b]))
    total_s = sum(e.duration_s for rows in splits.values() for e in rows)
    for name, share in (("train", 0.6), ("dev", 0.2), ("test", 0.2)):
        got = sum(e.duration_s for e in splits[name]) / total_s
        assert got == pytest.approx(share, abs=0.06), name
    assert sum(len(rows) for rows in splits.values()) == 240  # nothing lost


def test_same_seed_same_manifests_other_seed_other_split(corpus, tmp_path) -> None:
    def run(seed: int, out: Path) -> dict[str, bytes]:
        import_aihub(corpus, out, ImportOptions(male_share=0.5, hours=0.15, seed=seed))
        return {n: (out / f"{n}.jsonl").read_bytes() for n in SPLITS}

    first = run(7, tmp_path / "a")
    assert run(7, tmp_path / "b") == first
    assert run(8, tmp_path / "c") != first


def test_process_pool_gives_the_same_result(corpus, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(aihub, "POOL_MIN_FILES", 1)
    monkeypatch.setattr(aihub, "POOL_CHUNK_FILES", 16)
    import_aihub(corpus, tmp_path / "pool", ImportOptions(workers=2))
    import_aihub(corpus, tmp_path / "one", ImportOptions(workers=1))
    for name in SPLITS:
        pooled = (tmp_path / "pool" / f"{name}.jsonl").read_bytes()
        assert pooled == (tmp_path / "one" / f"{name}.jsonl").read_bytes()


def test_output_inside_the_source_is_not_read_back(tmp_path) -> None:
    src = make_corpus(tmp_path / "src", n_female=2, n_male=2, per_speaker=2)
    first = import_aihub(src, src / "manifests")
    second = import_aihub(src, src / "manifests")
    assert second.label_files == first.label_files == 8
    assert "not_a_label" not in second.skipped


def test_unreadable_audio_without_a_duration_is_skipped(tmp_path) -> None:
    doc = label("x", "여", "F1", 30, 1.0, "안녕")
    del doc["발화정보"]["recrdTime"]
    (tmp_path / "x.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "x.wav").write_bytes(b"RIFF\x00\x00not really audio")
    summary = import_aihub(tmp_path, tmp_path / "out")
    assert summary.skipped == {"unreadable_audio": 1}


def test_held_out_sentences_never_reach_train(tmp_path) -> None:
    src = make_corpus(tmp_path / "src", n_female=5, n_male=5, per_speaker=4)
    for path in src.rglob("*.json"):  # each speaker's first sentence is held out
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["발화정보"]["scriptSet"] = "heldout" if path.stem.endswith("_00000") else "train"
        doc["녹음자정보"]["synthVoice"] = "ko+f3 -p 50"  # the synthetic generator's mark
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    summary = import_aihub(src, tmp_path / "out")
    splits = read_all(tmp_path / "out")
    assert not any(e.held_out for e in splits["train"])
    held = [e for name in ("dev", "test") for e in splits[name] if e.held_out]
    assert len(held) == len(speakers(splits["dev"]) | speakers(splits["test"]))
    train_speakers = len(speakers(splits["train"]))
    assert summary.left_out["held_out_sentence_of_a_train_speaker"] == train_speakers
    assert '"held_out": true' in (tmp_path / "out" / "test.jsonl").read_text(encoding="utf-8")
    assert {e.source for rows in splits.values() for e in rows} == {"synth"}


# ------------------------------------------------------------ pieces


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("여", "female"),
        ("남", "male"),
        (" 여성 ", "female"),
        ("남자", "male"),
        ("F", "female"),
        ("male", "male"),
        ("", None),
        ("모름", None),
        (None, None),
        (1, None),
    ],
)
def test_parse_gender(value, expected) -> None:
    assert parse_gender(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (34, 34),
        ("34", 34),
        ("34세", 34),
        ("30대", 30),
        (27.0, 27),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_age(value, expected) -> None:
    assert parse_age(value) == expected


@pytest.mark.parametrize(
    "name", ["x_001.wav", "x_001.WAV", "x_001", "x_001.json", "a/b/x_001.wav", "C:\\d\\x_001.wav"]
)
def test_audio_key_matches_label_names_to_files(name) -> None:
    assert audio_key(name) == "x_001"


def entry(speaker: str, gender: str, seconds: float = 3.0) -> ManifestEntry:
    return ManifestEntry(f"/a/{speaker}.wav", "밥", seconds, gender, 30, speaker, "실내", "t")


def test_few_speakers_go_to_train_then_test() -> None:
    rows = [entry("f1", "female"), entry("f2", "female"), entry("m1", "male")]
    splits = split_by_speaker(rows, SplitFractions(), seed=0)
    assert len(splits["train"]) == 2 and len(splits["test"]) == 1 and not splits["dev"]
    assert {e.gender for e in splits["train"]} == {"female", "male"}


def test_zero_fraction_split_stays_empty() -> None:
    rows = [entry(f"s{n}", "female") for n in range(10)]
    splits = split_by_speaker(rows, SplitFractions(0.9, 0.0, 0.1), seed=0)
    assert not splits["dev"] and len(splits["test"]) == 1


def test_manifest_round_trip(tmp_path) -> None:
    rows = [
        entry("s1", "female", 1.23456),
        ManifestEntry("b.wav", "꺼 줘", 2.0, "male", None, "s2", "home-noise", "aihub", "near"),
    ]
    assert write_manifest(tmp_path / "m.jsonl", rows) == 2
    back = list(read_manifest(tmp_path / "m.jsonl"))
    assert back[0].duration_s == pytest.approx(1.235) and back[1] == rows[1]
    first = json.loads((tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {
        "audio",
        "text",
        "duration_s",
        "gender",
        "age",
        "speaker",
        "env",
        "source",
    }


@pytest.mark.parametrize(
    "kwargs", [{"male_share": 1.5}, {"hours": 0}, {"min_age": 40, "max_age": 20}]
)
def test_bad_options_are_rejected(kwargs) -> None:
    with pytest.raises(ValueError):
        ImportOptions(**kwargs)


# ------------------------------------------------------------ command line

app = typer.Typer()
app.command()(cli)


def test_cli_imports_and_prints_a_summary(tmp_path) -> None:
    result = CliRunner().invoke(app, [str(FIXTURES), "--out", str(tmp_path), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "home_noise_test" in result.output and "missing_audio 2" in result.output
    assert (tmp_path / "train.jsonl").is_file() and (tmp_path / "summary.json").is_file()


def test_cli_research_selection_with_an_override(tmp_path) -> None:
    args = [str(FIXTURES), "--out", str(tmp_path), "--research", "--max-age", "50"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    options = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["options"]
    assert options["indoor_only"] and options["min_age"] == 20 and options["max_age"] == 50
    assert options["male_share"] == 0.5 and options["hours"] == 200.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/folder"], "is not a folder"),
        ([str(FIXTURES), "--dev", "0.6", "--test", "0.5"], "split fractions"),
    ],
)
def test_cli_errors_are_one_sentence(tmp_path, args, message) -> None:
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


# ------------------------------------------------------------ synthetic corpus -> importer


@pytest.mark.slow
def test_synthetic_corpus_imports_into_balanced_speaker_disjoint_splits(tmp_path) -> None:
    from training.korean import normalise
    from training.synth import cli as synth_cli

    synth = typer.Typer()
    synth.command()(synth_cli)
    corpus, out = tmp_path / "corpus", tmp_path / "manifests"
    args = ["--out", str(corpus), "--hours", "0.01", "--seed", "1", "--speakers", "3"]
    made = CliRunner().invoke(synth, [*args, "--workers", "1"])
    assert made.exit_code == 0, made.output
    imported = CliRunner().invoke(app, [str(corpus), "--out", str(out)])
    assert imported.exit_code == 0, imported.output

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["skipped"]) <= {"not_a_label"}  # the corpus' own summary.json
    splits = read_all(out)
    groups = [speakers(splits[name]) for name in SPLITS]
    assert all(groups) and sum(map(len, groups)) == len(set().union(*groups)) == 6
    for name in SPLITS:  # 3 speakers per gender: one of each gender in every split
        assert {e.gender for e in splits[name]} == {"female", "male"}, name
    everything = [e for rows in splits.values() for e in rows]
    assert male_share(everything) == pytest.approx(0.5, abs=0.15)
    for row in everything:
        label = json.loads(Path(row.audio).with_suffix(".json").read_text(encoding="utf-8"))
        assert row.text and row.text == normalise(label["발화정보"]["stt"])
        assert row.duration_s == pytest.approx(sf.info(row.audio).duration, abs=0.01)
        assert row.source == "synth" and row.speaker == label["녹음자정보"]["recorderId"]
    assert not any(e.held_out for e in splits["train"])
