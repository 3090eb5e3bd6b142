"""Front ends before the speaker vector, judged by the bundled voice model on held-out Kokoro voices.

Usage::

    .venv/bin/python -m benchmarks.voice_frontend --data data/voicenoise/home

The held-out Kokoro clips left unchanged (split ``test_kokoro``, style
``original``: women are ``jf_tebukuro`` blends no training had) in the same
views as the voice-type test (clean; test-only noise at 10 and 5 dB;
:func:`training.voice.probe.views_of`, same seeds). Each front end changes
what the speaker encoder hears; the figure is female/male balanced accuracy,
and the CPU seconds per second of audio of front end plus vector (one thread).

- ``plain``: what the pipeline does (the vector of the samples as heard);
- ``noisereduce``: stationary spectral gating (the package the pipeline
  already offers for the VAD and STT, :func:`edge.segmenter.denoise`);
- ``mel subtraction``: each mel band's 10th-percentile power subtracted (a
  numpy spectral gate on the encoder's own input, nearly free);
- ``loudest frames``: only the 60 % loudest frames (speech-dominant) embedded.

Writes ``benchmarks/results/voice_frontend.json`` and ``voice_frontend.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE
from edge.segmenter import denoise
from edge.speaker import SpeakerEncoder, unit

RESULTS = Path(__file__).resolve().parent / "results"
SPLIT = "test_kokoro"
NOISE_FLOOR_QUANTILE = 0.1  # a band's noise: its quietest tenth of frames
SUBTRACT_FLOOR = 0.05  # never below 5 % of the band's power (no holes, no musical noise)
LOUDEST_SHARE = 0.6


def mean_vector(encoder: SpeakerEncoder, mels: np.ndarray) -> np.ndarray:
    partials = encoder.mel_partials(mels.astype(np.float32))
    return unit(partials.mean(axis=0)) if partials.size else np.zeros(encoder.size, np.float32)


def front_ends(encoder: SpeakerEncoder) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    def subtracted(x: np.ndarray) -> np.ndarray:
        mels = encoder.mels(x)
        noise = np.quantile(mels, NOISE_FLOOR_QUANTILE, axis=0, keepdims=True)
        return mean_vector(encoder, np.maximum(mels - noise, SUBTRACT_FLOOR * mels))

    def loudest(x: np.ndarray) -> np.ndarray:
        mels = encoder.mels(x)
        energy = mels.sum(axis=1)
        return mean_vector(encoder, mels[energy >= np.quantile(energy, 1 - LOUDEST_SHARE)])

    return {
        "plain": encoder.embed,
        "noisereduce": lambda x: encoder.embed(denoise(x)),
        "mel subtraction": subtracted,
        "loudest frames": loudest,
    }


def measure(data: Path) -> dict:
    from edge.voice import EmbeddingVoiceTagger
    from training.voice import home, probe

    encoder = SpeakerEncoder()
    tagger = EmbeddingVoiceTagger(encoder=encoder)
    clips, specs = home.read_split(data, SPLIT)
    keep = [i for i, s in enumerate(specs) if s.style == "original"]
    truth = np.array([home.LABELS.index(specs[i].label) for i in keep])
    views = [
        probe.views_of(clips[i], SPLIT, np.random.default_rng([0, i, len(SPLIT)])) for i in keep
    ]
    audio_s = sum(v.size for row in views for v in row) / SAMPLE_RATE
    out = {}
    for name, front_end in front_ends(encoder).items():
        start = time.process_time()
        vectors = np.array([[front_end(v) for v in row] for row in views], np.float32)
        cpu_s = time.process_time() - start
        figures = {}
        for k, condition in enumerate(probe.TEST_CONDITIONS):
            guess = np.array(
                [
                    np.argmax(tagger.session.run(["probs"], {"embedding": v[None]})[0])
                    for v in vectors[:, k]
                ]
            )
            figures[condition] = round(probe.balanced_accuracy(truth, guess, [0, 1]), 4)
            figures[f"{condition}_women_called_child"] = round(
                float((guess[truth == 0] == 2).mean()), 4
            )
        out[name] = {
            "female_male_balanced_accuracy": figures,
            "cpu_per_audio_s": round(cpu_s / audio_s, 4),
        }
    return {"split": SPLIT, "utterances": len(keep), "model": tagger.info.sha256[:12], "front_ends": out}  # fmt: skip


def markdown(results: dict) -> str:
    lines = [
        "# Front ends before the speaker vector (`python -m benchmarks.voice_frontend`)",
        "",
        f"{results['utterances']} held-out Kokoro clips left unchanged (`{results['split']}`), "
        f"bundled voice model ({results['model']}); female/male balanced accuracy, in brackets "
        "the share of women called `child`; CPU seconds of front end + vector per audio second.",
        "",
        "| front end | clean | 10 dB | 5 dB | CPU / audio s |",
        "|---|---|---|---|---|",
    ]
    for name, f in results["front_ends"].items():
        ba = f["female_male_balanced_accuracy"]
        cells = [f"{ba[c]} ({ba[c + '_women_called_child']})" for c in ("clean", "10dB", "5dB")]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {f['cpu_per_audio_s']} |")
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="voice-data folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = measure(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "voice_frontend.json").write_text(json.dumps(results, indent=1))
    (args.out / "voice_frontend.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
