"""The sections of a benchmark run; each returns a JSON-ready dict for the results file."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import accuracy as acc
from benchmarks.audio_set import (
    Clip,
    generated_scenes,
    joined_scene,
    length_ladder,
    long_recording,
    test_utterances,
)
from benchmarks.live import run_analyze, run_live
from benchmarks.memory import trace_command
from benchmarks.stages import (
    ModelPair,
    load_pair,
    stage_costs,
    utterance_latency,
    warm_up,
    whole_pipeline,
)
from edge.audio import SAMPLE_RATE, compute_features, load_audio
from edge.onnx_model import ASSETS_DIR, ModelError, bundled_model, open_session

log = logging.getLogger(__name__)

MB = 1e6  # model sizes in megabytes (10^6 bytes), as the 30 MB target is written
PARAMETER_MATCH = 0.002  # a model is "of preset P" when its parameters are within 0.2 % of P's
SESSION_TIMING_S = 10.0  # the STT session is timed on 10 s of features for the MAC rate
SESSION_REPEATS = 5
SCENE_KEYS = ("mother_share", "mother_s", "father_s", "child_s", "other_s", "child_turns")


class BenchmarkInputError(RuntimeError):
    """An input the benchmark cannot run without, with a sentence for the user."""


@dataclass
class Context:
    """Inputs shared by the sections, built once."""

    options: object  # benchmarks.run.BenchOptions
    int8: ModelPair
    fp32: ModelPair | None
    clips: list[Clip]
    ladder: list[Clip]
    scenes: list[Path]
    live_file: Path
    notes: list[str] = field(default_factory=list)
    edge: ModelPair | None = None  # the edge preset, when it is not the bundled model
    edge_untrained: bool = False
    bundled_preset: str | None = None

    @classmethod
    def build(cls, options) -> Context:
        if not Path(options.manifest).is_file():
            raise BenchmarkInputError(
                f"no test manifest at {options.manifest}: make the corpus and manifests first "
                "(talkratio-train synth, then talkratio-train aihub) or pass --manifest")
        work = Path(options.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        voice = options.voice or (bundled_model("voice") if bundled_model("voice").is_file() else None)
        int8 = ModelPair("int8", Path(options.stt or bundled_model("stt")), voice)
        notes = [] if voice else ["no voice model bundled: the pitch tagger stands in for it"]
        fp32 = _twins(Path(options.twins_dir), int8, notes)
        clips = test_utterances(Path(options.manifest), options.accuracy_utterances)
        tag = f"{options.scenes}x{options.scene_minutes:g}min"
        scenes = generated_scenes(work / f"scenes_{tag}", options.scenes, options.scene_minutes)
        if not scenes:
            notes.append("talkratio-train scenes unavailable: scenes are joined test utterances")
            scenes = [joined_scene(clips, work / f"joined_{tag}_{i}.wav", options.scene_minutes * 60, seed=i)
                      for i in range(options.scenes)]
        ladder = length_ladder(clips, work / "ladder")
        # the longest utterance first: buffers reach their largest size during warm-up,
        # so growth after it is growth, not the first long utterance arriving late
        live_file = long_recording([Path(ladder[-1].audio), *scenes],
                                   work / f"live_{options.live_s:g}s_{ladder[-1].speaker}.wav", options.live_s)
        return cls(options, int8, fp32, clips, ladder, scenes, live_file, notes)

    def describe(self) -> dict:
        return {
            "manifest": str(self.options.manifest), "accuracy_utterances": len(self.clips),
            "accuracy_audio_s": round(sum(c.duration_s for c in self.clips), 1),
            "scenes": [str(p) for p in self.scenes], "live_file": str(self.live_file),
            "ladder_s": [c.duration_s for c in self.ladder],
            "models": {"int8": _pair_json(self.int8), "fp32": _pair_json(self.fp32),
                       "edge_preset": _pair_json(self.edge), "edge_untrained": self.edge_untrained},
        }


def _pair_json(pair: ModelPair | None) -> dict | None:
    if pair is None:
        return None
    return {"stt": str(pair.stt), "voice": str(pair.voice) if pair.voice else "pitch"}


def _twins(folder: Path, int8: ModelPair, notes: list[str]) -> ModelPair | None:
    stt, voice = folder / "stt.fp32.onnx", folder / "voice.fp32.onnx"
    if not stt.is_file():
        notes.append(f"no fp32 twin {stt}: fp32 figures left out")
        return None
    pair = ModelPair("fp32", stt, voice if voice.is_file() else int8.voice)
    for kind, twin, bundled in (("stt", pair.stt, int8.stt), ("voice", pair.voice, int8.voice)):
        if twin and bundled and twin != bundled:
            names = [open_session(p, expect_kind=kind)[1] for p in (twin, bundled)]
            if (names[0].name, names[0].version) != (names[1].name, names[1].version):
                notes.append(f"fp32 {kind} twin {twin.name} is {names[0].name}@{names[0].version}, "
                             f"the bundled one {names[1].name}@{names[1].version}: not the same model")
    if int8.voice and not voice.is_file():
        notes.append(f"no fp32 voice twin {voice}: the fp32 rows use the INT8 voice model")
    return pair


# --------------------------------------------------------------------------- models


def _model_file(path: Path | None, kind: str) -> dict:
    if path is None or not path.is_file():
        return {"present": False}
    from benchmarks.compute import model_parameters

    _, info = open_session(path, expect_kind=kind)
    metrics = info.json_field("metrics", {}) or {}
    return {"present": True, "path": str(path), "bytes": path.stat().st_size,
            "mb": round(path.stat().st_size / MB, 2), "name": info.name, "version": info.version,
            "trained_on": info.metadata.get("talkratio.trained_on", ""),
            "parameters": int(metrics.get("parameters") or model_parameters(path)),
            "features": json.loads(info.features.to_json())}


def _preset_of(parameters: int, presets: list[dict]) -> str | None:
    for preset in presets:
        if abs(parameters - preset["parameters_m"] * 1e6) <= PARAMETER_MATCH * parameters + 1e3:
            return preset["preset"]
    return None


def models(ctx: Context) -> dict:
    from benchmarks.presets import RESEARCH_PARAMETERS_M, export_untrained, preset_sizes

    stt, voice = _model_file(ctx.int8.stt, "stt"), _model_file(ctx.int8.voice, "voice")
    try:
        presets = [p.to_json() for p in preset_sizes()]
    except ImportError as exc:  # torch comes with the train extra
        presets = []
        ctx.notes.append(f"presets not counted ({exc}): pip install torch==2.13.0 -e '.[train]'")
    ctx.bundled_preset = _preset_of(stt["parameters"], presets) if stt["present"] else None
    if ctx.bundled_preset != "edge":
        try:
            _, int8 = export_untrained("edge", Path(ctx.options.work_dir) / "models")
            ctx.edge, ctx.edge_untrained = ModelPair("edge-untrained", int8, ctx.int8.voice), True
        except Exception as exc:  # the exporter's failure costs the edge figure, not the run
            log.exception("exporting the untrained edge preset failed")
            ctx.notes.append(f"edge preset not exported ({type(exc).__name__}: {exc}): no edge figure")
    said = f"{stt.get('trained_on', '')} {stt.get('name', '')}".lower()
    untrained = any(word in said for word in ("untrained", "placeholder", "random"))
    if untrained:
        ctx.notes.append("the bundled STT model says it is untrained (a placeholder): its CER means nothing")
    assets = bundled_assets()
    return {"bundled": {"stt": stt, "voice": voice}, "bundled_files": assets,
            "bundled_total_mb": round(sum(a["bytes"] for a in assets) / MB, 2),
            "bundled_stt_preset": ctx.bundled_preset, "bundled_stt_untrained_hint": untrained,
            "fp32_twins": {k: _model_file(p, k) for k, p in
                           (("stt", ctx.fp32.stt if ctx.fp32 else None),
                            ("voice", ctx.fp32.voice if ctx.fp32 else None))},
            "presets": presets, "research_parameters_m": RESEARCH_PARAMETERS_M,
            "edge_preset_model": str(ctx.edge.stt) if ctx.edge else str(ctx.int8.stt),
            "edge_preset_untrained": ctx.edge_untrained}


def bundled_assets(folder: Path = ASSETS_DIR) -> list[dict]:
    """Every model the runtime ships: each ONNX file in ``edge/assets`` (STT, voice, speaker
    encoder, neural VAD) and the STT's language model."""
    paths = sorted(folder.glob("*.onnx")) + sorted(folder.glob("*.npz"))
    return [{"file": path.name, "bytes": path.stat().st_size, "mb": round(path.stat().st_size / MB, 2)}
            for path in paths]


# --------------------------------------------------------------------------- speed


def _pairs(ctx: Context) -> list[ModelPair]:
    return [p for p in (ctx.int8, ctx.fp32) if p is not None]


def stages(ctx: Context) -> dict:
    audio_s = sum(len(load_audio(p)) for p in ctx.scenes) / SAMPLE_RATE
    runs = []
    for pair in _pairs(ctx):
        for threads in ctx.options.threads:
            recognizers = load_pair(pair, threads)
            warm_up(recognizers)
            for where, paths, vad in (("scenes", ctx.scenes, True),
                                      ("utterances", [Path(c.audio) for c in ctx.ladder], False)):
                cost = stage_costs(paths, recognizers, whole=vad, vad=vad)
                runs.append({"models": pair.label, "threads": threads, "audio": where, **cost.to_json()})
    if ctx.edge is not None:
        recognizers = load_pair(ctx.edge, 1)
        warm_up(recognizers)
        cost = stage_costs(ctx.scenes, recognizers)
        runs.append({"models": ctx.edge.label, "threads": 1, "audio": "scenes", **cost.to_json()})
    return {"scene_audio_s": round(audio_s, 1), "runs": runs, "scene_statistics": scene_statistics(ctx)}


def scene_statistics(ctx: Context) -> list[dict]:
    """What ``analyze`` says about each scene beside the scene's truth (bundled INT8 models)."""
    _, _, analyses = whole_pipeline(ctx.scenes, load_pair(ctx.int8, 1))
    rows = []
    for path, analysis in zip(ctx.scenes, analyses, strict=True):
        truth_file = path.with_suffix(".json")
        truth = json.loads(truth_file.read_text()).get("summary", {}) if truth_file.exists() else {}
        measured = analysis.summary.to_json()
        rows.append({"scene": path.name, **{f"{key}_{side}": source.get(key) for key in SCENE_KEYS
                                            for side, source in (("truth", truth), ("measured", measured))}})
    return rows


def ladder(ctx: Context) -> dict:
    rows = []
    samples = [load_audio(c.audio) for c in ctx.ladder]
    for pair in [*_pairs(ctx), *([ctx.edge] if ctx.edge else [])]:
        for threads in ctx.options.threads:
            recognizers = load_pair(pair, threads)
            warm_up(recognizers)
            for x in samples:
                rows.append({"models": pair.label, "threads": threads,
                             **utterance_latency(x, recognizers).to_json()})
    return {"rows": rows}


def _session_seconds(path: Path, seconds: float = SESSION_TIMING_S, threads: int = 1) -> float:
    """Best time of the STT session alone on ``seconds`` of features (cost does not depend on content)."""
    session, info = open_session(path, expect_kind="stt", threads=threads)
    audio = np.random.default_rng(0).normal(0, 0.1, int(seconds * SAMPLE_RATE)).astype(np.float32)
    features = compute_features(audio, info.features)[None]
    name = session.get_inputs()[0].name
    session.run(None, {name: features})
    best = float("inf")
    for _ in range(SESSION_REPEATS):
        start = time.perf_counter()
        session.run(None, {name: features})
        best = min(best, time.perf_counter() - start)
    return best


def compute(ctx: Context) -> dict:
    from benchmarks.compute import count_macs, measure_peak

    peak = measure_peak(threads=1)
    models_measured = {"bundled_int8": ctx.int8.stt}
    if ctx.fp32:
        models_measured["bundled_fp32"] = ctx.fp32.stt
    if ctx.edge:
        models_measured["edge_preset_int8"] = ctx.edge.stt
    out = {"peak": peak.to_json(), "stt": {}}
    for label, path in models_measured.items():
        macs = count_macs(path)
        seconds = _session_seconds(path)
        achieved = macs.macs_per_audio_s * SESSION_TIMING_S / seconds / 1e9
        roof = peak.int8_square if "int8" in label else peak.fp32_square
        row = peak.int8_row if "int8" in label else peak.fp32_row
        out["stt"][label] = {**macs.to_json(), "session_rtf": round(seconds / SESSION_TIMING_S, 5),
                             "achieved_gmacs": round(achieved, 2),
                             "share_of_square_peak": round(achieved / roof, 3),
                             "share_of_row_peak": round(achieved / row, 3),
                             "rtf_at_square_peak": round(macs.macs_per_audio_s / 1e9 / roof, 5)}
    if ctx.int8.voice is not None:
        out["voice_bundled_int8"] = count_macs(ctx.int8.voice).to_json()
    return out


# --------------------------------------------------------------------------- peers


PEER_REPORT = "benchmarks/results/peers_by_length"  # .json/.md, from benchmarks.peer_lengths
PEER = "whisper-base"


def peers_by_length(ctx: Context) -> dict:
    """The peer comparison is ``benchmarks.peer_lengths``' own run (per utterance length and
    on whole recordings, CPU time): its ratios are quoted from its results file, not re-measured."""
    path = Path(ctx.options.peer_results)
    if not path.is_file():
        return {"available": False, "note": f"no {path.name}: run python -m benchmarks.peer_lengths"}
    found = json.loads(path.read_text())
    lengths = [{"target_s": row["target_s"], **{engine: round(row[PEER]["cpu_ms"] / max(e["cpu_ms"], 1e-6), 1)
                                                for engine, e in row.items() if engine not in ("target_s", PEER)}}
               for row in found.get("lengths", []) if PEER in row]
    whole = [{"file": next(iter(rec.values()))["file"],
              **{engine: round(rec[PEER]["cpu_s"] / max(r["cpu_s"], 1e-9), 1)
                 for engine, r in rec.items() if engine != PEER}}
             for rec in found.get("recordings", []) if PEER in rec]
    return {"available": True, "report": f"{PEER_REPORT}.md", "measured_utc": found.get("utc"),
            "command": found.get("command"), "cpu_ratio_by_length": lengths, "cpu_ratio_whole_recordings": whole}


# --------------------------------------------------------------------------- memory, live


def analyze(ctx: Context) -> dict:
    """Peak RSS of ``talkratio analyze`` on a scene and on the live run's longer recording:
    equal peaks show that memory does not grow with the length of a file."""
    runs = []
    for recording in (ctx.scenes[0], ctx.live_file):
        trace = run_analyze(recording, stt=ctx.int8.stt, voice=ctx.int8.voice)
        runs.append({"recording": str(recording),
                     "audio_s": round(len(load_audio(recording)) / SAMPLE_RATE, 1),
                     "peak_rss_mib": round(trace.peak_rss_mib, 1), "wall_s": round(trace.wall_s, 2),
                     "returncode": trace.returncode,
                     "error_tail": trace.stderr.strip()[-300:] if trace.returncode else ""})
    floor = trace_command([sys.executable, "-c", "import numpy, onnxruntime, webrtcvad, soundfile"],
                          timeout_s=120)
    return {**runs[0], "runs": runs, "import_floor_rss_mib": round(floor.peak_rss_mib, 1)}


def live(ctx: Context) -> dict:
    audio_s = len(load_audio(ctx.live_file)) / SAMPLE_RATE
    with tempfile.TemporaryDirectory(dir=ctx.options.work_dir) as folder:
        run = run_live(ctx.live_file, audio_s, Path(folder), threads=1, stt=ctx.int8.stt,
                       voice=ctx.int8.voice)
    result = run.to_json()
    result["error_tail"] = run.trace.stderr.strip()[-300:] if run.trace.returncode else ""
    return result


# --------------------------------------------------------------------------- accuracy


def _other_stt_models(folder: Path, known: set[Path]) -> dict[str, Path]:
    """Further trained STT models (other presets) left in the twins folder, by their name."""
    found = {}
    for path in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
        if path in known:
            continue
        try:
            _, info = open_session(path, expect_kind="stt")
        except ModelError:  # not an STT model (the voice twin) or not a talkratio model
            continue
        found[f"{info.name} ({path.name})"] = path
    return found


def accuracy(ctx: Context) -> dict:
    from edge.stt import SpeechRecognizer
    from edge.voice import PitchVoiceTagger, load_voice_tagger

    test = acc.noisy_copies(ctx.clips, Path(ctx.options.noise))
    stt_models = {"int8": ctx.int8.stt, **({"fp32": ctx.fp32.stt} if ctx.fp32 else {})}
    stt_models |= _other_stt_models(Path(ctx.options.twins_dir), set(stt_models.values()))
    stt = {label: acc.cer_table(SpeechRecognizer(path).transcribe, test, denoised=label == "int8")
           for label, path in stt_models.items()}
    taggers = {"pitch": PitchVoiceTagger()}
    if ctx.int8.voice:
        taggers["learned int8"] = load_voice_tagger(ctx.int8.voice)
    if ctx.fp32 and ctx.fp32.voice and ctx.fp32.voice != ctx.int8.voice:
        taggers["learned fp32"] = load_voice_tagger(ctx.fp32.voice)
    voice = {label: acc.voice_table(lambda x, t=tagger: t.tag(x).voice, test)
             for label, tagger in taggers.items()}
    return {"utterances": len(ctx.clips), "audio_s": round(sum(c.duration_s for c in ctx.clips), 1),
            "noise": str(ctx.options.noise) if Path(ctx.options.noise).exists() else "generated home noise",
            "stt_cer": stt, "voice": voice, "stt_models": {k: str(v) for k, v in stt_models.items()}}
