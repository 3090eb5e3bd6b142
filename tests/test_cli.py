"""The command line as a user meets it: JSON of DESIGN.md, a store that agrees with analyze,
help with examples, and one clear sentence (no traceback) for every mistake."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from edge.cli import app
from edge.stats import summarize
from edge.store import Store
from tests.test_pipeline import ANALYSIS_KEYS

runner = CliRunner()
COMMANDS = [
    "analyze",
    "live",
    "daemon",
    "stats",
    "report",
    "models",
    "devices",
    "enroll",
    "household",
]


@pytest.fixture
def model_args(fake_models):
    return ["--stt-model", str(fake_models.stt)]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_sentence_error(result, fragment):
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "Traceback" not in result.output


def test_analyze_json_follows_the_design(scene, model_args):
    result = invoke("analyze", scene.path, "--json", "--no-store", *model_args)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == ANALYSIS_KEYS
    assert out["household"] == {"enrolled": []}
    assert set(out["models"]) >= {"stt", "voice", "speaker"}
    assert {"speaker", "speaker_score"} <= set(out["segments"][0])
    summary = out["summary"]
    for key in (
        "mother_s",
        "father_s",
        "child_s",
        "other_s",
        "unknown_s",
        "female_s",
        "male_s",
        "mother_share",
        "utterances",
        "syllables",
        "turns",
        "child_turns",
    ):
        assert key in summary
    truth = summarize(scene.truth)
    assert summary["mother_share"] == pytest.approx(truth.mother_share, abs=0.05)
    assert summary["mother_s"] == pytest.approx(truth.seconds["mother"], rel=0.10)
    assert summary["father_s"] == pytest.approx(truth.seconds["father"], rel=0.10)
    segment = out["segments"][0]
    assert set(segment) == {
        "start",
        "end",
        "voice",
        "voice_prob",
        "speaker",
        "speaker_score",
        "text",
        "syllables",
        "eojeol",
    }


def test_analyze_table_lists_each_utterance_then_the_summary(scene, model_args):
    result = invoke("analyze", scene.path, "--no-store", *model_args)
    assert result.exit_code == 0, result.stderr
    found = json.loads(invoke("analyze", scene.path, "--json", "--no-store", *model_args).stdout)
    lines = result.stdout.splitlines()
    starts = [f"{s['start']:.2f}" for s in found["segments"]]
    listed = [line.split()[0] for line in lines if line.split() and line.split()[0] in starts]
    assert listed == starts  # every utterance, in order
    assert "mother share" in lines[-1]


def test_several_files_give_a_json_list(scene, model_args):
    result = invoke("analyze", scene.path, scene.path, "--json", "--no-store", *model_args)
    assert [r["summary"] for r in json.loads(result.stdout)] == [
        json.loads(invoke("analyze", scene.path, "--json", "--no-store", *model_args).stdout)[
            "summary"
        ]
    ] * 2


def test_live_input_file_prints_utterances_and_stores_what_analyze_finds(
    scene, model_args, db_path, tmp_path
):
    analysed = json.loads(
        invoke(
            "analyze", scene.path, "--json", "--store", "--db", tmp_path / "a.db", *model_args
        ).stdout
    )
    live = invoke("live", "--input-file", scene.path, "--speed", 10, "--db", db_path, *model_args)
    assert live.exit_code == 0, live.stderr
    printed = [line for line in live.stdout.splitlines() if line.strip()]
    assert len(printed) == len(analysed["segments"])
    assert "가 나" in printed[0]
    stats = json.loads(invoke("stats", "--json", "--db", db_path).stdout)["total"]
    stored = json.loads(invoke("stats", "--json", "--db", tmp_path / "a.db").stdout)["total"]
    assert stats == stored == analysed["summary"]
    import sqlite3

    for db in (db_path, tmp_path / "a.db"):  # every row says which options made it
        with sqlite3.connect(db) as raw:
            recorded = {json.loads(o)["vad"] for (o,) in raw.execute("SELECT options FROM utterances")}
        assert recorded == {analysed["options"]["vad"]}


def test_live_json_lines_and_no_transcripts_in_the_store(scene, model_args, db_path):
    result = invoke(
        "live",
        "--input-file",
        scene.path,
        "--speed",
        30,
        "--json",
        "--db",
        db_path,
        "--no-transcripts",
        *model_args,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and {line["text"] for line in lines} <= {"가 나", None}  # None: STT skipped
    with Store(db_path) as store:
        stored = store.utterances()
        assert len(stored) == len(lines) and all(u.text is None for u in stored)
        assert {u.syllables for u in stored} <= {0, 2}


def test_stats_by_hour_and_a_time_range(scene, model_args, db_path):
    invoke("analyze", scene.path, "--store", "--db", db_path, *model_args)
    by_hour = json.loads(invoke("stats", "--by", "hour", "--json", "--db", db_path).stdout)
    assert sum(p["mother_s"] for p in by_hour["periods"]) == pytest.approx(
        by_hour["total"]["mother_s"]
    )
    future = json.loads(invoke("stats", "--since", "2999-01-01", "--json", "--db", db_path).stdout)
    assert future["periods"] == [] and future["total"]["mother_share"] is None
    table = invoke("stats", "--db", db_path)
    assert table.exit_code == 0 and "mother share" in table.stdout


@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_report_draws_a_chart(scene, model_args, db_path, tmp_path, suffix):
    invoke("analyze", scene.path, "--store", "--db", db_path, *model_args)
    out = tmp_path / f"talk{suffix}"
    result = invoke("report", "--out", out, "--by", "hour", "--db", db_path)
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600  # a family's talk over time: owner only
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"data:image/png;base64," in data


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_a_runnable_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert f"Example: talkratio {command}" in " ".join(result.stdout.split())


def test_models_lists_the_active_models(fake_models):
    result = invoke(
        "models", "--json", "--stt-model", fake_models.stt, "--voice-model", fake_models.voice
    )
    described = json.loads(result.stdout)
    assert described["stt"]["name"] == "fake-stt" and described["voice"]["version"] == "test-1"
    assert len(described["stt"]["sha256"]) == 64
    assert (described["vad"]["name"], described["vad"]["version"]) == ("silero-vad", "6.2.3")
    assert "MIT" in described["vad"]["license"]


def write_wav(path, samples, rate=16_000):
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def test_bad_input_gets_one_sentence(tmp_path, model_args, scene):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    silent = write_wav(tmp_path / "nothing.wav", np.zeros(0, np.float32))
    cases = [
        (tmp_path / "missing.wav", "no such file"),
        (empty, "not a readable audio file"),
        (corrupt, "not a readable audio file"),
        (silent, "no audio"),
        (tmp_path, "folder"),
    ]
    for path, fragment in cases:
        assert_one_sentence_error(invoke("analyze", path, "--no-store", *model_args), fragment)


def test_any_sample_rate_is_accepted(tmp_path, scene, model_args):
    from edge.audio import load_audio, resample

    audio = resample(load_audio(scene.path), 16_000, 44_100)
    odd = write_wav(tmp_path / "cd.wav", audio, 44_100)
    out = json.loads(invoke("analyze", odd, "--json", "--no-store", *model_args).stdout)
    assert len(out["segments"]) == len(scene.truth)


def test_missing_or_mismatched_model_gets_one_sentence(scene, tmp_path, fake_models):
    assert_one_sentence_error(
        invoke("analyze", scene.path, "--stt-model", tmp_path / "nope.onnx"), "does not exist"
    )
    assert_one_sentence_error(
        invoke("analyze", scene.path, "--stt-model", fake_models.voice), "'voice' model"
    )
    assert_one_sentence_error(
        invoke("analyze", scene.path, "--stt-model", scene.path), "not a usable ONNX model"
    )


def test_unusable_store_and_options_get_one_sentence(scene, model_args, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert_one_sentence_error(
        invoke("analyze", scene.path, "--store", "--db", blocker / "db", *model_args),
        "cannot create",
    )
    assert_one_sentence_error(invoke("stats", "--by", "week", "--db", tmp_path / "s.db"), "--by")
    assert_one_sentence_error(
        invoke("stats", "--since", "yesterday", "--db", tmp_path / "s.db"), "--since"
    )
    Store(tmp_path / "empty.db").close()
    assert_one_sentence_error(
        invoke("report", "--out", tmp_path / "r.pdf", "--db", tmp_path / "empty.db"),
        ".png or .html",
    )
    assert_one_sentence_error(
        invoke("report", "--out", tmp_path / "r.png", "--db", tmp_path / "empty.db"),
        "nothing to draw",
    )


def test_no_microphone_gets_one_sentence(monkeypatch, model_args):
    import edge.sources

    monkeypatch.setattr(edge.sources, "list_input_devices", lambda: [])
    assert_one_sentence_error(invoke("live", "--seconds", 1, *model_args), "no audio input device")


def test_live_reads_raw_pcm_from_stdin(scene, model_args, db_path):
    from edge.audio import load_audio

    pcm = (load_audio(scene.path) * 32767).astype("<i2").tobytes()
    result = runner.invoke(
        app, ["live", "--stdin", "--json", "--db", str(db_path), *map(str, model_args)], input=pcm
    )
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(scene.truth)


def test_ctrl_c_ends_live_cleanly_with_everything_stored(scene, fake_models, db_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    argv = [
        sys.executable,
        "-m",
        "edge.cli",
        "live",
        "--input-file",
        str(scene.path),
        "--speed",
        "2",
        "--json",
        "--db",
        str(db_path),
        "--stt-model",
        str(fake_models.stt),
    ]
    process = subprocess.Popen(
        argv,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline()  # blocks until the first utterance is printed
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    printed = [first, *rest.splitlines()]
    assert 1 <= len(printed) < len(scene.truth)  # stopped early ...
    with Store(db_path) as store:
        assert store.count() == len(printed)  # ... with every printed utterance stored


def test_stats_and_report_never_create_a_database(tmp_path):
    typo = tmp_path / "talkratoi.db"
    assert_one_sentence_error(invoke("stats", "--db", typo), "no database at")
    assert_one_sentence_error(
        invoke("report", "--out", tmp_path / "r.png", "--db", typo), "no database"
    )
    assert not typo.exists()


def test_analyze_stores_only_with_store_and_never_counts_a_file_twice(
    scene, model_args, db_path, tmp_path
):
    invoke("analyze", scene.path, "--db", db_path, *model_args)
    assert not db_path.exists()  # DESIGN.md: results are added only with --store
    copy = tmp_path / "same-recording.wav"
    copy.write_bytes(scene.path.read_bytes())
    first = invoke("analyze", scene.path, "--store", "--db", db_path, *model_args)
    again = invoke("analyze", copy, "--store", "--db", db_path, *model_args)
    assert first.exit_code == again.exit_code == 0
    assert "stored before; not counted again" in again.stderr
    with Store(db_path) as store:
        assert store.count() == len(
            json.loads(invoke("analyze", scene.path, "--json", "--no-store", *model_args).stdout)[
                "segments"
            ]
        )


def test_the_vad_choice_is_recorded_in_the_options(scene, model_args):
    default = json.loads(invoke("analyze", scene.path, "--json", "--no-store", *model_args).stdout)
    assert default["options"]["vad"] == "webrtc+silero"
    alone = invoke("analyze", scene.path, "--json", "--no-store", "--vad", "webrtc",
                   "--vad-endpoint-ms", 240, *model_args)
    assert alone.exit_code == 0, alone.stderr
    options = json.loads(alone.stdout)["options"]
    assert (options["vad"], options["vad_endpoint_ms"]) == ("webrtc", 240)
    assert_one_sentence_error(
        invoke("analyze", scene.path, "--vad", "neural", *model_args), "vad must be one of"
    )
    assert_one_sentence_error(
        invoke("analyze", scene.path, "--vad-offset", 0.9, *model_args), "offset_threshold"
    )


def test_labels_from_the_config_are_printed_as_text(scene, model_args, tmp_path):
    config = tmp_path / "labels.toml"
    config.write_text('[labels]\nmother = "엄마[/]"\nfather = "[bold]아빠"\n')
    result = invoke("analyze", scene.path, "--config", config, *model_args)
    assert result.exit_code == 0, result.stderr
    assert "엄마[/]" in result.stdout and "[bold]아빠" in result.stdout


def test_nan_or_infinite_audio_is_one_sentence_not_silence(model_args, tmp_path):
    samples = np.zeros(16_000 * 2, np.float32)
    samples[20_000] = np.nan
    nan_file = tmp_path / "nan.wav"
    sf.write(nan_file, samples, 16_000, subtype="FLOAT")
    assert_one_sentence_error(invoke("analyze", nan_file, *model_args), "NaN or infinite")
    samples[20_000] = np.inf
    sf.write(nan_file, samples, 16_000, subtype="DOUBLE")
    assert_one_sentence_error(invoke("analyze", nan_file, *model_args), "NaN or infinite")


def test_a_fault_is_not_disguised_as_a_user_error(scene, model_args, monkeypatch):
    import edge.pipeline

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")  # a bug, not the user's

    monkeypatch.setattr(edge.pipeline, "analyze_file", broken)
    result = invoke("analyze", scene.path, *model_args)
    assert result.exit_code != 2 and isinstance(result.exception, ValueError)
    assert "error: operands" not in result.stderr


def test_a_pipe_is_refused_not_waited_on(model_args, tmp_path):
    import os
    import threading

    fifo = tmp_path / "recording.wav"
    os.mkfifo(fifo)
    results = []
    worker = threading.Thread(
        target=lambda: results.append(invoke("analyze", fifo, *model_args)), daemon=True
    )
    worker.start()
    worker.join(60.0)  # the harness's limit: a read from a FIFO nobody writes to never ends
    if worker.is_alive():  # release the blocked reader so the suite goes on, then fail
        with open(fifo, "wb"):
            pass
        worker.join(10.0)
        pytest.fail("analyze waited on a pipe")
    assert_one_sentence_error(results[0], "not a regular file")
