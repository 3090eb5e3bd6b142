"""The household match threshold, calibrated on synthetic voices, with its false-accept and
false-reject rates.

Each espeak-ng voice variant speaks at two pitches; each (variant, pitch) is enrolled
from about 30 s of sentences through :func:`edge.household.enrol` (the same VAD as
the runtime) and tested with four other sentences, clean and with home noise
(fan, hum, vacuum, rumble) at 20 and at 10 dB SNR. A trial is genuine when the test
utterance is by the enrolled (variant, pitch), an impostor when it is by another
variant. Same variant at another pitch (one synthetic vocal tract, a different
F0) is reported apart as the hardest impostor, not used for the choice.

The variants are split in two by name: the threshold is the lowest cosine whose
false-accept rate on the first half's clean trials is at most ``--far``; the
rates reported are those of the second half at that threshold. espeak-ng
variants share one synthesiser, so its impostors sound more alike than two
people do: the false-accept rate here is a pessimistic figure.

The voice-change distance is calibrated the same way: segments of two sentences
0.12 s apart (a reply faster than the VAD's hangover), either by two different
variants (a change) or by one variant whose pitch rises from its low to its high
setting (no change). The threshold is the lowest distance that cuts at most
``--false-cut`` of one draw's no-change segments; the rates reported are those
of a second draw at that threshold.

Example:
    talkratio-train speaker-eval --model edge/assets/speaker.int8.onnx --out runs/speaker/eval.json --write
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from edge.audio import SAMPLE_RATE
from training.speaker_typed import DEFAULT_TYPED_FRR
from training.synth import Speaker, synthesize

log = logging.getLogger(__name__)

DEFAULT_SPEED_WPM = 160
PITCHES = {"female": (45, 70), "male": (25, 50)}  # espeak -p: two voices per variant
ENROL_SECONDS = 32.0  # sentences are added until this much audio (about 30 s of talk)
TESTS_PER_SPEAKER = 4
CONDITIONS = {"clean": None, "20dB": 20.0, "10dB": 10.0}  # home noise SNR of the test utterances
NOISES = ("fan", "hum", "vacuum", "rumble")  # no speech in them: a speech noise is a speaker
GAP_S = 0.4  # silence between enrolment sentences
# 5 %: at 1 % (cosine 0.85) most utterances in 10-20 dB noise were rejected; the voice
# type ("other" for loudspeakers, "child") is a second guard against a false parent
DEFAULT_FAR = 0.05


def espeak_speech(
    text: str, variant: str, pitch: int, speed: int = DEFAULT_SPEED_WPM
) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``ko+variant`` at ``-p pitch``: 16 kHz float32, trimmed."""
    speaker = Speaker(f"eval_{variant}_{pitch}", "unknown", 0, variant, pitch, speed, 0.0)
    return synthesize(text, speaker)


@dataclass(frozen=True)
class Voice:
    variant: str
    pitch: int
    half: int  # 0: chooses the threshold, 1: reports the rates


def voices() -> list[Voice]:
    from training.synth import variant_genders

    genders = variant_genders()
    ordered = sorted(genders, key=lambda v: (genders[v], v.lower()))
    return [
        Voice(variant, pitch, i % 2)
        for i, variant in enumerate(ordered)
        for pitch in PITCHES[genders[variant]]
    ]


def _noisy(speech: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    from training import noise

    if snr_db is None:
        return speech
    make = getattr(noise, str(rng.choice(NOISES)))
    return noise.mix_at_snr(speech, make(speech.size, rng), snr_db)


def _enrolment_audio(voice: Voice, sentences: list[str]) -> np.ndarray:
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    parts, total = [gap], 0
    for text in sentences:
        speech = espeak_speech(text, voice.variant, voice.pitch)
        parts += [speech, gap]
        total += speech.size + gap.size
        if total >= ENROL_SECONDS * SAMPLE_RATE:
            break
    return np.concatenate(parts)


def embed_voices(encoder, bank: list[str], seed: int):
    """``(voices, voiceprints (V, D), tests (V, C, K, D))``, C in :data:`CONDITIONS` order."""
    from edge.household import enrol

    rng = np.random.default_rng(seed)
    found = voices()
    prints, tests = [], []
    for voice in found:
        chosen = [bank[i] for i in rng.choice(len(bank), 24, replace=False)]
        audio = _enrolment_audio(voice, chosen[TESTS_PER_SPEAKER:])
        prints.append(enrol("mother", [audio], encoder).embedding)
        clips = [espeak_speech(t, voice.variant, voice.pitch) for t in chosen[:TESTS_PER_SPEAKER]]
        tests.append(
            [[encoder.embed(_noisy(c, snr, rng)) for c in clips] for snr in CONDITIONS.values()]
        )
        log.info("%s -p %d enrolled", voice.variant, voice.pitch)
    return found, np.stack(prints), np.asarray(tests, dtype=np.float32)


def trial_scores(found: list[Voice], prints: np.ndarray, tests: np.ndarray, half: int) -> dict:
    """Cosines of ``half``'s trials: ``{"genuine", "impostor", "same_variant"}`` x condition."""
    kinds = ("genuine", "impostor", "same_variant")
    scores = {kind: {condition: [] for condition in CONDITIONS} for kind in kinds}
    members = [i for i, v in enumerate(found) if v.half == half]
    for i in members:
        for j in members:
            same_voice = i == j
            same_variant = found[i].variant == found[j].variant
            kind = "genuine" if same_voice else "same_variant" if same_variant else "impostor"
            for c, condition in enumerate(CONDITIONS):
                scores[kind][condition] += (tests[j, c] @ prints[i]).tolist()
    return scores


def choose_threshold(impostor: np.ndarray, far: float) -> float:
    """The lowest cosine (to 3 decimals) at which at most ``far`` of impostors are accepted."""
    for threshold in np.arange(0.0, 1.0005, 0.001):
        if np.mean(impostor >= threshold) <= far:
            return round(float(threshold), 3)
    return 1.0


def rates(scores: dict, threshold: float) -> dict:
    """False accepts and false rejects at ``threshold`` per condition, and the trial counts."""
    out = {}
    for condition in CONDITIONS:
        genuine = np.asarray(scores["genuine"][condition])
        impostor = np.asarray(scores["impostor"][condition])
        same = np.asarray(scores["same_variant"][condition])
        out[condition] = {
            "far": round(float(np.mean(impostor >= threshold)), 4),
            "frr": round(float(np.mean(genuine < threshold)), 4),
            "far_same_variant": round(float(np.mean(same >= threshold)), 4),
            "genuine_trials": int(genuine.size),
            "impostor_trials": int(impostor.size),
        }
    return out


CHANGE_SEGMENTS = 40  # per draw: as many changes as single voices
REPLY_GAP_S = 0.12
DEFAULT_FALSE_CUT = 0.05


def _change_segment(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, float]:
    pause = np.zeros(int(REPLY_GAP_S * SAMPLE_RATE), np.float32)
    return np.concatenate([first, pause, second]), (first.size + pause.size / 2) / SAMPLE_RATE


def _strongest(encoder, samples: np.ndarray) -> tuple[float, float]:
    """``(time, distance)`` of the strongest change the runtime would consider."""
    from edge.pitch import track_pitch
    from edge.voice_change import FRAME_S, VoiceChangeOptions, strongest_change, unvoiced_gaps

    options = VoiceChangeOptions()
    track = track_pitch(samples)
    gaps = [g * FRAME_S for g in unvoiced_gaps(track.voiced, round(options.min_gap_ms / 10))]
    windows = encoder.embed_windows(samples, options.window_s, options.hop_s)
    found = strongest_change(windows, gaps, 0.0, samples.size / SAMPLE_RATE)
    return found if found is not None else (-1.0, 0.0)


def change_draw(encoder, bank: list[str], seed: int) -> dict:
    """Strongest-change distances of changing and single-voice segments (one draw)."""
    from training.synth import variant_genders

    rng = np.random.default_rng(seed)
    genders = variant_genders()
    names = sorted(genders)
    out = {"cross_gender": [], "same_gender": [], "rising_pitch": []}
    for _ in range(CHANGE_SEGMENTS):
        a, b = rng.choice(names, 2, replace=False)
        texts = rng.choice(bank, 2, replace=False)
        pa, pb = PITCHES[genders[a]], PITCHES[genders[b]]
        first = espeak_speech(texts[0], a, int(rng.choice(pa)))
        x, truth = _change_segment(first, espeak_speech(texts[1], b, int(rng.choice(pb))))
        time_s, distance = _strongest(encoder, x)
        kind = "same_gender" if genders[a] == genders[b] else "cross_gender"
        out[kind].append((distance, abs(time_s - truth)))
        low, high = espeak_speech(texts[0], a, min(pa)), espeak_speech(texts[1], a, max(pa) + 20)
        out["rising_pitch"].append((_strongest(encoder, _change_segment(low, high)[0])[1], 0.0))
    return out


def change_rates(draw: dict, threshold: float) -> dict:
    report = {}
    for kind, found in draw.items():
        distances = np.array([d for d, _ in found])
        cut = distances >= threshold
        entry = {"segments": int(distances.size), "cut": round(float(cut.mean()), 4)}
        if kind != "rising_pitch" and cut.any():
            errors = np.array([e for _, e in found])[cut]
            entry["within_0.15s"] = round(float((errors <= 0.15).mean()), 4)
        report[kind] = entry
    return report


def calibrate_change(encoder, bank: list[str], false_cut: float, seed: int) -> dict:
    chosen_on, held_out = change_draw(encoder, bank, seed), change_draw(encoder, bank, seed + 1)
    single = np.array([d for d, _ in chosen_on["rising_pitch"]])
    threshold = choose_threshold(single, false_cut)
    return {
        "change_distance": threshold,
        "target_false_cut": false_cut,
        "chosen_on": change_rates(chosen_on, threshold),
        "held_out": change_rates(held_out, threshold),
        "data": f"espeak-ng ko variants, two sentences {REPLY_GAP_S} s apart: two variants "
        "(change) or one variant rising from its low to its high pitch (no change)",
    }


KOKORO_ENROL_SENTENCES = 10  # about 25 s of Kokoro speech
KOKORO_TESTS = 3


def kokoro_check(encoder, bank: list[str], threshold: float, seed: int) -> dict:
    """False accepts / rejects at ``threshold`` among Kokoro's five recorded-voice timbres
    (each pure voice a speaker; not used to choose the threshold)."""
    from edge.household import enrol
    from training.kokoro import FEMALE_VOICES, MALE_VOICE, KokoroSpeaker, synthesize

    rng = np.random.default_rng(seed)
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    prints, tests = [], []
    for voice in (*FEMALE_VOICES, MALE_VOICE):
        speaker = KokoroSpeaker(f"eval_{voice}", "", 0, ((voice, 1.0),), 1.0)
        texts = rng.choice(bank, KOKORO_ENROL_SENTENCES + KOKORO_TESTS, replace=False)
        enrolment = [x for t in texts[KOKORO_TESTS:] for x in (synthesize(t, speaker), gap)]
        prints.append(enrol("mother", [np.concatenate(enrolment)], encoder).embedding)
        tests.append([encoder.embed(synthesize(t, speaker)) for t in texts[:KOKORO_TESTS]])
        log.info("kokoro %s enrolled", voice)
    scores = np.einsum(
        "ikd,jd->ijk", np.asarray(tests), np.asarray(prints)
    )  # test voice i, print j
    same = np.eye(len(prints), dtype=bool)
    genuine, impostor = scores[same].ravel(), scores[~same].ravel()
    return {
        "voices": len(prints),
        "far": round(float(np.mean(impostor >= threshold)), 4),
        "frr": round(float(np.mean(genuine < threshold)), 4),
        "genuine_trials": int(genuine.size),
        "impostor_trials": int(impostor.size),
    }


COST_SAMPLE = Path(__file__).resolve().parents[1] / "edge" / "assets" / "samples" / "household.wav"
COST_REPEATS = 3


def pipeline_cost(model: Path, sample: Path = COST_SAMPLE) -> dict:
    """CPU seconds per audio second of ``analyze_file`` on ``sample`` (bundled STT, voice and
    VAD models, one thread, best of 3), with the speaker model at ``model`` and without one.

    ``time.process_time`` counts every thread of this process and not the time spent
    waiting for a shared CPU.
    """
    import time

    from edge.audio import load_audio
    from edge.pipeline import analyze_file
    from edge.recognition import load_recognizers

    audio_s = load_audio(sample).size / SAMPLE_RATE
    cost = {"sample": sample.name, "audio_s": round(audio_s, 1)}
    for label, speaker_path in (("with_speaker_rtf", model), ("without_speaker_rtf", None)):
        recognizers = load_recognizers(threads=1, speaker_path=speaker_path)
        if speaker_path is None:
            recognizers.speaker = None
        best = float("inf")
        for _ in range(COST_REPEATS + 1):  # the first run warms the sessions up
            start = time.process_time()
            analyze_file(sample, recognizers)
            best = min(best, time.process_time() - start)
        cost[label] = round(best / audio_s, 4)
    return cost


def calibrate(
    model: Path, far: float, false_cut: float, seed: int, kokoro: bool = False,
    typed_frr: float | None = None,
) -> dict:  # fmt: skip
    """``{"household_match": ..., "voice_change": ...}`` for the speaker model at ``model``;
    with ``typed_frr``, also the voice-typed threshold (:mod:`training.speaker_typed`)."""
    from edge.speaker import SpeakerEncoder
    from training.sentences import is_held_out, load_bank

    encoder = SpeakerEncoder(model)
    bank = [s for s in load_bank() if not is_held_out(s) and len(s) >= 12]
    match = calibrate_match(encoder, bank, far, seed)
    if kokoro:
        match["kokoro_clean"] = kokoro_check(encoder, bank, match["match_threshold"], seed)
    if typed_frr is not None:
        from training.speaker_typed import calibrate_typed

        match["typed"] = calibrate_typed(encoder, bank, typed_frr, match["match_threshold"], seed)
    return {
        "household_match": match,
        "voice_change": calibrate_change(encoder, bank, false_cut, seed),
        "cost": pipeline_cost(model),  # of this machine: printed, not written into the model
    }


def calibrate_match(encoder, bank: list[str], far: float, seed: int) -> dict:
    found, prints, tests = embed_voices(encoder, bank, seed)
    dev = trial_scores(found, prints, tests, 0)
    test = trial_scores(found, prints, tests, 1)
    threshold = choose_threshold(np.asarray(dev["impostor"]["clean"]), far)
    return {
        "match_threshold": threshold,
        "target_far": far,
        "voices": len(found),
        "chosen_on": rates(dev, threshold),
        "held_out": rates(test, threshold),
        "data": f"espeak-ng ko variants x 2 pitches, enrol ~{ENROL_SECONDS:.0f} s, "
        f"{TESTS_PER_SPEAKER} test sentences, clean and in home noise at 20 and 10 dB SNR",
        "seed": seed,
    }


def cli(
    model: Path = typer.Option(None, help="speaker ONNX model (default: the bundled one)"),
    out: Path = typer.Option(None, help="write the figures here as JSON"),
    far: float = typer.Option(
        DEFAULT_FAR, help="clean false-accept rate the threshold is chosen for"
    ),
    false_cut: float = typer.Option(
        DEFAULT_FALSE_CUT, help="share of single-voice segments the change distance may cut"
    ),
    seed: int = typer.Option(0, help="sentence and noise draw"),
    kokoro: bool = typer.Option(
        False, "--kokoro", help="also check the threshold on Kokoro's five voices (minutes)"
    ),
    typed: bool = typer.Option(
        False, "--typed", help="also calibrate the voice-typed threshold on dev voices (minutes)"
    ),
    typed_frr: float = typer.Option(
        DEFAULT_TYPED_FRR, help="noisy/child-directed false-reject rate the typed threshold allows"
    ),
    write: bool = typer.Option(
        False, "--write", help="store the threshold and rates in the model file"
    ),
) -> None:
    """Calibrate the household match threshold of a speaker model on synthetic voices.

    Example: talkratio-train speaker-eval --model edge/assets/speaker.int8.onnx --out runs/speaker/eval.json --write
    """
    from edge.speaker import bundled_speaker_model

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = model if model is not None else bundled_speaker_model()
    if path is None or not Path(path).is_file():
        typer.echo(f"error: speaker model {path} does not exist", err=True)
        raise typer.Exit(2)
    report = calibrate(Path(path), far, false_cut, seed, kokoro, typed_frr if typed else None)
    text = json.dumps(report, indent=2)
    typer.echo(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    if write:
        _write_into_model(Path(path), report)


REPO_ROOT = Path(__file__).resolve().parents[1]
VOICE_MODELS = ("edge/assets/voice.int8.onnx", "benchmarks/models/voice.fp32.onnx")


def follow_speaker_model(old_sha256: str, new_sha256: str, root: Path = REPO_ROOT):
    """Point the repository's voice models trained on ``old_sha256``'s vectors at the same
    speaker model's new file: new metadata, same weights, same vectors."""
    from export.onnx_utils import read_metadata, write_metadata

    for name in VOICE_MODELS:
        voice = root / name
        if voice.is_file() and read_metadata(voice).get("talkratio.speaker_sha256") == old_sha256:
            write_metadata(voice, {"speaker_sha256": new_sha256})
            log.info("%s now names speaker model %s", name, new_sha256[:12])


def _write_into_model(path: Path, report: dict) -> None:
    from edge.onnx_model import file_sha256
    from export.onnx_utils import read_metadata, write_metadata

    old_sha256 = file_sha256(path)

    metrics = json.loads(read_metadata(path).get("talkratio.metrics", "{}"))
    match, change = report["household_match"], report["voice_change"]
    metrics["household_match"] = {k: v for k, v in match.items() if k != "match_threshold"}
    metrics["voice_change"] = {k: v for k, v in change.items() if k != "change_distance"}
    fields = {
        "match_threshold": f"{match['match_threshold']:.3f}",
        "change_distance": f"{change['change_distance']:.3f}",
        "metrics": metrics,
    }
    if "typed" in match:
        fields["match_threshold_typed"] = f"{match['typed']['match_threshold_typed']:.3f}"
    write_metadata(path, fields)
    follow_speaker_model(old_sha256, file_sha256(path))
