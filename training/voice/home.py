"""Home-like voice-type data: adults to a child, children, TV and radio, pitch decoupled from label.

Every utterance is espeak-ng speech (:mod:`training.synth`) changed with the
WORLD vocoder (:mod:`training.voiceconv`):

- ``female`` / ``male`` adults at a median F0 drawn wide on purpose (men up to
  250 Hz, women down to 140 Hz) with a vocal tract near their own;
- adults speaking to a child (``cds``): raised (women 260-400 Hz), wider,
  slower pitch, still labelled as the adult;
- ``child``: F0 250-450 Hz and formants raised together (a shorter vocal
  tract), faster, short sentences;
- ``other``: any of the above played by a loudspeaker (:func:`loudspeaker`:
  music bed, compression, codec-like quantisation, band limit, cabinet
  resonances, room).

F0 overlaps across every class, so no class is learnable from pitch alone.
Voices, sentences and noise are split: ``test`` uses voices (the scene-only
espeak variants) and sentences (the bank's held-out subset) that ``train``
never has, and :func:`fresh_noise`, a noise family the training noise bank
does not make.

Example:
    talkratio-train voice-data --out data/voicetype/home --train 1600 --dev 300 --test 500
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import typer
from scipy.signal import istft, lfilter, stft

from edge.audio import SAMPLE_RATE, load_audio
from edge.hangul import count_eojeol
from training import noise as home_noise
from training import synth
from training.sentences import is_held_out, load_bank
from training.voiceconv import VoiceChange, convert

log = logging.getLogger(__name__)

LABELS = ("female", "male", "child", "other")
# share of each style in a split: adults (plain, to a child), children, loudspeakers
STYLE_SHARES = {
    ("female", "adult"): 0.15,
    ("female", "cds"): 0.13,
    ("male", "adult"): 0.15,
    ("male", "cds"): 0.07,
    ("child", "child"): 0.25,
    ("other", "tv"): 0.25,
}
SPLIT_VARIANTS = {  # espeak-ng variants per split; test = the scene-only voices
    "dev": frozenset({"f4", "steph3", "m6", "Storm", "Hugo"}),
    "test": synth.SCENE_VARIANTS,
}
FEMALE_F0_HZ = (140.0, 260.0)  # adult women, wider than real medians on purpose
MALE_F0_HZ = (85.0, 250.0)  # adult men, up to 250 Hz so pitch never decides alone
LOW_SHARE = 0.7  # chance an adult's F0 is drawn from the usual half of its range
USUAL_FEMALE_F0_HZ = (170.0, 250.0)
USUAL_MALE_F0_HZ = (90.0, 160.0)
CDS_FEMALE_F0_HZ = (260.0, 400.0)  # child-directed speech: raised
CDS_MALE_F0_HZ = (140.0, 280.0)
CDS_RANGE = (1.3, 1.9)  # wider contour
CDS_TEMPO = (0.78, 0.95)  # slower
CHILD_F0_HZ = (250.0, 450.0)
CHILD_FORMANT = (1.15, 1.35)  # vocal tract about 15-35 % shorter than the source adult's
CHILD_TEMPO = (1.05, 1.3)
CHILD_MAX_EOJEOL = 5
ADULT_FORMANT = (0.93, 1.07)  # a vocal tract near the espeak voice's own
ADULT_RANGE = (0.8, 1.3)
ADULT_TEMPO = (0.9, 1.1)
ESPEAK_SPEED_WPM = (140, 180)
ESPEAK_PITCH = 50  # WORLD sets the F0 afterwards; espeak's own pitch only seeds the contour


@dataclass(frozen=True)
class ItemSpec:
    """One utterance to make: who, what and how it is changed."""

    index: int
    label: str
    style: str  # adult, cds, child, tv
    variant: str
    speed_wpm: int
    text: str
    change: VoiceChange
    seed: int
    source: str = ""  # a recorded utterance (a Kokoro voice) instead of espeak-ng ``variant``


def split_variants(split: str, gender: str) -> list[str]:
    """espeak-ng variants of ``gender`` (female/male) used by ``split``."""
    pool = [v for v, g in synth.variant_genders().items() if g == gender]
    if split in SPLIT_VARIANTS:
        return [v for v in pool if v in SPLIT_VARIANTS[split]]
    held = set().union(*SPLIT_VARIANTS.values())
    return [v for v in pool if v not in held]


def split_sentences(split: str, short: bool) -> list[str]:
    """Sentences of ``split`` (test: the held-out subset); ``short``: at most 5 eojeol."""
    bank = [s for s in load_bank() if is_held_out(s) == (split == "test")]
    if short:
        bank = [s for s in bank if count_eojeol(s) <= CHILD_MAX_EOJEOL]
    return bank


def draw_adult_f0(gender: str, rng: np.random.Generator) -> float:
    usual = USUAL_FEMALE_F0_HZ if gender == "female" else USUAL_MALE_F0_HZ
    wide = FEMALE_F0_HZ if gender == "female" else MALE_F0_HZ
    return float(rng.uniform(*(usual if rng.random() < LOW_SHARE else wide)))


def draw_change(label: str, style: str, rng: np.random.Generator) -> VoiceChange:
    """The conversion of one utterance of ``label`` spoken in ``style``."""
    if style == "child":
        return VoiceChange(
            f0_range=rng.uniform(1.0, 1.5),
            formant_scale=rng.uniform(*CHILD_FORMANT),
            tempo=rng.uniform(*CHILD_TEMPO),
            f0_median_hz=rng.uniform(*CHILD_F0_HZ),
        )
    if style == "cds":
        band = CDS_FEMALE_F0_HZ if label == "female" else CDS_MALE_F0_HZ
        return VoiceChange(
            f0_range=rng.uniform(*CDS_RANGE),
            formant_scale=rng.uniform(*ADULT_FORMANT),
            tempo=rng.uniform(*CDS_TEMPO),
            f0_median_hz=rng.uniform(*band),
        )
    return VoiceChange(
        f0_range=rng.uniform(*ADULT_RANGE),
        formant_scale=rng.uniform(*ADULT_FORMANT),
        tempo=rng.uniform(*ADULT_TEMPO),
        f0_median_hz=draw_adult_f0(label, rng),
    )


def draw_item(index: int, split: str, seed: int, rng: np.random.Generator) -> ItemSpec:
    """One utterance of ``split``; the loudspeaker class plays any of the other styles."""
    styles = list(STYLE_SHARES)
    label, style = styles[rng.choice(len(styles), p=list(STYLE_SHARES.values()))]
    speaking = (label, style)
    if label == "other":
        speaking = styles[int(rng.integers(len(styles) - 1))]
    source_gender = speaking[0] if speaking[0] != "child" else str(rng.choice(["female", "male"]))
    variants = split_variants(split, source_gender)
    sentences = split_sentences(split, short=speaking[1] == "child")
    return ItemSpec(
        index=index,
        label=label,
        style=style if label == "other" else speaking[1],
        variant=str(rng.choice(variants)),
        speed_wpm=int(rng.integers(*ESPEAK_SPEED_WPM)),
        text=str(sentences[int(rng.integers(len(sentences)))]),
        change=draw_change(speaking[0], speaking[1], rng),
        seed=seed,
    )


def plan(split: str, count: int, seed: int) -> list[ItemSpec]:
    """``count`` utterances of ``split``, deterministic given ``seed``."""
    rng = np.random.default_rng([seed, len(split)])
    return [draw_item(i, split, seed, rng) for i in range(count)]


def recorded_clips(folder: Path) -> list[tuple[Path, str, str, str]]:
    """``(wav, gender, speaker, text)`` of every utterance of an AI-Hub-layout corpus folder
    (``talkratio-train synth --engine kokoro`` writes one)."""
    out = []
    for meta in sorted(Path(folder).rglob("*.json")):
        wav = meta.with_suffix(".wav")
        row = json.loads(meta.read_text(encoding="utf-8")) if wav.is_file() else {}
        who = row.get("녹음자정보", {})
        gender = {"여": "female", "남": "male"}.get(who.get("gender"))
        if gender:
            out.append((wav, gender, who["recorderId"], row["발화정보"]["stt"]))
    return out


def plan_recorded(
    folders: list[Path], seed: int, original_share: float, copies: int = 1
) -> list[ItemSpec]:
    """``copies`` items per recorded clip of ``folders``: its own voice unchanged (``original``,
    a share ``original_share``) or spoken in a home style its gender allows (to a child, as a
    child, on TV)."""
    rng = np.random.default_rng([seed, 99])
    styles = [k for k in STYLE_SHARES if k[0] != "other"]
    clips = [clip for folder in folders for clip in recorded_clips(folder)]
    specs = []
    for wav, gender, speaker, text in clips * copies:
        if rng.random() < original_share:
            label, style, change = gender, "original", VoiceChange()
        else:
            options = [k for k in styles if k[0] in (gender, "child")]
            label, style = options[int(rng.integers(len(options)))]
            change = draw_change(gender if label != "child" else "child", style, rng)
            if rng.random() < STYLE_SHARES[("other", "tv")]:
                label = "other"
        specs.append(ItemSpec(len(specs), label, style, speaker, 0, text, change, seed, str(wav)))
    return specs


def plan_recorded_test(folders: list[Path], seed: int) -> list[ItemSpec]:
    """Every held-out clip twice: its own voice unchanged (the plain female/male test, as many
    utterances as there are clips) and once in a home style."""
    plain = plan_recorded(folders, seed, original_share=1.0)
    styled = plan_recorded(folders, seed, original_share=0.0)
    return [replace(spec, index=i) for i, spec in enumerate(plain + styled)]


# --------------------------------------------------------------------------- loudspeakers


def compress(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Broadcast-style compression: gain above a threshold reduced by a ratio of 3-10."""
    hop = SAMPLE_RATE // 100
    frames = np.pad(x, (0, -x.size % hop)).reshape(-1, hop)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    threshold = np.percentile(level_db, 60) - rng.uniform(0, 10)
    ratio = rng.uniform(3, 10)
    over = np.maximum(level_db - threshold, 0)
    gain = np.repeat(10 ** (-over * (1 - 1 / ratio) / 20), hop)[: x.size]
    return (x * gain).astype(np.float32)


def codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lossy codec's traces: coarse log-magnitude steps, quiet bins dropped, a low-pass."""
    step_db = rng.uniform(1.5, 5.0)
    floor_db = rng.uniform(25, 45)  # bins this far below the frame's loudest are dropped
    cutoff_hz = rng.uniform(4000, 7500)
    hz, _, spec = stft(x, SAMPLE_RATE, nperseg=512)
    mag_db = 20 * np.log10(np.abs(spec) + 1e-9)
    keep = mag_db > mag_db.max(axis=0, keepdims=True) - floor_db
    keep &= (hz < cutoff_hz)[:, None]
    quantised = 10 ** (np.round(mag_db / step_db) * step_db / 20)
    _, y = istft(
        np.where(keep, quantised, 0) * np.exp(1j * np.angle(spec)), SAMPLE_RATE, nperseg=512
    )
    return y[: x.size].astype(np.float32)


def peaking(x: np.ndarray, centre_hz: float, gain_db: float, q: float) -> np.ndarray:
    """One peaking-EQ biquad (the audio EQ cookbook's): a cabinet or panel resonance."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * centre_hz / SAMPLE_RATE
    alpha = np.sin(w) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w), 1 - alpha / a]
    return lfilter(b, den, x).astype(np.float32)


def music_bed(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS music: chords of harmonic tones changing every beat, and a kick drum."""
    t = np.arange(n_samples) / SAMPLE_RATE
    beat_s = 60 / rng.uniform(70, 140)
    x = np.zeros(n_samples)
    for start in np.arange(0, t[-1] + beat_s, 2 * beat_s) if n_samples else []:
        span = (t >= start) & (t < start + 2 * beat_s)
        root = 110 * 2 ** (int(rng.integers(0, 24)) / 12)
        for semitones in (0, 4, 7):
            f = root * 2 ** (semitones / 12)
            x[span] += sum(np.sin(2 * np.pi * k * f * t[span]) / k**1.5 for k in range(1, 5))
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-((t % beat_s) / 0.08))
    return _unit(x + 2 * kick)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.sqrt(np.mean(x**2) + 1e-12)).astype(np.float32)


def loudspeaker(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` as a TV or radio in the room plays it, at ``x``'s RMS."""
    rms = np.sqrt(np.mean(x**2) + 1e-12)
    if rng.random() < 0.7:
        x = x + _unit(music_bed(x.size, rng)) * rms * 10 ** (-rng.uniform(6, 20) / 20)
    x = compress(x, rng)
    if rng.random() < 0.8:
        x = codec(x, rng)
    x = home_noise.band_limit(x, rng.uniform(120, 400), rng.uniform(3500, 7500))
    for _ in range(int(rng.integers(1, 4))):
        x = peaking(x, rng.uniform(150, 4000), rng.uniform(3, 10), rng.uniform(1.5, 6))
    if rng.random() < 0.7:
        x = home_noise.reverberate(x, rng)
    if rng.random() < 0.3:
        x = np.tanh(x / (np.abs(x).max() + 1e-9) * rng.uniform(1.5, 4)).astype(np.float32)
    return _unit(x) * np.float32(rms)


# --------------------------------------------------------------------------- test noise


def clatter(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Kitchen: dishes and cutlery, short decaying band-passed bursts at random times."""
    x = np.zeros(n_samples, np.float32)
    for _ in range(max(1, int(n_samples / SAMPLE_RATE * rng.uniform(2, 8)))):
        length = int(rng.uniform(0.03, 0.25) * SAMPLE_RATE)
        start = int(rng.integers(0, max(1, n_samples - length)))
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.2 * length))
        burst = peaking(burst.astype(np.float32), rng.uniform(1500, 6000), 15, 8)
        x[start : start + length] += burst[: n_samples - start] * rng.uniform(0.3, 1.0)
    return _unit(x)


def water(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A running tap or shower: high band noise, slowly wavering."""
    x = home_noise.band_limit(rng.standard_normal(n_samples).astype(np.float32), 800, 7000)
    wobble = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * np.arange(n_samples) / SAMPLE_RATE)
    return _unit(x * wobble)


def toy(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """An electronic toy: a square-wave melody with gaps."""
    t = np.arange(n_samples) / SAMPLE_RATE
    note_s = rng.uniform(0.12, 0.3)
    notes = 440 * 2 ** (rng.integers(-5, 12, size=int(t[-1] / note_s) + 2) / 12)
    f = notes[(t / note_s).astype(int)]
    on = rng.random(notes.size) < 0.7
    return _unit(np.sign(np.sin(2 * np.pi * f * t)) * on[(t / note_s).astype(int)] + 1e-3)


FRESH_NOISES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "clatter": clatter,
    "water": water,
    "toy": toy,
}


def fresh_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Test-only household noise (kinds training never hears) over a faint hum of the room."""
    kind = str(rng.choice(list(FRESH_NOISES)))
    return _unit(FRESH_NOISES[kind](n_samples, rng) + 0.3 * water(n_samples, rng))


# --------------------------------------------------------------------------- making


def make_audio(spec: ItemSpec) -> np.ndarray:
    """The utterance of ``spec``: espeak-ng (or the ``source`` recording), converted, through a
    loudspeaker for ``other``."""
    if spec.source:
        x = convert(load_audio(spec.source), spec.change)
    else:
        speaker = synth.Speaker(
            "HOME", "female", 30, spec.variant, ESPEAK_PITCH, spec.speed_wpm, 0.0
        )
        x = convert(synth.synthesize(spec.text, speaker), spec.change)
    if spec.label == "other":
        x = loudspeaker(x, np.random.default_rng([spec.seed, spec.index, 7]))
    return x.astype(np.float32)


def write_split(out: Path, split: str, specs: list[ItemSpec]) -> Path:
    """``out/SPLIT.npz`` (int16 audio end to end, offsets) and ``out/SPLIT.jsonl`` (the specs)."""
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for i, spec in enumerate(specs):
        clips.append(np.clip(make_audio(spec) * 32767, -32768, 32767).astype(np.int16))
        if (i + 1) % 100 == 0:
            log.info("%s: %d / %d utterances", split, i + 1, len(specs))
    offsets = np.cumsum([0] + [c.size for c in clips])
    np.savez(out / f"{split}.npz", audio=np.concatenate(clips), offsets=offsets)
    rows = [
        json.dumps({**asdict(s), "change": asdict(s.change)}, ensure_ascii=False) for s in specs
    ]
    (out / f"{split}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out / f"{split}.npz"


def read_split(folder: Path, split: str) -> tuple[list[np.ndarray], list[ItemSpec]]:
    """The clips (float32) and specs :func:`write_split` wrote."""
    data = np.load(folder / f"{split}.npz")
    audio, offsets = data["audio"], data["offsets"]
    clips = [
        audio[a:b].astype(np.float32) / 32768
        for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    specs = []
    for line in (folder / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        specs.append(ItemSpec(**{**row, "change": VoiceChange(**row["change"])}))
    return clips, specs


def cli(
    out: Path = typer.Option(..., "--out", help="Folder for SPLIT.npz + SPLIT.jsonl."),
    train: int = typer.Option(2400, help="Training utterances."),
    dev: int = typer.Option(400, help="Dev utterances (calibration; voices train never has)."),
    test: int = typer.Option(600, help="Test utterances (scene-only voices, held-out sentences)."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same data."),
    kokoro_train: list[Path] = typer.Option(
        None,
        help="Kokoro corpus of training voices: split train_kokoro, in home styles (repeatable).",
    ),
    kokoro_dev: list[Path] = typer.Option(
        None, help="Kokoro corpus of other training-voice blends: split dev_kokoro (repeatable)."
    ),
    kokoro_test: list[Path] = typer.Option(
        None,
        help="Kokoro corpus of held-out voices: split test_kokoro, every clip unchanged and "
        "once in a home style (repeatable).",
    ),
    espeak: bool = typer.Option(True, "--espeak/--no-espeak", help="Make the espeak-ng splits."),
) -> None:
    """Make home-like voice-type utterances: adults, adults to a child, children, TV/radio.

    Example: talkratio-train voice-data --out data/voicetype/home --train 2400
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if min(train, dev, test) < 1:
        typer.echo("Error: every split needs at least one utterance.", err=True)
        raise typer.Exit(2)
    jobs = {}
    if kokoro_test:
        jobs["test_kokoro"] = plan_recorded_test(kokoro_test, seed)
    if kokoro_dev:
        jobs["dev_kokoro"] = plan_recorded(kokoro_dev, seed, original_share=0.5)
    if kokoro_train:
        jobs["train_kokoro"] = plan_recorded(kokoro_train, seed, original_share=0.2, copies=3)
    if espeak:
        jobs.update(
            {s: plan(s, n, seed) for s, n in (("dev", dev), ("test", test), ("train", train))}
        )
    for split, specs in jobs.items():
        path = write_split(out, split, specs)
        typer.echo(f"{path} ({len(specs)} utterances)")
