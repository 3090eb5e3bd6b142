"""DS2 training: the model learns, resume is exact, two-process DDP runs, checkpoints export.

A handful of espeak-ng utterances made in a temporary folder are the data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from training.ds2.config import PRESETS

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

TEXTS = ("오늘 밥 먹자", "학교에 가자", "우리 같이 놀자", "내일 만나요")
TINY = replace(PRESETS["tiny"], epochs=55, lr=8e-3)  # CER reaches 0 after ~45 steps


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Four utterances by one espeak-ng voice and their manifest ``m.jsonl``."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("espeak")
    rows = []
    for i, text in enumerate(TEXTS):
        wav = folder / f"u{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "160", "-w", str(wav), text], check=True)
        rows.append(
            {
                "audio": wav.name,
                "text": text,
                "duration_s": sf.info(str(wav)).duration,
                "speaker": "espeak",
                "gender": "male",
            }
        )
    (folder / "m.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return folder / "m.jsonl"


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Path:
    from training.ds2.train import train

    run = tmp_path_factory.mktemp("learn")
    train(TINY, corpus, corpus, run)
    return run


def test_the_model_learns_a_handful_of_utterances(trained):
    epochs = [r for r in records(trained) if "dev_cer" in r]
    assert epochs[0]["dev_cer"] > 0.5  # it starts knowing nothing
    assert min(r["dev_cer"] for r in epochs) <= 0.05
    assert (trained / "best.pt").is_file()


def test_exported_model_transcribes_what_it_learned(trained, corpus, tmp_path):
    from edge.audio import load_audio
    from edge.stt import SpeechRecognizer
    from export.ds2 import export_ds2
    from training.korean import cer

    report = export_ds2(trained / "best.pt", tmp_path / "m.onnx", tmp_path / "m.int8.onnx", corpus)
    assert report.metrics["fp32"]["clean"]["cer"] <= 0.05
    recognizer = SpeechRecognizer(tmp_path / "m.int8.onnx", beam_width=4)
    hyps = [
        recognizer.transcribe(load_audio(corpus.parent / f"u{i}.wav")) for i in range(len(TEXTS))
    ]
    assert cer(list(TEXTS), hyps) <= 0.1


def test_resume_continues_with_the_identical_next_step_loss(corpus, tmp_path):
    from training.ds2.train import train

    config = replace(TINY, epochs=2)
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    train(config, corpus, corpus, full)
    resumed.mkdir()
    shutil.copy(full / "epoch_0.pt", resumed / "last.pt")
    train(config, corpus, corpus, resumed, resume=True)

    def step_losses(run):
        return {r["step"]: r["loss"] for r in records(run) if "loss" in r}

    expected, got = step_losses(full), step_losses(resumed)
    assert sorted(got) == [2]  # only the second epoch's step ran after resuming
    assert got[2] == expected[2]


def test_two_process_ddp_on_cpu(corpus, tmp_path):
    run, config = tmp_path / "ddp", tmp_path / "ddp.toml"
    config.write_text('preset = "tiny"\nmax_batch_s = 3.2  # two ~1.5 s utterances a batch\n')
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "training.ds2.train",
        "--config",
        str(config),
        "--epochs",
        "1",
        "--train",
        str(corpus),
        "--dev",
        str(corpus),
        "--out",
        str(run),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    start = next(r for r in records(run) if r.get("start"))
    assert start["world_size"] == 2
    assert start["batches_per_epoch"] == 1  # 4 utterances, 2 batches of 2: one per process
    assert [r["epoch"] for r in records(run) if "dev_cer" in r] == [0]
    assert (run / "last.pt").is_file()


def test_resume_from_within_an_epoch_repeats_no_step(corpus, tmp_path, monkeypatch):
    from training.ds2 import train as train_module

    config = replace(TINY, epochs=2, max_batch_s=3.2, checkpoint_every=1)  # 2 batches an epoch
    full, cut = tmp_path / "full", tmp_path / "cut"
    train_module.train(config, corpus, corpus, full)
    original_step = train_module.Trainer.train_step

    def crash_at_step_two(self, batch):
        if self.step == 1:
            raise KeyboardInterrupt  # the machine stops in the middle of epoch 1
        return original_step(self, batch)

    monkeypatch.setattr(train_module.Trainer, "train_step", crash_at_step_two)
    with pytest.raises(KeyboardInterrupt):
        train_module.train(config, corpus, corpus, cut)
    monkeypatch.setattr(train_module.Trainer, "train_step", original_step)
    train_module.train(config, corpus, corpus, cut, resume=True)

    def step_losses(run):
        return [(r["step"], r["loss"]) for r in records(run) if "loss" in r]

    assert step_losses(cut) == step_losses(full)  # step 1 once, then 2, 3, 4 as uninterrupted


def test_fine_tuning_starts_from_an_exported_model(trained, corpus, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    from edge.audio import compute_features, load_audio
    from export.ds2 import export_ds2
    from training.ds2.train import train
    from training.ds2.warm_start import model_from_onnx

    export_ds2(trained / "best.pt", tmp_path / "m.onnx", None, None)
    audio = [corpus.parent / f"u{i}.wav" for i in range(len(TEXTS))]
    model, tokenizer, features = model_from_onnx(tmp_path / "m.onnx", audio)
    feats = compute_features(load_audio(audio[0]), features)[None]
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: feats})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(feats))[0].numpy()
    assert np.abs(got - expected).max() < 1e-4  # BatchNorm unfolded exactly

    run = tmp_path / "tuned"
    train(replace(TINY, epochs=1, lr=1e-4), corpus, corpus, run, init=tmp_path / "m.onnx")
    first = next(r for r in records(run) if "dev_cer" in r)
    assert first["dev_cer"] <= 0.1  # a scratch model's first epoch is above 0.5


def test_channel_band_limits_and_quantises_like_a_codec():
    import numpy as np

    from edge.audio import SAMPLE_RATE
    from training.ds2.data import AugmentConfig, channel

    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 7900 * t)).astype(np.float32)
    phone = AugmentConfig(channel_high_hz=(3400.0, 3400.0), channel_mu_law_prob=1.0)
    y = channel(x, np.random.default_rng(0), phone)
    spectrum = np.abs(np.fft.rfft(y))
    assert spectrum[7900] < 0.05 * spectrum[1000]  # 1 Hz bins: the 7.9 kHz tone, equal before
    assert np.unique(np.round(y, 6)).size <= 256  # 8-bit codec levels
