"""Household scenes: multi-minute family conversations with exact ground truth.

A mother, a father and sometimes a child talk in turns, with natural pauses
(0.3–3 s, now and then a longer silence), optionally a television in the
background, and home noise at a chosen SNR. Speech comes from espeak-ng
utterances of the sentence bank, spoken by voice variants the synthetic corpus
never uses (:data:`training.synth.SCENE_VARIANTS`). Utterances never overlap.

Each scene is a WAV (16 kHz mono 16-bit) and a JSON of the truth beside it:
segments (role, voice, start, end, text, syllables, eojeol) whose boundaries are
the speech itself (espeak's silences and trailing hum trimmed), and the summary of DESIGN.md
computed by the runtime's own :func:`edge.stats.summarize`, so truth and
measurement use one definition. TV speech is listed with role ``tv`` but is not
family talk: it is left out of the summary and reported as ``tv_s``.

Example:
    talkratio-train scenes --out /tmp/scenes --minutes 3 --count 2 --tv --seed 7
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import typer

from edge import stats
from edge.audio import SAMPLE_RATE, save_audio
from edge.hangul import count_eojeol, count_syllables
from edge.utterance import PARENTS
from training import noise as home_noise
from training import synth
from training.sentences import load_bank

log = logging.getLogger(__name__)

GAP_S = (0.3, 3.0)  # ordinary pause between utterances
LONG_GAP_S = (5.5, 10.0)  # a silence long enough to end a conversation (no turn)
LONG_GAP_PROB = 0.06
LEAD_S = (0.5, 1.5)  # silence at the start of a recording
CHILD_SHARE = 0.25  # share of utterances by the child, when there is one
CHILD_MAX_EOJEOL = 6  # young children speak in short sentences
MOTHER_WEIGHT = (0.35, 0.75)  # per scene: chance that the next adult utterance is the mother's
REPLY_PROB = 0.65  # chance that the other adult speaks next (a turn)
LEVEL_DB = (-4.0, 2.0)  # per utterance level: distance from the microphone
TV_LEVEL_DB = -12.0  # TV speech relative to family speech power
TV_GAP_S = (0.2, 1.5)
OUTPUT_PEAK = 0.8  # the mixed scene is scaled down to this peak if louder
# the truth's speech: 10 ms pieces within 30 dB of the clip's loudest. synth trims a clip at
# 40 dB, which keeps the flat hum some female and child espeak-ng voices leave after the last
# word (100-140 ms at 30-37 dB below the voice): 3 % of a mother's seconds, 0.1 % of a
# father's, counted as speech. 30 dB is the knee: 25 dB cuts only 0.6 % more
# (python -m benchmarks.vad_dev --truth-table)
TRUTH_TRIM_DB = 30.0
ROLES = {"mother": "female", "father": "male", "child": "child"}


@dataclass(frozen=True)
class SceneOptions:
    """What ``talkratio-train scenes`` makes."""

    minutes: float = 5.0
    count: int = 1
    snr_db: float = 20.0  # home noise power vs family speech power, over speech samples
    child: bool = True
    tv: bool = False
    seed: int = 0
    name: str = "scene"  # file stem; NAME.wav when count is 1, else NAME_000.wav, ...


@dataclass(frozen=True)
class Segment:
    """One utterance of the truth; times in seconds from the start of the file."""

    role: str  # mother, father, child or tv
    voice: str  # female, male or child
    start: float
    end: float
    text: str
    syllables: int
    eojeol: int


def cast_for(rng: np.random.Generator, with_child: bool) -> dict[str, synth.Speaker]:
    """Mother, father (and child) from the scene-only voice variants.

    The child never shares the mother's variant, so they differ in more than pitch.
    """
    cast = {}
    for role, voice in ROLES.items():
        if role == "child" and not with_child:
            continue
        taken = {s.variant for s in cast.values()}
        variants = [v for v in synth.variants_for(voice, scenes=True) if v not in taken]
        cast[role] = synth.make_speaker(f"SCENE_{role.upper()}", voice, variants, rng)
    return cast


def sentence_pools() -> dict[str, list[str]]:
    """Sentences each role says: children address their parents, parents each other's roles."""
    bank = load_bank()
    child = [s for s in bank if _sounds_like_a_child(s) and count_eojeol(s) <= CHILD_MAX_EOJEOL]
    grown = [s for s in bank if not _sounds_like_a_child(s)]
    return {
        "mother": [s for s in grown if not s.startswith("아빠가")],
        "father": [s for s in grown if not s.startswith("엄마가")],
        "child": child,
    }


def _sounds_like_a_child(sentence: str) -> bool:
    """Calls a parent (엄마, / 아빠,) or speaks politely up (…요) without naming a parent as subject."""
    if sentence.startswith(("엄마가", "아빠가", "엄마도", "아빠도")):
        return False
    return sentence.startswith(("엄마,", "아빠,")) or sentence.rstrip(".?!").endswith("요")


def next_role(previous: str | None, roles: list[str], mother_weight: float, rng) -> str:
    """Who speaks next: the child sometimes, else often the other adult (a reply)."""
    if "child" in roles and rng.random() < CHILD_SHARE:
        return "child"
    if previous in ("mother", "father") and rng.random() < REPLY_PROB:
        return "father" if previous == "mother" else "mother"
    return "mother" if rng.random() < mother_weight else "father"


def family_track(
    cast: dict[str, synth.Speaker], n_samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[Segment]]:
    """Utterances placed one after another with pauses, until the recording is full."""
    pools = sentence_pools()
    mother_weight = float(rng.uniform(*MOTHER_WEIGHT))
    track = np.zeros(n_samples, np.float32)
    segments: list[Segment] = []
    t = rng.uniform(*LEAD_S)
    role = None
    while True:
        role = next_role(role, list(cast), mother_weight, rng)
        text = pools[role][int(rng.integers(len(pools[role])))]
        speech = synth.synthesize(text, cast[role])
        start = int(t * SAMPLE_RATE)
        if start + speech.size > n_samples:
            return track, segments
        level = rng.uniform(*LEVEL_DB)
        track[start : start + speech.size] += home_noise.apply_gain(speech, level)
        voice_start, voice_end = synth.speech_bounds(speech, TRUTH_TRIM_DB)
        segments.append(_segment(role, ROLES[role], start + voice_start, voice_end - voice_start, text))
        long_pause = rng.random() < LONG_GAP_PROB
        t = (start + speech.size) / SAMPLE_RATE + rng.uniform(
            *(LONG_GAP_S if long_pause else GAP_S)
        )


def _segment(role: str, voice: str, start: int, length: int, text: str) -> Segment:
    return Segment(
        role,
        voice,
        round(start / SAMPLE_RATE, 3),
        round((start + length) / SAMPLE_RATE, 3),
        text,
        count_syllables(text),
        count_eojeol(text),
    )


def tv_track(n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Segment]]:
    """A television: two presenters talking without pause over music, through a small speaker."""
    bank = load_bank()
    presenters = [
        synth.make_speaker(f"TV_{g}", g, synth.variants_for(g), rng) for g in ("female", "male")
    ]
    track = np.zeros(n_samples, np.float32)
    segments: list[Segment] = []
    t = 0.0
    while True:
        speaker = presenters[int(rng.integers(2))]
        text = bank[int(rng.integers(len(bank)))]
        speech = synth.synthesize(text, speaker)
        start = int(t * SAMPLE_RATE)
        if start + speech.size > n_samples:
            break
        track[start : start + speech.size] += speech
        segments.append(_segment("tv", speaker.gender, start, speech.size, text))
        t = (start + speech.size) / SAMPLE_RATE + rng.uniform(*TV_GAP_S)
    music = home_noise.tv(n_samples, rng) * np.float32(0.3 * np.sqrt(home_noise.power(track)))
    return home_noise.small_speaker(track) + music, segments


def speech_mask(segments: list[Segment], n_samples: int) -> np.ndarray:
    """Boolean ``(n_samples,)``: true inside the given segments."""
    mask = np.zeros(n_samples, bool)
    for s in segments:
        mask[int(s.start * SAMPLE_RATE) : int(s.end * SAMPLE_RATE)] = True
    return mask


def truth_summary(segments: list[Segment]) -> dict:
    """DESIGN.md's summary of the family's talk, by the runtime's own statistics."""
    family = [s for s in segments if s.role != "tv"]
    spans = [
        stats.TalkSpan(s.start, s.end, s.voice, s.syllables, s.eojeol, _speaker(s.role))
        for s in family
    ]
    return stats.summarize(spans).to_json()


def _speaker(role: str) -> str | None:
    return role if role in PARENTS else None


def make_scene(options: SceneOptions, index: int) -> tuple[np.ndarray, dict]:
    """One scene: ``(samples (n,) float32, truth dict)``."""
    rng = np.random.default_rng([options.seed, index])
    n = int(options.minutes * 60 * SAMPLE_RATE)
    cast = cast_for(rng, options.child)
    family, segments = family_track(cast, n, rng)
    active = speech_mask(segments, n)
    tv, tv_segments = tv_part(family[active], n, rng) if options.tv else (0.0, [])
    noise = _household_noise(n, rng)
    mixed = home_noise.mix_at_snr(family, noise, options.snr_db, active) + tv
    mixed *= np.float32(min(1.0, OUTPUT_PEAK / max(float(np.abs(mixed).max()), 1e-6)))
    truth = _truth(options, cast, segments, tv_segments, n)
    return mixed.astype(np.float32), truth


def tv_part(
    family_speech: np.ndarray, n_samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[Segment]]:
    """The TV track set :data:`TV_LEVEL_DB` under the family's speech power."""
    tv, segments = tv_track(n_samples, rng)
    gain_db = TV_LEVEL_DB + home_noise.snr_db(family_speech, tv)  # tv power -> target power
    return home_noise.apply_gain(tv, gain_db), segments


def _household_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A steady background (hum, fan or rumble) with another kind under it."""
    main = home_noise.home_noise(n_samples, rng, str(rng.choice(["fan", "hum", "rumble"])))
    under = home_noise.home_noise(n_samples, rng, str(rng.choice(["rumble", "babble", "fan"])))
    return main + np.float32(0.4) * under


def _truth(
    options: SceneOptions,
    cast: dict[str, synth.Speaker],
    segments: list[Segment],
    tv_segments: list[Segment],
    n_samples: int,
) -> dict:
    all_segments = sorted(segments + tv_segments, key=lambda s: s.start)
    return {
        "duration_s": round(n_samples / SAMPLE_RATE, 3),
        "sample_rate": SAMPLE_RATE,
        "snr_db": options.snr_db,
        "tv": bool(tv_segments),
        "cast": {role: asdict(s) for role, s in cast.items()},
        "segments": [asdict(s) for s in all_segments],
        "summary": truth_summary(segments),
        "tv_s": round(sum(s.end - s.start for s in tv_segments), 3),
        "overlaps": 0,  # utterances are placed one after another; none overlap
        "options": asdict(options),
    }


def scene_stem(options: SceneOptions, index: int) -> str:
    return options.name if options.count == 1 else f"{options.name}_{index:03d}"


def write_scenes(out_dir: str | Path, options: SceneOptions) -> list[Path]:
    """Write ``options.count`` scenes as WAV + truth JSON; return the WAV paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(options.count):
        samples, truth = make_scene(options, index)
        stem = scene_stem(options, index)
        save_audio(out / f"{stem}.wav", samples)
        truth = {"file": f"{stem}.wav", **truth}
        (out / f"{stem}.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1))
        log.info("wrote %s (%d segments)", out / f"{stem}.wav", len(truth["segments"]))
        written.append(out / f"{stem}.wav")
    return written


def cli(
    out: Path = typer.Option(..., "--out", help="Folder to write the scenes into."),
    minutes: float = typer.Option(5.0, help="Length of each scene in minutes."),
    count: int = typer.Option(1, help="How many scenes to make."),
    snr: float = typer.Option(
        20.0, "--snr", help="Home noise level: SNR in dB against the speech."
    ),
    child: bool = typer.Option(True, "--child/--no-child", help="Include a child's voice."),
    tv: bool = typer.Option(False, "--tv/--no-tv", help="A television talking in the background."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same scenes."),
    name: str = typer.Option("scene", help="File name stem (NAME.wav, or NAME_000.wav ...)."),
) -> None:
    """Make household recordings of a family conversation with ground truth JSON.

    Example: talkratio-train scenes --out /tmp/scenes --minutes 3 --count 2 --tv --seed 7
    """
    if minutes <= 0 or count < 1:
        typer.echo("Error: --minutes must be positive and --count at least 1.", err=True)
        raise typer.Exit(2)
    options = SceneOptions(minutes, count, snr, child, tv, seed, name)
    for path in write_scenes(out, options):
        summary = json.loads(path.with_suffix(".json").read_text())["summary"]
        typer.echo(f"{path}  mother_share={summary['mother_share']}  turns={summary['turns']}")
