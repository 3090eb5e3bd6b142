"""Fine-tuning mixes: manifests by share, and a noise bank extended with babble."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE, save_audio
from training.ds2 import mix
from training.noise import NoiseBank


def write_manifest(folder, name, seconds):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, s in enumerate(seconds):
        wav = folder / f"{name}_{i}.wav"
        t = np.arange(int(s * SAMPLE_RATE)) / SAMPLE_RATE
        save_audio(wav, (0.3 * np.sin(2 * np.pi * (200 + 10 * i) * t)).astype(np.float32))
        rows.append({"audio": wav.name, "text": "밥 먹자", "duration_s": s, "speaker": name})
    path = folder / "train.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def test_parts_are_cut_to_hours_or_repeated(tmp_path):
    a = write_manifest(tmp_path / "a", "a", [36.0] * 20)  # 0.2 h
    b = write_manifest(tmp_path / "b", "b", [2.0, 3.0])
    parts = [mix.Part.parse(f"{a}@0.05"), mix.Part.parse(f"{b}*3")]
    summary = mix.write_mix(parts, tmp_path / "mix.jsonl", seed=0)
    rows = [json.loads(line) for line in (tmp_path / "mix.jsonl").read_text().splitlines()]
    assert summary[str(a)]["utterances"] == 5  # 5 x 36 s reaches 0.05 h
    assert sum(r["speaker"] == "b" for r in rows) == 6
    assert all(r["audio"].startswith("/") for r in rows)  # usable from anywhere


def test_bad_part_is_refused():
    with pytest.raises(ValueError, match="PATH@HOURS"):
        mix.Part.parse("")
    assert mix.Part.parse("x.jsonl").repeat == 1


def test_babble_bank_keeps_the_base_and_adds_speech_babble(tmp_path):
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    save_audio(base_dir / "hum_00.wav", np.full(SAMPLE_RATE, 0.1, np.float32))
    (base_dir / "noise.jsonl").write_text(
        '{"audio": "hum_00.wav", "duration_s": 1, "kind": "hum"}\n'
    )
    speech = write_manifest(tmp_path / "k", "k", [1.0, 1.5, 2.0])
    index = mix.write_babble_bank(base_dir / "noise.jsonl", speech, tmp_path / "out", 2, seed=0)
    bank = NoiseBank.from_dir(index.parent)
    assert [c.kind for c in bank.clips] == ["hum", "babble", "babble"]
    assert all(np.abs(c.samples).max() > 0.05 for c in bank.clips)
