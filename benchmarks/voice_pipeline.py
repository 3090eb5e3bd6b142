"""The held-out voice-type scenes through the whole pipeline (``benchmarks.voice_type --pipeline``).

:mod:`benchmarks.voice_type` judges each utterance alone on the truth's
segmentation. Here the same utterances are laid end to end into one recording,
in one continuous test-only noise, with pauses a family leaves between
utterances; some replies come quicker than the VAD's endpoint, so the
segmenter puts them in the same segment as what they answer and only the
voice-change stage (:mod:`edge.voice_change`) can cut them apart. The recording
goes through :func:`edge.pipeline.analyze_file`, the code ``talkratio analyze``
runs (no transcription: it does not change who is credited with what), and
the records are compared with the truth's spans: seconds per role, the share,
child turns, and which truth speaker's seconds ended up under which role.

The same table for scenes made by ``talkratio-train scenes`` (the main
benchmark's)::

    .venv/bin/python -m benchmarks.voice_pipeline SCENE.wav ...
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, save_audio
from edge.pipeline import PipelineOptions, analyze_file
from edge.recognition import Recognizers
from edge.stats import TalkSpan, role_of, summarize
from edge.utterance import Utterance
from edge.voice_change import VoiceChangeOptions
from training import synth
from training.scenes import TRUTH_TRIM_DB

# a reply this quick ends up in the same VAD segment as what it answers (the segmenter
# waits 160 ms of sure silence before it ends an utterance): a third of the pauses, as in
# quick exchanges between a parent and a child
QUICK_GAP_S = (0.05, 0.15)
QUICK_SHARE = 0.3
GAP_S = (0.3, 2.5)  # ordinary pauses between utterances
LEAD_S = 1.0  # silence at the start of the recording (the VAD's state settles)
TRUTH_VOICE = {"mother": "female", "father": "male", "child": "child"}
PARENTS = ("mother", "father")
# what a truth second can become: a role of edge.stats, or nothing (no utterance covers it)
MISSED = "missed"
SHARED = "shared"  # ... and of what was recorded, how much lay in a record with another voice
SHARED_MIN_S = 0.1  # another speaker's seconds a record must hold to count as shared


@dataclass(frozen=True)
class Span:
    """One utterance of the truth: whose, and where its voice is (s from the file's start)."""

    role: str  # mother, father, child or tv
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def recording(
    speech: Sequence[np.ndarray], roles: Sequence[str], noise: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, list[Span]]:
    """``speech`` (levelled clean utterances) laid end to end over ``noise`` (a function of
    the length; see :func:`lay_out`), and the truth's spans of their voices."""
    starts, total = lay_out([x.size for x in speech], rng)
    samples = noise(total)
    spans = []
    for x, role, start in zip(speech, roles, starts, strict=True):
        samples[start : start + x.size] += x
        voice_start, voice_end = synth.speech_bounds(x, TRUTH_TRIM_DB)
        spans.append(Span(role, (start + voice_start) / SAMPLE_RATE, (start + voice_end) / SAMPLE_RATE))
    return np.clip(samples, -1, 1).astype(np.float32), spans


def levelled(utterances, snr_db: float, tv_db: float, rng: np.random.Generator):
    """``(speech, noise)``: each utterance (:class:`training.household_scenes.Utterance`) at its
    level in the scene, as :func:`training.household_scenes.mix` sets it, and the scene's
    test-only noise as a function of a length in samples."""
    from training.household_scenes import _levels
    from training.noise import power
    from training.voice.home import fresh_noise

    reference, noise_power = _levels(utterances, snr_db)
    tv_power = reference * 10 ** (tv_db / 10)
    speech = [
        u.samples * np.float32(np.sqrt((tv_power if u.role == "tv" else reference) / max(power(u.samples), 1e-12)))
        for u in utterances
    ]
    return speech, lambda n: fresh_noise(n, rng) * np.float32(np.sqrt(noise_power))


def lay_out(sizes: Sequence[int], rng: np.random.Generator) -> tuple[list[int], int]:
    """Start sample of each utterance and the recording's length: a pause before each, quick
    (:data:`QUICK_GAP_S`) with probability :data:`QUICK_SHARE`, else ordinary."""
    starts, t = [], int(LEAD_S * SAMPLE_RATE)
    for size in sizes:
        gap = rng.uniform(*(QUICK_GAP_S if rng.random() < QUICK_SHARE else GAP_S))
        t += int(gap * SAMPLE_RATE) if starts else 0
        starts.append(t)
        t += size
    return starts, t + int(LEAD_S * SAMPLE_RATE)


def analyse(
    samples: np.ndarray, recognizers: Recognizers, voice_change: VoiceChangeOptions
) -> tuple[Utterance, ...]:
    """What ``talkratio analyze`` records for ``samples`` (written to a private temporary WAV)."""
    options = PipelineOptions(transcribe=False, voice_change=voice_change)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scene.wav"
        save_audio(path, samples)
        return analyze_file(path, recognizers, options, wall_origin=0.0).utterances


def overlap(span: Span, utterance: Utterance) -> float:
    return max(0.0, min(span.end, utterance.end) - max(span.start, utterance.start))


def where_truth_went(spans: Sequence[Span], utterances: Sequence[Utterance]) -> dict:
    """``{truth role: {measured role or "missed": seconds, "shared": seconds}}``, and
    ``{"extra": {role: s}}``: measured seconds over no truth speech (noise, or echo past the
    truth's end). ``shared``: the truth role's seconds inside records that also hold more
    than ``SHARED_MIN_S`` of another truth role (merged utterances)."""
    table: dict[str, dict[str, float]] = {}
    for span in spans:
        row = table.setdefault(span.role, {})
        covered = 0.0
        for u in utterances:
            if (seconds := overlap(span, u)) > 0:
                row[role_of(u)] = row.get(role_of(u), 0.0) + seconds
                covered += seconds
                if any(s.role != span.role and overlap(s, u) > SHARED_MIN_S for s in spans):
                    row[SHARED] = row.get(SHARED, 0.0) + seconds
        row[MISSED] = row.get(MISSED, 0.0) + span.seconds - covered
    extra = table.setdefault("extra", {})
    for u in utterances:
        outside = (u.end - u.start) - sum(overlap(s, u) for s in spans)
        extra[role_of(u)] = extra.get(role_of(u), 0.0) + max(0.0, outside)
    return table


def truth_seconds(row: dict[str, float]) -> float:
    """A truth role's seconds from its row of :func:`where_truth_went` (``shared`` is a part
    of the recorded seconds, not more of them)."""
    return sum(seconds for role, seconds in row.items() if role != SHARED)


def truth_summary(spans: Sequence[Span]):
    """The truth's :class:`edge.stats.Summary` (the TV is nobody's talk, as in the scenes)."""
    return summarize(
        TalkSpan(s.start, s.end, TRUTH_VOICE[s.role], speaker=s.role if s.role in PARENTS else None)
        for s in spans
        if s.role != "tv"
    )


def scene_figures(spans: Sequence[Span], utterances: Sequence[Utterance]) -> dict:
    """One scene's figures against its truth (the keys of ``voice_type``'s, plus children)."""
    truth, got = truth_summary(spans).seconds, summarize(utterances).seconds
    went = where_truth_went(spans, utterances)
    true_share = truth["mother"] / (truth["mother"] + truth["father"])
    parents = got["mother"] + got["father"]
    tv = went.get("tv", {})
    tv_s = truth_seconds(tv)
    return {
        "share_error_points": 100 * abs(got["mother"] / parents - true_share) if parents else None,
        "mother_seconds_error": abs(got["mother"] - truth["mother"]) / truth["mother"],
        "father_seconds_error": abs(got["father"] - truth["father"]) / truth["father"],
        "child_seconds_error": abs(got["child"] - truth["child"]) / truth["child"] if truth["child"] else None,
        "tv_to_parent": sum(tv.get(p, 0.0) for p in PARENTS) / tv_s if tv_s else 0.0,
        "child_turns": [truth_summary(spans).child_turns, summarize(utterances).child_turns],
        "where": went,
    }  # fmt: skip


def judged_spans(spans: Sequence[Span], voices: Sequence[str], speakers: Sequence[str | None]):
    """The truth's spans with the voice and speaker given on the truth's segmentation: the
    records the pipeline would make if it cut every utterance exactly."""
    return [
        TalkSpan(s.start, s.end, voice, speaker=who)
        for s, voice, who in zip(spans, voices, speakers, strict=True)
    ]


# --------------------------------------------------------------------------- summary

SEGMENTATIONS = ("truth_segmentation", "pipeline")
ENROLMENTS = ("without_enrolment", "with_enrolment")


def summarise(scenes: Sequence[dict]) -> dict:
    """Figures over scenes, per enrolment and segmentation: ``{enrolment: {segmentation: ...}}``
    of :func:`scene_figures`' dicts (``scenes[i][enrolment][segmentation]``)."""
    return {
        enrolment: {cut: _totals([s[enrolment][cut] for s in scenes]) for cut in SEGMENTATIONS}
        for enrolment in ENROLMENTS
    }


def _totals(per_scene: Sequence[dict]) -> dict:
    shares = [f["share_error_points"] for f in per_scene if f["share_error_points"] is not None]
    parents = [f[k] for f in per_scene for k in ("mother_seconds_error", "father_seconds_error")]
    children = [f["child_seconds_error"] for f in per_scene if f["child_seconds_error"] is not None]
    where = _summed([f["where"] for f in per_scene])
    tv = where.get("tv", {})
    return {
        "mean_share_error_points": round(float(np.mean(shares)), 2),
        "max_share_error_points": round(float(np.max(shares)), 2),
        "mean_parent_seconds_error": round(float(np.mean(parents)), 4),
        "max_parent_seconds_error": round(float(np.max(parents)), 4),
        "tv_seconds_to_a_parent": round(sum(tv.get(p, 0.0) for p in PARENTS) / truth_seconds(tv), 4)
        if tv else 0.0,
        "mean_child_seconds_error": round(float(np.mean(children)), 4),
        "child_turns_truth": sum(f["child_turns"][0] for f in per_scene),
        "child_turns_measured": sum(f["child_turns"][1] for f in per_scene),
        "where": {k: {r: round(s, 1) for r, s in row.items()} for k, row in where.items()},
    }  # fmt: skip


def _summed(tables: Sequence[dict]) -> dict:
    out: dict[str, dict[str, float]] = {}
    for table in tables:
        for key, row in table.items():
            target = out.setdefault(key, {})
            for role, seconds in row.items():
                target[role] = target.get(role, 0.0) + seconds
    return out


ROWS = (
    ("mean \\|mother-share error\\| (points)", "mean_share_error_points", "<= 3"),
    ("max \\|mother-share error\\| (points)", "max_share_error_points", ""),
    ("mean per-parent seconds error", "mean_parent_seconds_error", "<= 0.10"),
    ("max per-parent seconds error", "max_parent_seconds_error", ""),
    ("share of TV seconds credited to a parent", "tv_seconds_to_a_parent", "<= 0.10 / <= 0.03"),
    ("mean child seconds error", "mean_child_seconds_error", ""),
)
WHERE_ROLES = ("mother", "father", "child", "other", "unknown", MISSED)


def markdown(summary: dict) -> list[str]:
    """The card's lines: truth segmentation beside the whole pipeline, and where the truth went."""
    lines = [
        "| figure | truth segmentation, without enrolment | whole pipeline, without | "
        "truth segmentation, with enrolment | whole pipeline, with | target |",
        "|---|---|---|---|---|---|",
    ]
    cells = [summary[e][c] for e in ENROLMENTS for c in SEGMENTATIONS]
    for title, key, target in ROWS:
        lines.append(f"| {title} | " + " | ".join(str(c[key]) for c in cells) + f" | {target} |")
    lines.append(
        "| child turns, measured / truth | "
        + " | ".join(f"{c['child_turns_measured']} / {c['child_turns_truth']}" for c in cells)
        + " | |"
    )
    lines += ["", "Where each truth speaker's seconds went (whole pipeline, without enrolment; "
              "`missed`: no record covers them; `shared`: of the recorded seconds, those in a record "
              "that also holds another truth speaker's (merged utterances); `extra`: recorded "
              "seconds over no truth speech):", ""]
    columns = (*WHERE_ROLES, SHARED)
    lines += ["| truth \\ recorded as | " + " | ".join(columns) + " |",
              "|---|" + "---|" * len(columns)]
    where = summary["without_enrolment"]["pipeline"]["where"]
    for truth in ("mother", "father", "child", "tv", "extra"):
        row = where.get(truth, {})
        lines.append(f"| {truth} | " + " | ".join(str(row.get(r, 0.0)) for r in columns) + " |")
    return lines  # fmt: skip


# --------------------------------------------------------------------------- scene files


def truth_spans(truth_json: Path) -> list[Span]:
    """The spans of a ``talkratio-train scenes`` truth file (roles mother/father/child/tv)."""
    segments = json.loads(truth_json.read_text())["segments"]
    return [Span(s["role"], s["start"], s["end"]) for s in segments]


def main(argv: list[str] | None = None) -> None:
    """Where each truth speaker's seconds went in scenes made by ``talkratio-train scenes``
    (each WAV with its truth JSON beside it), through ``talkratio analyze``'s pipeline."""
    from edge.recognition import load_recognizers

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("scenes", type=Path, nargs="+", help="scene WAVs (truth JSON beside each)")
    args = parser.parse_args(argv)
    recognizers, options = load_recognizers(transcribe=False), PipelineOptions(transcribe=False)
    for path in args.scenes:
        records = analyze_file(path, recognizers, options, wall_origin=0.0).utterances
        went = where_truth_went(truth_spans(path.with_suffix(".json")), records)
        print(json.dumps({"scene": str(path), "where": {
            truth: {role: round(s, 2) for role, s in row.items()} for truth, row in went.items()}}))


if __name__ == "__main__":
    main()
