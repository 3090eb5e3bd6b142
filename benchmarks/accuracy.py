"""Accuracy beside speed: CER of each STT model and voice accuracy/F1 of each tagger, clean and noisy.

Noisy copies come from ``training.ds2.evaluate.noisy`` with its fixed seed, so
they are the very ones the export's own metrics were computed on. Each
condition is scored with noisereduce off (the default) and on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.audio_set import Clip
from edge.audio import load_audio
from edge.segmenter import denoise

log = logging.getLogger(__name__)

SNRS_DB = (None, 10.0, 5.0)  # clean, 10 dB, 5 dB
VOICES = ("female", "male")


def condition_name(snr_db: float | None) -> str:
    return "clean" if snr_db is None else f"snr_{snr_db:g}"


@dataclass(frozen=True)
class TestAudio:
    """The scored utterances in every condition: ``audio[condition][i]`` float32 samples.

    Conditions are ``clean``, ``snr_10``, ``snr_5`` and the same with ``+nr``
    (noisereduce applied, as ``--denoise-stt`` does).
    """

    clips: tuple[Clip, ...]
    audio: dict[str, list[np.ndarray]]

    def conditions(self, denoised: bool) -> list[str]:
        return [c for c in self.audio if denoised or not c.endswith("+nr")]


def noisy_copies(clips: Sequence[Clip], noise_manifest: Path | None,
                 snrs: Sequence[float | None] = SNRS_DB, denoised: bool = True) -> TestAudio:
    from training.ds2.data import noise_bank
    from training.ds2.evaluate import NOISE_SEED, noisy

    bank = noise_bank(noise_manifest) if noise_manifest and noise_manifest.exists() else None
    clean = [load_audio(c.audio) for c in clips]
    audio = {condition_name(snr): [noisy(x, snr, bank, i, NOISE_SEED) for i, x in enumerate(clean)]
             for snr in snrs}
    if denoised:
        audio |= {f"{name}+nr": [denoise(x) for x in samples] for name, samples in list(audio.items())}
    return TestAudio(tuple(clips), audio)


def cer_table(transcribe: Callable[[np.ndarray], str], test: TestAudio,
              denoised: bool = False) -> dict[str, float]:
    """``{"clean": cer, "snr_10": cer, ..., "clean+nr": cer, ...}`` for one STT model."""
    from training.korean import cer

    refs = [c.text for c in test.clips]
    return {condition: round(cer(refs, [transcribe(x) for x in test.audio[condition]]), 4)
            for condition in test.conditions(denoised)}


@dataclass(frozen=True)
class VoiceScore:
    """Voice tagging against the speaker's gender: ``unknown`` answers count as misses."""

    accuracy: float
    f1_macro: float
    decided: float  # share of utterances given a voice (not unknown)
    accuracy_decided: float  # accuracy among those

    def to_json(self) -> dict:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


def voice_score(truth: Sequence[str], answers: Sequence[str]) -> VoiceScore:
    truth_a, answers_a = np.asarray(truth), np.asarray(answers)
    correct = truth_a == answers_a
    decided = answers_a != "unknown"
    f1s = []
    for voice in VOICES:
        tp = float(np.sum(correct & (truth_a == voice)))
        predicted, actual = float(np.sum(answers_a == voice)), float(np.sum(truth_a == voice))
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    n = max(1, truth_a.size)
    return VoiceScore(float(correct.sum() / n), float(np.mean(f1s)), float(decided.sum() / n),
                      float(correct[decided].mean()) if decided.any() else 0.0)


def voice_table(tag: Callable[[np.ndarray], str], test: TestAudio,
                denoised: bool = True) -> dict[str, dict]:
    """``{"clean": VoiceScore json, "clean+nr": ..., "snr_10": ...}`` for one tagger."""
    truth = [c.gender for c in test.clips]
    return {condition: voice_score(truth, [tag(x) for x in test.audio[condition]]).to_json()
            for condition in test.conditions(denoised)}
