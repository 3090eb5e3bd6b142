"""The per-length peer benchmark: clips near their target lengths, ratios and peer identity."""

from __future__ import annotations

import json

import numpy as np

from benchmarks import peer_lengths
from edge.audio import SAMPLE_RATE, load_audio, save_audio


def fake_honest_test(folder):
    """Utterances of 0.8 to 3 s (tones) in the honest test's two manifests."""
    rng = np.random.default_rng(0)
    for engine in ("espeak", "kokoro"):
        rows = []
        for i in range(12):
            seconds = float(rng.uniform(0.8, 3.0))
            path = folder / f"{engine}_{i}.wav"
            save_audio(
                path, 0.1 * np.sin(np.arange(int(seconds * SAMPLE_RATE)) / 5).astype(np.float32)
            )
            rows.append({"audio": str(path), "text": f"문장 {i}", "duration_s": seconds})
        (folder / f"{engine}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_clips_reach_each_target_length_with_their_texts(tmp_path):
    fake_honest_test(tmp_path)
    clips = peer_lengths.make_clips(tmp_path, tmp_path)
    assert len(clips) == len(peer_lengths.LENGTHS_S) * peer_lengths.CLIPS_PER_LENGTH
    for clip in clips:
        seconds = load_audio(clip["audio"]).size / SAMPLE_RATE
        target = clip["target_s"]
        assert target - 0.25 <= seconds <= max(1.6, target + 3.3), (target, seconds)
        assert clip["text"].count("문장") >= target / 3.0  # every joined utterance's text


def test_summary_gives_each_engine_its_median_cpu_and_cer():
    clips = [{"id": f"c{t}", "text": "밥 먹자", "target_s": t} for t in peer_lengths.LENGTHS_S]
    runs = {
        engine: {
            "clips": [
                {"id": c["id"], "audio_s": c["target_s"], "cpu_s": cpu, "wall_s": cpu, "text": text}
                for c in clips
            ],
            "recordings": [
                {"file": "h.wav", "audio_s": 90.0, "cpu_s": 9 * cpu, "wall_s": 1.0, "text": ""}
            ],
        }
        for engine, cpu, text in (("talkratio", 0.01, "밥 먹자"), ("whisper-base", 1.0, "밥 먹어"))
    }
    summary = peer_lengths.summarise(clips, runs)
    first = summary["lengths"][0]
    assert first["talkratio"]["cpu_ms"] == 10.0 and first["whisper-base"]["cpu_ms"] == 1000.0
    assert first["talkratio"]["cer"] == 0.0 and first["whisper-base"]["cer"] > 0.0
    assert "100.0x" in peer_lengths.markdown({**summary, "command": "x", "peer_identity": IDENTITY})


IDENTITY = {
    "faster-whisper": "1",
    "ctranslate2": "1",
    "joined_model_bin": {"sha256": "ab", "bytes": 1},
    "wheels": {},
}


def test_chart_plots_each_engine(tmp_path):
    clips = [{"id": f"c{t}", "text": "밥 먹자", "target_s": t} for t in peer_lengths.LENGTHS_S]
    runs = {
        engine: {
            "clips": [
                {"id": c["id"], "audio_s": 1.0, "cpu_s": cpu, "wall_s": cpu, "text": "밥"}
                for c in clips
            ],
            "recordings": [],
        }
        for engine, cpu in (("talkratio", 0.01), ("whisper-base", 1.0))
    }
    peer_lengths.chart(peer_lengths.summarise(clips, runs), tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_the_whole_command_is_what_a_user_types_and_prints_the_analysis():
    import subprocess
    import sys

    household = peer_lengths.HOUSEHOLD
    command = peer_lengths.whole_command("talkratio", str(household))
    assert command[:3] == [sys.executable, "-m", "edge.cli"] and command[3:] == [
        "analyze", str(household), "--json"]
    printed = subprocess.run(command, check=True, capture_output=True, text=True,
                             cwd=peer_lengths.REPO_ROOT).stdout
    assert json.loads(printed)["summary"]["mother_s"] > 0
    assert "--whole" in peer_lengths.whole_command("whisper-base", str(household))


def test_whole_command_rows_show_each_run_and_the_ratio():
    rows = {"talkratio": {"file": "h.wav", "cpu_s": 1.0, "wall_s": 2.0, "cpu_s_runs": [1.0, 1.1]},
            "whisper-base": {"file": "h.wav", "cpu_s": 9.0, "wall_s": 9.5, "cpu_s_runs": [9.0]}}
    lines = peer_lengths._whole_command_lines(
        {"whole_commands": [rows], "repeats": 2, "load_average": {"start": (1, 1, 1)}},
        "whisper-base")
    assert "| h.wav | talkratio | 1.00 | 2.00 | 9.0x | 1.00, 1.10 |" in lines
