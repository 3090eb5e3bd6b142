"""Speech detection in household noise: webrtcvad alone, the neural VAD alone, and both.

``python -m benchmarks.vad`` (a few minutes) writes ``benchmarks/results/vad.json`` and
``vad.md``. The family talk is the project's held-out household scenes
(:func:`training.scenes.family_track`: espeak-ng voices the synthetic corpus never
uses, exact truth); the noise is :mod:`benchmarks.noise_bank`, a test bank kept
apart from training/noise.py (own generators, own seeds, foreign-language speech
for TV and babble). Each family track is mixed with each noise at each SNR (the
noise power against the family's speech power over its speech samples), dry and
in a reverberant room (training.noise.reverberate's synthetic room response on
the family speech: a room, not a noise).

Per detector (``SegmenterOptions.vad``):

- frame recall and precision: the utterances' spans against the truth's speech,
  on a 10 ms grid;
- per-parent seconds: each utterance is credited to the truth speaker it overlaps
  most (so the voice tagger's mistakes do not enter: this measures what the VAD
  gives the statistics); the error is (found - true) / true per scene;
- latency: speaker's last word (truth) -> the VAD's decision (replayed in the live
  capture's 100 ms blocks) -> recognised and stored (recognition and a store write
  timed here for every utterance of one scene, fitted linearly in its length),
  for utterances up to 8 s;
- comma splits: truth sentences with a comma that came out as two utterances;
- RTF on one thread: the detector alone over every scene, and the whole pipeline
  (``analyze_file``, with transcripts) on one scene.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.noise_bank import TEST_BANK_SEED, bank_noise
from edge.audio import SAMPLE_RATE, save_audio
from edge.segmenter import Segment, Segmenter, SegmenterOptions
from edge.sources import LIVE_BLOCK_SECONDS

RESULTS = Path(__file__).resolve().parent / "results"
GRID_S = 0.01  # frame recall/precision on a 10 ms grid
LATENCY_MAX_UTTERANCE_S = 8.0  # the latency target covers utterances up to 8 s
DETECTORS = ("webrtc", "silero", "both")
HEADLINE_NOISES = ("music", "washer", "vacuum", "babble")
EXTRA_NOISES = ("kitchen", "baby", "play", "tv")  # 5 dB, dry: the rest of the test bank
ROLES = ("mother", "father")


@dataclass(frozen=True)
class VadBenchOptions:
    scene_s: float = 120.0
    families: int = 3  # family tracks (each mixed with every noise, SNR and room)
    snrs_db: tuple[float | None, ...] = (None, 20.0, 10.0, 5.0)  # None: no added noise
    noises: tuple[str, ...] = HEADLINE_NOISES
    extra_noises: tuple[str, ...] = EXTRA_NOISES
    detectors: tuple[str, ...] = DETECTORS
    out: Path = RESULTS


@dataclass
class Family:
    speech: np.ndarray
    segments: list  # training.scenes.Segment
    mask: np.ndarray  # truth speech on the 10 ms grid
    roles: np.ndarray  # index into ROLES + 1 of the speaker on the 10 ms grid (0: no parent)


@dataclass(frozen=True)
class Condition:
    noise: str | None
    snr_db: float | None
    reverb: bool

    @property
    def label(self) -> str:
        room = "reverb" if self.reverb else "dry"
        return "clean " + room if self.noise is None else f"{self.noise} {self.snr_db:g} dB {room}"


@dataclass
class Outcome:
    """One detector on one mixed scene."""

    condition: Condition
    family: int
    recall: float
    precision: float
    seconds: dict[str, float]
    true_seconds: dict[str, float]
    waits_s: list[float] = field(default_factory=list)  # last word -> VAD decision
    lengths_s: list[float] = field(default_factory=list)
    commas: int = 0
    comma_splits: int = 0
    vad_cpu_s: float = 0.0
    audio_s: float = 0.0


# --------------------------------------------------------------------------- scenes


def make_families(options: VadBenchOptions, seed: int = TEST_BANK_SEED) -> list[Family]:
    """The family tracks; ``seed`` other than the test bank's gives a development set."""
    from training import scenes

    families = []
    n = int(options.scene_s * SAMPLE_RATE)
    for index in range(options.families):
        rng = np.random.default_rng([seed, 1, index])
        speech, segments = scenes.family_track(scenes.cast_for(rng, True), n, rng)
        roles = np.zeros(int(n / SAMPLE_RATE / GRID_S), np.int8)
        for k, role in enumerate(ROLES, 1):
            roles[_grid_mask([s for s in segments if s.role == role], n)] = k
        families.append(Family(speech, segments, _grid_mask(segments, n), roles))
    return families


def _grid_mask(spans, n_samples: int) -> np.ndarray:
    mask = np.zeros(int(n_samples / SAMPLE_RATE / GRID_S), bool)
    for span in spans:
        mask[int(round(span.start / GRID_S)) : int(round(span.end / GRID_S))] = True
    return mask


def mix(family: Family, condition: Condition, index: int) -> np.ndarray:
    from training.noise import reverberate

    speech = family.speech
    if condition.reverb:
        speech = reverberate(speech, np.random.default_rng([TEST_BANK_SEED, 2, index]))
    if condition.noise is None:
        return speech
    noise = bank_noise(condition.noise, speech.size, seed=index)
    active = np.repeat(family.mask, int(GRID_S * SAMPLE_RATE))
    active = np.pad(active, (0, speech.size - active.size))
    speech_power = float(np.mean(speech[active] ** 2))
    gain = np.sqrt(speech_power / 10 ** (condition.snr_db / 10))  # noise is unit RMS
    mixed = speech + np.float32(gain) * noise
    return (mixed * min(1.0, 0.9 / float(np.abs(mixed).max()))).astype(np.float32)


def conditions(options: VadBenchOptions) -> list[Condition]:
    found = [Condition(None, None, reverb) for reverb in (False, True)]
    for snr in (s for s in options.snrs_db if s is not None):
        found += [Condition(noise, snr, reverb) for noise in options.noises for reverb in (False, True)]
    return found + [Condition(noise, 5.0, False) for noise in options.extra_noises]


# --------------------------------------------------------------------------- one run


def detect(audio: np.ndarray, options: SegmenterOptions) -> tuple[list[Segment], list[float], float]:
    """Segments, the recording time each was decided at (100 ms blocks), and CPU seconds."""
    segmenter, heard, found, decided = Segmenter(options), 0, [], []
    step = int(LIVE_BLOCK_SECONDS * SAMPLE_RATE)
    started = time.process_time()
    for i in range(0, audio.size, step):
        block = audio[i : i + step]
        heard += block.size
        for segment in segmenter.feed(block):
            found.append(segment)
            decided.append(heard / SAMPLE_RATE)
    for segment in segmenter.flush():
        found.append(segment)
        decided.append(heard / SAMPLE_RATE)
    return found, decided, time.process_time() - started


def _owner(segment: Segment, truth) -> object | None:
    """The truth utterance the segment overlaps most (None: it overlaps none)."""
    overlaps = [(min(segment.end, t.end) - max(segment.start, t.start), t) for t in truth]
    best = max(overlaps, key=lambda o: o[0], default=(0.0, None))
    return best[1] if best[0] > 0 else None


def _credit(seconds: dict, roles: np.ndarray, segment: Segment, owner: str, speech: np.ndarray) -> None:
    """A segment's seconds by speaker: its frames in someone's speech are that speaker's; its
    frames outside all speech (noise, pauses) go to the speaker it overlaps most. Splitting at
    voice changes is a later stage, so two voices in one segment are not the VAD's error."""
    span = slice(int(round(segment.start / GRID_S)), int(round(segment.end / GRID_S)))
    labels, talking = roles[span], speech[span]
    for k, role in enumerate(ROLES, 1):
        seconds[role] += GRID_S * (np.sum(labels == k) + (owner == role) * np.sum(~talking))


def score(family: Family, found: list[Segment], decided: list[float]) -> dict:
    truth = [s for s in family.segments if s.role != "tv"]
    found_mask = _grid_mask(found, family.speech.size)
    hits = float(np.sum(found_mask & family.mask))
    seconds = dict.fromkeys(ROLES, 0.0)
    pieces: dict[int, int] = {}
    waits, lengths = [], []
    for segment, at in zip(found, decided, strict=True):
        owner = _owner(segment, truth)
        if owner is None:
            continue
        pieces[id(owner)] = pieces.get(id(owner), 0) + 1
        _credit(seconds, family.roles, segment, owner.role, family.mask)
        if segment.duration <= LATENCY_MAX_UTTERANCE_S:
            last_word = max(t.end for t in truth if t.start < segment.end and t.end > segment.start)
            waits.append(at - last_word)
            lengths.append(segment.duration)
    commas = [t for t in truth if "," in t.text]
    return {
        "recall": hits / max(1.0, float(family.mask.sum())),
        "precision": hits / max(1.0, float(found_mask.sum())),
        "seconds": seconds,
        "true_seconds": {r: sum(t.end - t.start for t in truth if t.role == r) for r in ROLES},
        "waits_s": waits, "lengths_s": lengths, "commas": len(commas),
        "comma_splits": sum(pieces.get(id(t), 0) > 1 for t in commas),
    }


# --------------------------------------------------------------------------- recognition cost


def recognition_cost(audio: np.ndarray, options: SegmenterOptions) -> tuple[float, float, int]:
    """(a, b): recognise + store one utterance costs a + b * length seconds (bundled models,
    transcripts on, one thread), fitted over the utterances of ``audio``."""
    from edge.recognition import load_recognizers, recognise
    from edge.store import Store

    recognizers = load_recognizers(threads=1)
    found, _, _ = detect(audio, options)
    costs, lengths = [], []
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "t.db") as store:
        for segment in found:
            started = time.process_time()  # CPU time: see NOTES on a shared machine
            store.add(recognise(segment, recognizers, 0.0))
            costs.append(time.process_time() - started)
            lengths.append(segment.duration)
    b, a = np.polyfit(lengths, costs, 1)
    return float(a), float(b), len(costs)


def pipeline_rtf(audio: np.ndarray, options: SegmenterOptions) -> float:
    """Whole pipeline (VAD, voice change, voice, STT) over ``audio`` on one thread."""
    from edge.pipeline import PipelineOptions, analyze_file
    from edge.recognition import load_recognizers

    recognizers = load_recognizers(threads=1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scene.wav"
        save_audio(path, audio)
        started = time.process_time()
        analyze_file(path, recognizers, PipelineOptions(segmenter=options), wall_origin=0.0)
        return (time.process_time() - started) / (audio.size / SAMPLE_RATE)


def run_detector(detector: str, families: list[Family], conds: list[Condition]) -> list[Outcome]:
    options = SegmenterOptions(vad=detector)
    outcomes = []
    for c_index, condition in enumerate(conds):
        for f_index, family in enumerate(families):
            audio = mix(family, condition, c_index * 100 + f_index)
            found, decided, cpu_s = detect(audio, options)
            outcomes.append(Outcome(condition, f_index, vad_cpu_s=cpu_s,
                                    audio_s=audio.size / SAMPLE_RATE,
                                    **score(family, found, decided)))
    return outcomes


# --------------------------------------------------------------------------- summaries


def _seconds_error(outcomes: list[Outcome], role: str) -> float:
    found = sum(o.seconds[role] for o in outcomes)
    true = sum(o.true_seconds[role] for o in outcomes)
    return (found - true) / true if true else float("nan")


def _pooled(outcomes: list[Outcome]) -> dict:
    """Recall and precision pooled over scenes (weighted by their speech), seconds errors."""
    recall = np.average([o.recall for o in outcomes], weights=[sum(o.true_seconds.values()) for o in outcomes])
    precision = np.average([o.precision for o in outcomes])
    errors = [abs(_seconds_error([o], r)) for o in outcomes for r in ROLES]
    return {
        "scenes": len(outcomes), "recall": round(float(recall), 3),
        "precision": round(float(precision), 3),
        "worst_recall": round(min(o.recall for o in outcomes), 3),
        "worst_precision": round(min(o.precision for o in outcomes), 3),
        **{f"{r}_seconds_error": round(_seconds_error(outcomes, r), 4) for r in ROLES},
        "worst_parent_seconds_error": round(max(errors), 4),
    }


def latency(outcomes: list[Outcome], cost: tuple[float, float, int]) -> dict:
    a, b, _ = cost
    waits = np.concatenate([o.waits_s for o in outcomes])
    lengths = np.concatenate([o.lengths_s for o in outcomes])
    total_ms = 1e3 * (waits + a + b * lengths)
    return {
        "utterances": int(waits.size),
        "last_word_to_decision_p50_ms": round(float(np.percentile(waits, 50) * 1e3), 1),
        "last_word_to_decision_p95_ms": round(float(np.percentile(waits, 95) * 1e3), 1),
        "last_word_to_stored_p50_ms": round(float(np.percentile(total_ms, 50)), 1),
        "last_word_to_stored_p95_ms": round(float(np.percentile(total_ms, 95)), 1),
    }


def summarise(outcomes: list[Outcome], snrs: tuple, noises: tuple, cost) -> dict:
    headline = [o for o in outcomes if o.condition.noise in noises or o.condition.noise is None]
    by_snr = {("clean" if s is None else f"{s:g}"): _pooled([o for o in headline if o.condition.snr_db == s])
              for s in snrs}
    commas = sum(o.commas for o in outcomes)
    household = [o for o in headline if o.condition.snr_db in (None, 20.0)]
    return {
        "by_snr_db": by_snr,
        "latency": latency(household, cost),
        "latency_by_snr_db": {("clean" if s is None else f"{s:g}"):
                              latency([o for o in headline if o.condition.snr_db == s], cost) for s in snrs},
        "comma_sentences": commas,
        "comma_splits": sum(o.comma_splits for o in outcomes),
        "vad_rtf": round(sum(o.vad_cpu_s for o in outcomes) / sum(o.audio_s for o in outcomes), 5),
        "conditions": {c.label: _pooled([o for o in outcomes if o.condition == c])
                       for c in dict.fromkeys(o.condition for o in outcomes)},
    }


# --------------------------------------------------------------------------- report

TARGETS = (  # (what, goal text, key path in a detector's summary, test)
    ("frame recall, 5 dB", ">= 0.93", ("by_snr_db", "5", "recall"), lambda v: v >= 0.93),
    ("frame precision, 5 dB", ">= 0.93", ("by_snr_db", "5", "precision"), lambda v: v >= 0.93),
    ("worst per-parent seconds error, 20 dB", "<= 5%", ("by_snr_db", "20", "worst_parent_seconds_error"),
     lambda v: v <= 0.05),
    ("worst per-parent seconds error, 10 dB", "<= 5%", ("by_snr_db", "10", "worst_parent_seconds_error"),
     lambda v: v <= 0.05),
    ("worst per-parent seconds error, 5 dB", "<= 10%", ("by_snr_db", "5", "worst_parent_seconds_error"),
     lambda v: v <= 0.10),
    ("last word -> stored, p95 (utterances <= 8 s; clean and 20 dB)", "<= 400 ms",
     ("latency", "last_word_to_stored_p95_ms"), lambda v: v <= 400),
    ("whole-pipeline RTF, 1 thread", "<= 0.02", ("pipeline_rtf",), lambda v: v <= 0.02),
)


def _get(summary: dict, path: tuple) -> float:
    for key in path:
        summary = summary[key]
    return summary


def markdown(results: dict) -> str:
    detectors = list(results["detectors"])
    lines = ["# Speech detection in household noise", "",
             f"Command: `{results['command']}` ({results['minutes']:.1f} min). {results['setup']}", "",
             "## Targets (the default, `both`, against webrtcvad alone)", "",
             "| target | goal | " + " | ".join(detectors) + " | result (both) |",
             "|---|---|" + "---|" * len(detectors) + "---|"]
    for what, goal, path, test in TARGETS:
        values = [_get(results["detectors"][d], path) for d in detectors]
        shown = [f"{v:.1%}" if "error" in path[-1] else f"{v:g}" for v in values]
        verdict = "pass" if test(_get(results["detectors"]["both"], path)) else "FAIL"
        lines.append(f"| {what} | {goal} | " + " | ".join(shown) + f" | {verdict} |")
    lines += ["", "## By noise level (headline noises, dry and reverberant, all families)", "",
              "| SNR | detector | recall | precision | worst recall | mother s err | father s err | worst parent err |",
              "|---|---|---|---|---|---|---|---|"]
    for snr in results["detectors"]["both"]["by_snr_db"]:
        for d in detectors:
            r = results["detectors"][d]["by_snr_db"][snr]
            lines.append(f"| {snr} | {d} | {r['recall']:.3f} | {r['precision']:.3f} | {r['worst_recall']:.3f} | "
                         f"{r['mother_seconds_error']:+.1%} | {r['father_seconds_error']:+.1%} | "
                         f"{r['worst_parent_seconds_error']:.1%} |")
    lines += ["", "## By condition (recall / precision / mother and father seconds error)", "",
              "| condition | " + " | ".join(detectors) + " |", "|---|" + "---|" * len(detectors)]
    for label in results["detectors"]["both"]["conditions"]:
        cells = []
        for d in detectors:
            r = results["detectors"][d]["conditions"][label]
            cells.append(f"{r['recall']:.2f} / {r['precision']:.2f} / "
                         f"{r['mother_seconds_error']:+.0%} / {r['father_seconds_error']:+.0%}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Latency, commas, cost", "", "| detector | last word -> decision p50 / p95 ms | "
              "-> stored p50 / p95 ms | comma sentences split | VAD RTF | pipeline RTF |", "|---|---|---|---|---|---|"]
    for d in detectors:
        r = results["detectors"][d]
        lat = r["latency"]
        lines.append(f"| {d} | {lat['last_word_to_decision_p50_ms']:.0f} / {lat['last_word_to_decision_p95_ms']:.0f} | "
                     f"{lat['last_word_to_stored_p50_ms']:.0f} / {lat['last_word_to_stored_p95_ms']:.0f} | "
                     f"{r['comma_splits']} of {r['comma_sentences']} | {r['vad_rtf']:.4f} | {r['pipeline_rtf']:.4f} |")
    lines += ["", "## Last word -> stored by noise level (p50 / p95 ms)", "",
              "| detector | " + " | ".join(results["detectors"]["both"]["latency_by_snr_db"]) + " |",
              "|---|" + "---|" * len(results["detectors"]["both"]["latency_by_snr_db"])]
    for d in detectors:
        by = results["detectors"][d]["latency_by_snr_db"]
        lines.append(f"| {d} | " + " | ".join(f"{v['last_word_to_stored_p50_ms']:.0f} / "
                                             f"{v['last_word_to_stored_p95_ms']:.0f}" for v in by.values()) + " |")
    lines += ["", *[f"- {note}" for note in results["notes"]], ""]
    return "\n".join(lines)


SETUP = ("Family talk: training.scenes.family_track (held-out espeak-ng voices, exact truth), "
         "{families} tracks of {scene_s:g} s. Noise: benchmarks/noise_bank.py, a test bank kept apart "
         "from the training noise (own generators and seeds; TV and babble are foreign-language "
         "espeak-ng speech, never Korean); headline noises {noises}, each dry and in a reverberant room, "
         "at {snrs} dB; the rest of the bank ({extra}) at 5 dB dry in the condition table.")

NOTES = [
    "Per-parent seconds: an utterance's frames inside a speaker's truth speech are that speaker's, "
    "its frames outside all speech (noise, pauses, lingering) go to the speaker it overlaps most; the "
    "voice tagger's mistakes and the later split at voice changes are left out: this is what the VAD "
    "gives the statistics. The error is per scene and parent; 'worst' is the largest over scenes.",
    f"Latency = (recording time of the VAD's decision, replayed in the live capture's "
    f"{LIVE_BLOCK_SECONDS * 1000:g} ms blocks) - (the speaker's last word, from the truth) + recognition "
    "and a store write, timed per utterance on one scene (bundled models, transcripts on, 1 thread) and "
    "fitted as a + b * length. Recognition is timed in CPU seconds: on a machine that several jobs share "
    "(load 8-13 on 2 cores here) the wall clock measures the other jobs; on the device, where it runs "
    "alone on one thread, its wall time is its CPU time.",
    "Recall and precision: the utterances' spans (their speech seconds) against the truth's speech on a "
    "10 ms grid; recall pooled by speech seconds, precision averaged over scenes.",
    "TV speech (the `tv` condition) is speech: the VAD finds it, so its precision against family speech "
    "is low by design; the voice tagger files it as `other`.",
]


def run(options: VadBenchOptions, command: str) -> dict:
    started = time.time()
    families = make_families(options)
    conds = conditions(options)
    probe = mix(families[0], Condition("music", 10.0, False), 0)
    cost = recognition_cost(probe, SegmenterOptions())
    detectors = {}
    for detector in options.detectors:
        outcomes = run_detector(detector, families, conds)
        detectors[detector] = summarise(outcomes, options.snrs_db, options.noises, cost)
        detectors[detector]["pipeline_rtf"] = round(pipeline_rtf(probe, SegmenterOptions(vad=detector)), 5)
    notes = [*NOTES, f"recognition + store per utterance: {cost[0] * 1e3:.1f} ms + {cost[1] * 1e3:.1f} ms per "
             f"second of speech (fitted over {cost[2]} utterances); pipeline RTF on family 0 with music at 10 dB"]
    setup = SETUP.format(families=options.families, scene_s=options.scene_s, noises=", ".join(options.noises),
                         snrs=", ".join("clean" if s is None else f"{s:g}" for s in options.snrs_db),
                         extra=", ".join(options.extra_noises))
    return {"command": command, "minutes": (time.time() - started) / 60, "setup": setup,
            "options": {k: str(v) for k, v in asdict(options).items()}, "detectors": detectors,
            "metrics": _model_metrics(detectors), "notes": notes}


def _model_metrics(detectors: dict) -> dict:
    """The figures the model card and the ONNX metadata carry (the ``both`` row)."""
    both = detectors.get("both") or next(iter(detectors.values()))
    five = both["by_snr_db"].get("5", {})
    return {"frame_recall_5db": five.get("recall"), "frame_precision_5db": five.get("precision"),
            "benchmark": "python -m benchmarks.vad (benchmarks/results/vad.md)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short family track (a smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    options = VadBenchOptions(out=args.out)
    if args.quick:
        options = VadBenchOptions(scene_s=30.0, families=1, out=args.out)
    command = "python -m benchmarks.vad" + (" --quick" if args.quick else "")
    results = run(options, command)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vad.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    (args.out / "vad.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
