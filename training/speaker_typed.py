"""The household's second, voice-typed match threshold, calibrated on held-out dev voices.

The strict threshold (:mod:`training.speaker_eval`) names a parent on the voiceprint
alone, so it is chosen against every impostor and misses a parent talking to the
child or through noise. The typed threshold is used only when the voice type
already agrees with the parent (``female`` for the mother, ``male`` for the
father), so its impostors are voices of the same type: another woman for the
mother, another man for the father, including a TV presenter of that type.

Voices: every espeak-ng variant except the benchmark's scene voices
(:data:`training.synth.SCENE_VARIANTS`), each given its own everyday F0 and
vocal-tract length by WORLD (:mod:`training.voiceconv`), split in two halves by
name; Kokoro's voices except the held-out one are extra impostors. Sentences:
training sentences only (never the held-out ones the scenes speak).

Each voice is enrolled as the benchmark and a user enrol it (about 30 s of
everyday speech in light home noise, through :func:`edge.household.enrol`). Its
test utterances are everyday and child-directed sentences (F0 raised into the
:data:`training.voice.home.CDS_FEMALE_F0_HZ` / ``CDS_MALE_F0_HZ`` band, wider and
slower), clean and in the training noise bank at 10 and 5 dB SNR, and the same
everyday sentences through a loudspeaker (:func:`training.voice.home.loudspeaker`).

A genuine trial is a voice's own noisy or child-directed utterance (its clean
everyday speech is what the strict threshold already names). A same-type
impostor trial is any test utterance of another voice of that type. The typed
threshold is the highest cosine whose false-reject rate on the first half's
genuine trials is at most ``frr``; the rates reported are the second half's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

ENROL_SENTENCES = 12  # about 30 s with pauses, as the benchmark and a user enrol
ENROL_SNR_DB = 25.0  # a quiet room
TESTS_PER_STYLE = 4
NOISY_SNRS_DB = {"clean": None, "10dB": 10.0, "5dB": 5.0}
NOISES = ("fan", "hum", "vacuum", "rumble")  # the training bank's non-speech kinds
EVERYDAY_FORMANT = (0.96, 1.04)
KOKORO_TESTS = 4
DEFAULT_TYPED_FRR = 0.10  # noisy / child-directed utterances of a parent left unnamed
GENDERS = ("female", "male")


@dataclass(frozen=True)
class DevVoice:
    variant: str
    gender: str
    half: int  # 0: chooses the threshold, 1: reports the rates
    f0_hz: float
    formant: float


def dev_voices(rng: np.random.Generator) -> list[DevVoice]:
    """Every espeak-ng variant the benchmark scenes do not use, with its own F0 and tract."""
    from training.synth import SCENE_VARIANTS, variant_genders
    from training.voice.home import draw_adult_f0

    genders = variant_genders()
    out = []
    for gender in GENDERS:
        names = sorted((v for v, g in genders.items() if g == gender and v not in SCENE_VARIANTS),
                       key=str.lower)  # fmt: skip
        for i, variant in enumerate(names):
            f0, formant = draw_adult_f0(gender, rng), rng.uniform(*EVERYDAY_FORMANT)
            out.append(DevVoice(variant, gender, i % 2, f0, float(formant)))
    return out


def _speak(voice: DevVoice, text: str, change) -> np.ndarray:
    from training import synth
    from training.voice.home import ESPEAK_PITCH
    from training.voiceconv import convert

    speaker = synth.Speaker("DEV", voice.gender, 30, voice.variant, ESPEAK_PITCH, 160, 0.0)
    return convert(synth.synthesize(text, speaker), change)


def _everyday(voice: DevVoice):
    from training.voiceconv import VoiceChange

    return VoiceChange(f0_median_hz=voice.f0_hz, formant_scale=voice.formant)


def _child_directed(voice: DevVoice, rng: np.random.Generator):
    from training.voice.home import CDS_FEMALE_F0_HZ, CDS_MALE_F0_HZ, CDS_RANGE, CDS_TEMPO
    from training.voiceconv import VoiceChange

    band = CDS_FEMALE_F0_HZ if voice.gender == "female" else CDS_MALE_F0_HZ
    return VoiceChange(
        f0_median_hz=rng.uniform(*band), f0_range=rng.uniform(*CDS_RANGE),
        formant_scale=voice.formant, tempo=rng.uniform(*CDS_TEMPO),
    )  # fmt: skip


def noisy(x: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    from training import noise

    if snr_db is None:
        return x
    kind = str(rng.choice(NOISES))
    return noise.mix_at_snr(x, noise.home_noise(x.size, rng, kind), snr_db).astype(np.float32)


def enrolment_audio(voice: DevVoice, texts: list[str], rng: np.random.Generator) -> np.ndarray:
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    x = np.concatenate([p for t in texts for p in (_speak(voice, t, _everyday(voice)), pause)])
    return noisy(x, ENROL_SNR_DB, rng)


def test_vectors(encoder, clips: dict[str, list[np.ndarray]], rng) -> dict[str, np.ndarray]:
    """``{condition: (K, D)}``: each style's clips in each noise, and the everyday ones
    through a loudspeaker."""
    from training.voice.home import loudspeaker

    out = {}
    for style, xs in clips.items():
        for name, snr in NOISY_SNRS_DB.items():
            out[f"{style}_{name}"] = np.stack([encoder.embed(noisy(x, snr, rng)) for x in xs])
    out["loudspeaker"] = np.stack([encoder.embed(loudspeaker(x, rng)) for x in clips["everyday"]])
    return out


def embed_dev_voice(encoder, voice: DevVoice, bank: list[str], rng) -> dict:
    """The voice's voiceprints (plain, and from noise-augmented enrolment) and test vectors."""
    from edge.household import enrol
    from edge.speaker import unit

    picks = rng.choice(len(bank), ENROL_SENTENCES + 2 * TESTS_PER_STYLE, replace=False)
    texts = [bank[i] for i in picks]
    audio = enrolment_audio(voice, texts[:ENROL_SENTENCES], rng)
    plain = enrol("mother", [audio], encoder).embedding
    copies = [enrol("mother", [noisy(audio, snr, rng)], encoder).embedding for snr in (10.0, 5.0)]
    tests = texts[ENROL_SENTENCES:]
    clips = {
        "everyday": [_speak(voice, t, _everyday(voice)) for t in tests[:TESTS_PER_STYLE]],
        "cds": [_speak(voice, t, _child_directed(voice, rng)) for t in tests[TESTS_PER_STYLE:]],
    }
    return {
        "print": plain,
        "print_augmented": unit(np.mean([plain, *copies], axis=0)),
        "tests": test_vectors(encoder, clips, rng),
    }


def kokoro_impostors(encoder, bank: list[str], rng) -> dict[str, np.ndarray]:
    """``{gender: (K, D)}``: Kokoro's voices (not the held-out one), clean, in noise and
    through a loudspeaker: impostors from recorded-speaker timbres."""
    from training.kokoro import HELD_OUT_VOICE, MALE_VOICE, TRAIN_FEMALE_VOICES, KokoroSpeaker
    from training.kokoro import synthesize as kokoro_speech
    from training.voice.home import loudspeaker

    out = {g: [] for g in GENDERS}
    for name in (*TRAIN_FEMALE_VOICES, MALE_VOICE):
        assert name != HELD_OUT_VOICE
        gender = "male" if name == MALE_VOICE else "female"
        speaker = KokoroSpeaker(f"dev_{name}", gender, 30, ((name, 1.0),), 1.0)
        for text in rng.choice(bank, KOKORO_TESTS, replace=False):
            x = kokoro_speech(str(text), speaker)
            versions = [x, noisy(x, 10.0, rng), loudspeaker(x, rng)]
            out[gender] += [encoder.embed(v) for v in versions]
        log.info("kokoro %s embedded", name)
    return {g: np.stack(v) for g, v in out.items()}


GENUINE_CONDITIONS = ("everyday_10dB", "everyday_5dB", "cds_clean", "cds_10dB", "cds_5dB")


def typed_scores(voices: list[DevVoice], embedded: list[dict], kokoro: dict, half: int,
                 print_key: str = "print") -> dict:  # fmt: skip
    """Cosines of ``half``'s trials: genuine per condition, same-type impostors per source."""
    genuine = {c: [] for c in ("everyday_clean", *GENUINE_CONDITIONS)}
    impostor = {"espeak": [], "espeak_loudspeaker": [], "kokoro": []}
    members = [i for i, v in enumerate(voices) if v.half == half]
    for i in members:
        voiceprint = embedded[i][print_key]
        for c in genuine:
            genuine[c] += (embedded[i]["tests"][c] @ voiceprint).tolist()
        for j in members:
            if j == i or voices[j].gender != voices[i].gender:
                continue
            for c, vectors in embedded[j]["tests"].items():
                kind = "espeak_loudspeaker" if c == "loudspeaker" else "espeak"
                impostor[kind] += (vectors @ voiceprint).tolist()
        impostor["kokoro"] += (kokoro[voices[i].gender] @ voiceprint).tolist()
    return {"genuine": genuine, "impostor": impostor}


def choose_typed_threshold(genuine: np.ndarray, frr: float) -> float:
    """The highest cosine (to 3 decimals) that rejects at most ``frr`` of ``genuine``."""
    for threshold in np.arange(1.0, -0.0005, -0.001):
        if np.mean(genuine < threshold) <= frr:
            return round(float(threshold), 3)
    return 0.0


def typed_rates(scores: dict, threshold: float) -> dict:
    frr = {c: round(float(np.mean(np.asarray(s) < threshold)), 4)
           for c, s in scores["genuine"].items()}  # fmt: skip
    far = {k: round(float(np.mean(np.asarray(s) >= threshold)), 4)
           for k, s in scores["impostor"].items()}  # fmt: skip
    every = np.concatenate([np.asarray(s) for s in scores["impostor"].values()])
    return {
        "frr": frr,
        "frr_noisy_or_cds": round(float(np.mean(_pooled_genuine(scores) < threshold)), 4),
        "far_same_type": far,
        "far_same_type_all": round(float(np.mean(every >= threshold)), 4),
        "genuine_trials": int(_pooled_genuine(scores).size),
        "impostor_trials": int(every.size),
    }


def _pooled_genuine(scores: dict) -> np.ndarray:
    return np.concatenate([np.asarray(scores["genuine"][c]) for c in GENUINE_CONDITIONS])


def embed_all(encoder, bank: list[str], seed: int) -> tuple[list[DevVoice], list[dict], dict]:
    rng = np.random.default_rng([seed, 9])
    voices = dev_voices(rng)
    embedded = []
    for voice in voices:
        embedded.append(embed_dev_voice(encoder, voice, bank, rng))
        log.info("dev %s (%s, %.0f Hz) embedded", voice.variant, voice.gender, voice.f0_hz)
    return voices, embedded, kokoro_impostors(encoder, bank, rng)


def calibrate_typed(encoder, bank: list[str], frr: float, strict: float, seed: int) -> dict:
    """``{"match_threshold_typed", ...}`` with its rates, and the strict threshold's on the
    same trials, for the plain and the noise-augmented voiceprint."""
    voices, embedded, kokoro = embed_all(encoder, bank, seed)
    report = {"target_frr": frr, "voices": len(voices), "seed": seed}
    for key in ("print", "print_augmented"):
        dev, test = (typed_scores(voices, embedded, kokoro, h, key) for h in (0, 1))
        threshold = choose_typed_threshold(_pooled_genuine(dev), frr)
        report[key] = {
            "match_threshold_typed": threshold,
            "chosen_on": typed_rates(dev, threshold),
            "held_out": typed_rates(test, threshold),
            "strict_held_out": typed_rates(test, strict),
        }
    report["match_threshold_typed"] = report["print"]["match_threshold_typed"]
    report["data"] = (
        "espeak-ng ko variants except the scene voices (WORLD: own F0 and tract), training "
        f"sentences; enrol {ENROL_SENTENCES} sentences at {ENROL_SNR_DB:.0f} dB; "
        f"{TESTS_PER_STYLE} everyday + {TESTS_PER_STYLE} child-directed tests, clean/10/5 dB "
        "training noise, loudspeaker; same-type impostors incl. Kokoro (not the held-out voice)"
    )
    return report
