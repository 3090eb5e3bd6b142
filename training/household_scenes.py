"""Household scenes for judging who is talking: a mother, a father, a child and a TV.

Deterministic given ``(seed, index, split)``. ``split`` ``test`` uses the scene-only
espeak-ng voices and held-out sentences (the benchmark,
:mod:`benchmarks.voice_type`); ``dev`` uses the dev voices and training sentences,
for choosing decision thresholds (:mod:`training.loudspeaker`) without ever
looking at the benchmark's scenes. Each role's voice is WORLD-converted
(:mod:`training.voiceconv`):

- half of the mother's utterances are to the child: 300-380 Hz, wide, slow;
  the father's to the child: 160-220 Hz;
- the child: formants raised 20-32 %, F0 235-275 Hz in even scenes (under the
  old 280 Hz ceiling) and 300-420 Hz in odd ones;
- the TV: presenters through :func:`training.voice.home.loudspeaker` at -20 to
  -6 dB under the family's speech;
- test-only household noise (:func:`training.voice.home.fresh_noise`) at 5, 10,
  15 and 20 dB SNR against the family's speech.

``engine`` ``kokoro`` casts the same roles with Kokoro-82M voices (from recorded
people) instead of espeak-ng: blends of the held-out ``jf_tebukuro`` for the test
split, of the training voices for dev (:func:`training.kokoro.make_speakers`); the
WORLD conversions, sentences, TV and noise are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.audio import SAMPLE_RATE
from training import noise as home_noise
from training import synth
from training.voice import home
from training.voiceconv import VoiceChange, convert

SNRS_DB = (5.0, 10.0, 15.0, 20.0)
ROLE_WEIGHTS = {"mother": 0.35, "father": 0.28, "child": 0.2, "tv": 0.17}
CDS_SHARE = {"mother": 0.5, "father": 0.4}  # utterances spoken to the child
ENROL_SENTENCES = 12  # about 30 s with pauses: the household needs 20 s of speech
TV_LEVEL_DB = (-20.0, -6.0)
HELD_OUT_KEY = 3  # the held-out TV copies' random stream


@dataclass(frozen=True)
class SceneOptions:
    utterances: int = 36  # per scene
    seed: int = 11
    split: str = "test"  # voices and sentences: test (the scene-only ones) or dev (calibration)
    engine: str = "espeak"  # the voices' synthesiser: espeak (espeak-ng) or kokoro (Kokoro-82M)


@dataclass(frozen=True)
class Utterance:
    role: str
    style: str  # everyday, to_child, child, tv
    seconds: float
    f0_hz: float
    samples: np.ndarray
    # a TV utterance only: the same presenter through loudspeaker settings that training
    # never used (:func:`training.loudspeaker.held_out_loudspeaker`)
    held_out_tv: np.ndarray | None = None


# --------------------------------------------------------------------------- scenes


def cast(
    index: int, rng: np.random.Generator, split: str = "test", engine: str = "espeak"
) -> dict[str, dict]:
    """Per-scene voices: variant (an espeak-ng variant or a Kokoro speaker), base F0 and
    vocal-tract scale of each role."""
    if engine == "kokoro":
        return _kokoro_cast(index, rng, split)
    females = home.split_variants(split, "female")
    males = home.split_variants(split, "male")
    mother = str(rng.choice(females))
    child_source = str(rng.choice([v for v in females + males if v != mother]))
    child_f0 = (235.0, 275.0) if index % 2 == 0 else (300.0, 420.0)
    return {
        "mother": {"variant": mother, "f0": rng.uniform(175, 235), "formant": rng.uniform(0.96, 1.04)},
        "father": {"variant": str(rng.choice(males)), "f0": rng.uniform(95, 140), "formant": rng.uniform(0.96, 1.04)},
        "child": {"variant": child_source, "f0": rng.uniform(*child_f0), "formant": rng.uniform(1.2, 1.32)},
    }  # fmt: skip


def _kokoro_speakers(rng: np.random.Generator, split: str) -> list:
    """A female and a male Kokoro speaker, then another of each: held-out blends for test."""
    from training import kokoro

    return kokoro.make_speakers(2, int(rng.integers(1 << 30)), "SCENE", held_out=split == "test")


def _kokoro_cast(index: int, rng: np.random.Generator, split: str) -> dict[str, dict]:
    mother, father, *others = _kokoro_speakers(rng, split)
    child_f0 = (235.0, 275.0) if index % 2 == 0 else (300.0, 420.0)
    return {
        "mother": {"variant": mother, "f0": rng.uniform(175, 235), "formant": rng.uniform(0.96, 1.04)},
        "father": {"variant": father, "f0": rng.uniform(95, 140), "formant": rng.uniform(0.96, 1.04)},
        "child": {"variant": others[int(rng.integers(2))], "f0": rng.uniform(*child_f0),
                  "formant": rng.uniform(1.2, 1.32)},
    }  # fmt: skip


def change_for(role: str, voice: dict, rng: np.random.Generator) -> tuple[str, VoiceChange]:
    """The style and conversion of one utterance of ``role``."""
    wobble = rng.uniform(0.93, 1.07)
    if role == "child":
        return "child", VoiceChange(
            f0_median_hz=voice["f0"] * wobble, f0_range=rng.uniform(1.0, 1.4),
            formant_scale=voice["formant"], tempo=rng.uniform(1.05, 1.25),
        )  # fmt: skip
    if rng.random() < CDS_SHARE[role]:
        f0 = rng.uniform(300, 380) if role == "mother" else rng.uniform(160, 220)
        return "to_child", VoiceChange(
            f0_median_hz=f0, f0_range=rng.uniform(1.4, 1.8),
            formant_scale=voice["formant"], tempo=rng.uniform(0.8, 0.92),
        )  # fmt: skip
    return "everyday", VoiceChange(
        f0_median_hz=voice["f0"] * wobble, formant_scale=voice["formant"]
    )


def speak(variant, text: str, change: VoiceChange) -> np.ndarray:
    """``text`` in the voice ``variant`` (an espeak-ng variant name or a Kokoro speaker),
    WORLD-converted by ``change``."""
    if not isinstance(variant, str):  # a training.kokoro.KokoroSpeaker
        from training import kokoro

        return convert(kokoro.synthesize(text, variant), change)
    speaker = synth.Speaker("BENCH", "female", 30, variant, home.ESPEAK_PITCH, 160, 0.0)
    return convert(synth.synthesize(text, speaker), change)


def presenter(
    text: str, rng: np.random.Generator, split: str = "test", engine: str = "espeak"
) -> np.ndarray:
    """A TV presenter (any voice of ``split``, adult) in the studio, before any loudspeaker."""
    gender = str(rng.choice(["female", "male"]))
    if engine == "kokoro":
        variant = _kokoro_speakers(rng, split)[0 if gender == "female" else 1]
        return speak(variant, text, VoiceChange(f0_median_hz=home.draw_adult_f0(gender, rng)))
    variant = str(rng.choice(home.split_variants(split, gender)))
    change = VoiceChange(f0_median_hz=home.draw_adult_f0(gender, rng))
    return speak(variant, text, change)


def tv_utterance(text: str, rng: np.random.Generator, options: SceneOptions, key: list[int]):
    """``(through the training loudspeaker chain, through held-out settings)`` of a presenter;
    the held-out copy draws from its own generator (``key``), so adding it changed no scene."""
    from training.loudspeaker import held_out_loudspeaker

    clean = presenter(text, rng, options.split, options.engine)
    held_out = held_out_loudspeaker(clean, np.random.default_rng([options.seed, *key]))
    return home.loudspeaker(clean, rng), held_out


def make_scene(index: int, options: SceneOptions) -> tuple[list[Utterance], dict, float]:
    """``(utterances, cast, tv level dB)`` of scene ``index`` (clean speech, before noise)."""
    rng = np.random.default_rng([options.seed, index])
    voices = cast(index, rng, options.split, options.engine)
    adult_text = home.split_sentences(options.split, short=False)
    child_text = home.split_sentences(options.split, short=True)
    roles = list(ROLE_WEIGHTS)
    out = []
    for k in range(options.utterances):
        role = roles[rng.choice(len(roles), p=list(ROLE_WEIGHTS.values()))]
        pool = child_text if role == "child" else adult_text
        text = str(pool[int(rng.integers(len(pool)))])
        if role == "tv":
            x, held_out = tv_utterance(text, rng, options, [index, k, HELD_OUT_KEY])
            out.append(Utterance(role, "tv", x.size / SAMPLE_RATE, 0.0, x, held_out))
            continue
        style, change = change_for(role, voices[role], rng)
        x = speak(voices[role]["variant"], text, change)
        out.append(Utterance(role, style, x.size / SAMPLE_RATE, change.f0_median_hz, x))
    return out, voices, float(rng.uniform(*TV_LEVEL_DB))


def enrolment_audio(voice: dict, rng: np.random.Generator, split: str = "test") -> np.ndarray:
    """About 30 s of one parent alone in their everyday voice (sentences the scene may not use).

    A fast voice (Kokoro speaks 12 sentences in under 20 s of speech) gets one more sentence
    at a time until the household's own VAD hears the speech an enrolment needs; a voice that
    has it after 12 sentences gets exactly what it got before.
    """
    from edge.household import MIN_ENROL_SPEECH_S
    from edge.segmenter import segment_stream

    pool = home.split_sentences(split, short=False)
    picks = rng.choice(len(pool), ENROL_SENTENCES, replace=False)
    change = VoiceChange(f0_median_hz=voice["f0"], formant_scale=voice["formant"])
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)

    def sentence(i: int) -> np.ndarray:
        return np.concatenate([speak(voice["variant"], pool[i], change), pause])

    def heard() -> float:
        return sum(s.duration for s in segment_stream([np.concatenate(parts)]))

    parts = [sentence(i) for i in picks]
    # more sentences in the pool's order (the scene's random draws stay as they were), and
    # one beyond the minimum: the noise added below can cost the VAD a little speech
    drawn = set(picks.tolist())
    more = (i for i in range(len(pool)) if i not in drawn)
    if heard() < MIN_ENROL_SPEECH_S:  # the usual case has enough: one VAD pass, nothing added
        parts.append(sentence(next(more)))
        while heard() < MIN_ENROL_SPEECH_S:
            parts.append(sentence(next(more)))
        parts.append(sentence(next(more)))
    x = np.concatenate(parts)
    return home_noise.mix_at_snr(x, home.fresh_noise(x.size, rng), 25.0).astype(np.float32)


def _levels(utterances: list[Utterance], snr_db: float) -> tuple[float, float]:
    """``(reference power, noise power)``: the family's mean speech power sets the reference."""
    family = [u.samples for u in utterances if u.role != "tv"]
    reference = float(np.mean([home_noise.power(x) for x in family])) if family else 1e-2
    return reference, reference / 10 ** (snr_db / 10)


def _placed(x: np.ndarray, power: float, noise_power: float, rng) -> np.ndarray:
    """``x`` scaled to ``power`` in fresh household noise of ``noise_power``."""
    x = x * np.float32(np.sqrt(power / max(home_noise.power(x), 1e-12)))
    noise = home.fresh_noise(x.size, rng) * np.float32(np.sqrt(noise_power))
    return np.clip(x + noise, -1, 1).astype(np.float32)


def mix(utterances: list[Utterance], snr_db: float, tv_db: float, rng) -> list[np.ndarray]:
    """Each utterance at its level in the scene's noise: family speech sets the reference power."""
    reference, noise_power = _levels(utterances, snr_db)
    tv_power = reference * 10 ** (tv_db / 10)
    return [
        _placed(u.samples, tv_power if u.role == "tv" else reference, noise_power, rng)
        for u in utterances
    ]


def mix_held_out_tv(utterances: list[Utterance], snr_db: float, tv_db: float, rng) -> list:
    """The TV utterances' held-out loudspeaker copies at the TV's level in the scene's noise
    (None for the family's utterances)."""
    reference, noise_power = _levels(utterances, snr_db)
    tv_power = reference * 10 ** (tv_db / 10)
    return [
        None if u.held_out_tv is None else _placed(u.held_out_tv, tv_power, noise_power, rng)
        for u in utterances
    ]
