"""The runtime recogniser: the bundled model, its metadata, edge/ without torch."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge.onnx_model import ModelError, bundled_model
from edge.stt import SpeechRecognizer

BUNDLED = bundled_model("stt")
FP32_TWIN = BUNDLED.parents[2] / "benchmarks" / "models" / "stt.fp32.onnx"
MAX_BUNDLED_BYTES = 15 * 2**20  # the STT share of the 30 MB budget for all bundled models
MAX_NEW_SENTENCE_CER = 0.25  # the model card reports ~0.1 on the held-out test set


def test_edge_runtime_never_imports_torch():
    code = ("import sys, numpy as np; from edge.stt import SpeechRecognizer; "
            "SpeechRecognizer().transcribe(np.zeros(16000, np.float32)); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))")
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == []


def test_bundled_model_describes_itself():
    recognizer = SpeechRecognizer()
    assert recognizer.info.kind == "stt"
    assert recognizer.tokens[0] == "<blank>"
    assert recognizer.session.get_outputs()[0].shape[-1] == len(recognizer.tokens)
    assert BUNDLED.stat().st_size <= MAX_BUNDLED_BYTES


@pytest.mark.skipif(not FP32_TWIN.exists(), reason="fp32 twin not built")
def test_bundled_int8_is_under_30_percent_of_its_fp32_twin():
    assert BUNDLED.stat().st_size <= 0.30 * FP32_TWIN.stat().st_size


def test_silence_and_too_short_audio_give_text_not_errors():
    recognizer = SpeechRecognizer(beam_width=4)
    assert recognizer.transcribe(np.zeros(0, np.float32)) == ""
    assert isinstance(recognizer.transcribe(np.zeros(16000, np.float32)), str)
    assert isinstance(recognizer.transcribe(np.zeros(200, np.float32)), str)


def test_log_probs_shape_follows_the_audio_length():
    recognizer = SpeechRecognizer()
    one, two = (recognizer.log_probs(np.random.default_rng(0).normal(0, 0.1, n).astype(np.float32))
                for n in (16000, 32000))
    assert one.shape[1] == two.shape[1] == len(recognizer.tokens)
    assert abs(two.shape[0] - 2 * one.shape[0]) <= 1


def test_wrong_kind_of_model_is_refused(tmp_path):
    with pytest.raises(ModelError):
        SpeechRecognizer(tmp_path / "missing.onnx")
    with pytest.raises(ValueError):
        SpeechRecognizer(beam_width=0)


UNSEEN = ("이제 잘 시간이야", "오늘 하루 어땠어", "엄마가 안아 줄게", "밖에 나가서 놀까")  # held out of training
VOICES = (("ko+f2", "60", "160"), ("ko+m3", "40", "150"))  # espeak variant, pitch, words per minute


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_bundled_model_transcribes_new_sentences_by_new_voices(tmp_path):
    from edge.audio import load_audio
    from training.korean import cer
    from training.sentences import is_held_out

    assert all(is_held_out(text) for text in UNSEEN)
    recognizer = SpeechRecognizer(beam_width=4)
    refs, hyps = [], []
    for index, (text, (variant, pitch, wpm)) in enumerate(itertools.product(UNSEEN, VOICES)):
        wav = tmp_path / f"{index}.wav"
        subprocess.run(["espeak-ng", "-v", variant, "-p", pitch, "-s", wpm, "-w", str(wav), text], check=True)
        refs.append(text)
        hyps.append(recognizer.transcribe(load_audio(wav)))
    assert cer(refs, hyps) <= MAX_NEW_SENTENCE_CER, list(zip(refs, hyps, strict=True))
