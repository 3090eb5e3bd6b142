"""The honest speech-recognition test: sentences, voices and noise that training never met.

- **Sentences** from a separate, hand-written bank in a natural household register
  (``training/data/natural_test.txt``: questions, fragments, names, numbers,
  counting, praise, scolding, reading aloud), kept out of every training corpus
  and language model (a test checks there is no overlap).
- **Voices** held out of training on both synthesisers: the espeak-ng variants
  reserved for the household scenes (never in a corpus), and Kokoro blends built
  on ``jf_tebukuro``, the Kokoro voice training never uses.
- **Noise** of kinds the training noise bank does not have: running water,
  clattering dishes, music, and a television speaking with Kokoro voices.

Output::

    OUT/espeak/HOE_F_0001/HOE_F_0001_000003.wav + .json    (AI-Hub layout)
    OUT/kokoro/HOK_M_0001/...
    OUT/espeak.jsonl, OUT/kokoro.jsonl                      (manifests, DESIGN.md schema)
    OUT/noise/noise.jsonl                                   (the fresh test noise)

Score a model on it, per engine and SNR::

    talkratio-train honest-test --out data/honest
    talkratio-train ds2-eval edge/assets/stt.int8.onnx --manifest data/honest/kokoro.jsonl \\
        --snr 10 --snr 5 --noise data/honest/noise/noise.jsonl
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import typer

from edge.audio import SAMPLE_RATE, save_audio
from training import kokoro, synth
from training import noise as home_noise
from training.korean import normalise
from training.manifest import ManifestEntry, write_manifest

log = logging.getLogger(__name__)

NATURAL_TEST_FILE = "natural_test.txt"  # in training/data/: the honest test's sentences
NATURAL_TRAIN_FILE = "natural_train.txt"  # same register, for training corpora and the LM
ENGINE_PREFIX = {"espeak": "HOE", "kokoro": "HOK"}
TEST_NOISE_KINDS = ("water", "dishes", "music", "kokoro_tv")
TEST_NOISE_CLIP_S = 20.0  # seconds per test noise clip
TEST_NOISE_CLIPS_PER_KIND = 2
TV_CLIP_SENTENCES = 8  # Kokoro sentences spoken on the test TV
NOISE_PEAK = 0.5


def load_natural(file_name: str = NATURAL_TEST_FILE) -> list[str]:
    """Sentences of a natural bank file (``#`` lines are comments)."""
    text = (resources.files("training") / "data" / file_name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same: their Hangul, spacing and punctuation ignored."""
    return re.sub(r"[^가-힣]", "", sentence)


# --------------------------------------------------------------------------- voices


@dataclass(frozen=True)
class HonestOptions:
    """What ``talkratio-train honest-test`` makes."""

    seed: int = 7
    speakers_per_gender: int = 3  # per engine
    sentences: int = 0  # use the first N test sentences (0: all)
    engines: tuple[str, ...] = ("espeak", "kokoro")


def held_out_speakers(engine: str, options: HonestOptions) -> list:
    """Speakers training never heard: scene-only espeak variants, or Kokoro tebukuro blends."""
    prefix, n = ENGINE_PREFIX[engine], options.speakers_per_gender
    if engine == "kokoro":
        return kokoro.make_speakers(n, options.seed, prefix=prefix, held_out=True)
    rng = np.random.default_rng([options.seed, 5])
    return [
        synth.make_speaker(
            f"{prefix}_{code}_{i:04d}", gender, synth.variants_for(gender, True), rng
        )
        for i in range(1, n + 1)
        for gender, code in (("female", "F"), ("male", "M"))
    ]


def make_engine_set(engine: str, out: Path, options: HonestOptions) -> list[ManifestEntry]:
    """Each test sentence once, speakers in turn; resumes from utterances already written."""
    speakers = held_out_speakers(engine, options)
    bank = load_natural()[: options.sentences or None]
    synth_options = synth.SynthOptions(seed=options.seed, engine=engine)
    entries = []
    for index, sentence in enumerate(bank):
        speaker = speakers[index % len(speakers)]
        job = synth.Job(index, speaker, index, sentence, held_out=True)
        made = synth.make_utterance(job, out / engine, synth_options)
        entries.append(
            ManifestEntry(
                audio=str(Path(made.stem).with_suffix(".wav").resolve()),
                text=normalise(sentence) or "",
                duration_s=made.duration_s,
                gender=speaker.gender,
                age=speaker.age,
                speaker=speaker.speaker_id,
                env="synthetic-honest",
                source=engine,
                held_out=True,
            )
        )
    return entries


# --------------------------------------------------------------------------- test noise


def running_water(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A tap running into a sink: bright band noise with fast gurgling amplitude."""
    x = home_noise.shaped_noise(n_samples, rng, home_noise._band(500, 7000, slope=0.2))
    gurgle = home_noise.shaped_noise(n_samples, rng, home_noise._band(4, 30))
    return home_noise._unit_rms(x * np.clip(1.0 + 0.6 * gurgle, 0.1, None))


def dishes(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Dishes and cutlery: sparse bright clinks (decaying ringing tones) over low clatter."""
    x = 0.05 * home_noise.shaped_noise(n_samples, rng, home_noise._band(200, 3000))
    ring = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE  # each clink rings 250 ms
    for start in rng.integers(0, n_samples - ring.size, size=int(n_samples / SAMPLE_RATE * 3)):
        tone = np.sin(2 * np.pi * rng.uniform(1500, 6000) * ring) * np.exp(-ring * 30)
        x[start : start + ring.size] += rng.uniform(0.3, 1.0) * tone
    return home_noise._unit_rms(x)


def music(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A children's song on a speaker: plucked notes of a pentatonic tune with harmonics."""
    beat = int(SAMPLE_RATE * rng.uniform(0.25, 0.45))
    t = np.arange(beat) / SAMPLE_RATE
    scale = 262.0 * 2 ** (np.array([0, 2, 4, 7, 9, 12]) / 12)  # C major pentatonic, Hz
    notes = [
        sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3)) * np.exp(-t * 6)
        for f in rng.choice(scale, size=n_samples // beat + 1)
    ]
    return home_noise._unit_rms(home_noise.small_speaker(np.concatenate(notes)[:n_samples]))


def kokoro_tv(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A TV talking with Kokoro voices (training speakers, training sentences) and a jingle."""
    speakers = kokoro.make_speakers(2, int(rng.integers(1 << 16)))
    bank = load_natural(NATURAL_TRAIN_FILE)
    clips = [
        kokoro.synthesize(str(rng.choice(bank)), speakers[int(rng.integers(len(speakers)))])
        for _ in range(TV_CLIP_SENTENCES)
    ]
    voices = home_noise._talker(clips, n_samples, rng)
    jingle = 0.3 * music(n_samples, rng)
    return home_noise._unit_rms(home_noise.small_speaker(home_noise._unit_rms(voices) + jingle))


TEST_NOISE = {"water": running_water, "dishes": dishes, "music": music, "kokoro_tv": kokoro_tv}


def write_test_noise(out: Path, seed: int) -> Path:
    """The test noise bank ``OUT/noise`` (``noise.jsonl`` as training's banks); kept if present."""
    folder = out / "noise"
    if (folder / "noise.jsonl").is_file():
        return folder / "noise.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 9])
    n, rows = int(TEST_NOISE_CLIP_S * SAMPLE_RATE), []
    for kind in TEST_NOISE_KINDS:
        for i in range(TEST_NOISE_CLIPS_PER_KIND):
            x = TEST_NOISE[kind](n, rng)
            name = f"test_{kind}_{i:02d}.wav"
            save_audio(folder / name, x * np.float32(NOISE_PEAK / max(np.abs(x).max(), 1e-6)))
            rows.append({"audio": name, "duration_s": TEST_NOISE_CLIP_S, "kind": kind})
    (folder / "noise.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "noise.jsonl"


def make_honest_test(out: str | Path, options: HonestOptions) -> dict:
    """Write every engine's utterances and manifest and the test noise; return a summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"noise": str(write_test_noise(out, options.seed))}
    for engine in options.engines:
        entries = make_engine_set(engine, out, options)
        write_manifest(out / f"{engine}.jsonl", entries)
        summary[engine] = {
            "manifest": str(out / f"{engine}.jsonl"),
            "utterances": len(entries),
            "speakers": len({e.speaker for e in entries}),
            "minutes": round(sum(e.duration_s for e in entries) / 60, 2),
        }
        log.info("%s: %d utterances", engine, len(entries))
    return summary


def cli(
    out: Path = typer.Option(..., "--out", help="Folder for the test audio, manifests and noise."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same test."),
    speakers: int = typer.Option(3, help="Held-out speakers per gender and engine."),
    sentences: int = typer.Option(0, help="Use only the first N test sentences (0: all)."),
    engine: list[str] = typer.Option(["espeak", "kokoro"], help="Engines (repeatable)."),
) -> None:
    """Make the honest STT test set: unseen sentences, held-out voices, fresh noise.

    Example: talkratio-train honest-test --out data/honest
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    unknown = [e for e in engine if e not in ENGINE_PREFIX]
    if unknown or speakers < 1 or sentences < 0:
        typer.echo(
            "Error: --engine must be espeak or kokoro, --speakers at least 1, --sentences 0 or more.",
            err=True,
        )
        raise typer.Exit(2)
    options = HonestOptions(seed, speakers, sentences, tuple(engine))
    typer.echo(json.dumps(make_honest_test(out, options), ensure_ascii=False, indent=1))
