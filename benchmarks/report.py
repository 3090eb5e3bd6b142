"""Results to files: the targets judged, a Markdown report, a PNG chart and the JSON itself."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.machine import repo_relative
from benchmarks.sections import SCENE_KEYS
from benchmarks.stages import STAGES
from edge.sources import LIVE_BLOCK_SECONDS

RTF_TARGET = 0.02  # whole pipeline, 1 thread, bundled models (issues 9, 10, 12)
LAST_WORD_P95_TARGET_MS = 400.0  # speaker's last word -> stored record, utterances up to 8 s (issue 10)
PEER_UTTERANCE_RATIO_TARGET = 20.0  # less CPU than whisper-base INT8 on utterances up to 8 s (issue 12)
PEER_RECORDING_RATIO_TARGET = 10.0  # ... and on whole household recordings with its VAD filter
PEER_UTTERANCE_MAX_S = 8  # the longest utterance length the per-utterance ratio covers
OLD_LIVE_RSS_BUDGET_MIB = 200.0  # the first benchmark's ceiling, kept as a reading beside "flat"
MODELS_TARGET_MB = 30.0  # everything in edge/assets the runtime loads (ONNX models + LM)
STAGE_TITLES = {"decode": "decode", "vad": "vad (webrtc+silero)", "speaker": "speaker embedding",
                "voice": "voice", "stt": "stt", "store": "store"}


@dataclass(frozen=True)
class Target:
    name: str
    target: str
    measured: str
    passed: bool | None  # None: could not be measured in this run
    detail: str

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("pass" if self.passed else "MISS")


def _run(results: dict, models: str, threads: int, audio: str = "scenes") -> dict | None:
    for run in results.get("stages", {}).get("runs", []):
        if (run["models"], run["threads"], run["audio"]) == (models, threads, audio):
            return run
    return None


def _dominant(run: dict) -> str:
    rtf = {k: v for k, v in run["rtf"].items() if k in STAGES}
    name = max(rtf, key=rtf.get)
    return f"{name} is {rtf[name] / max(run['rtf']['sum'], 1e-12):.0%} of the stage sum"


def _rtf_target(results: dict) -> Target:
    name, goal = "whole-pipeline RTF, 1 thread (CPU time)", f"<= {RTF_TARGET}"
    run = _run(results, "int8", 1)
    if run is None or "whole" not in run["rtf"]:
        return Target(name, goal, "-", None, "not measured")
    wall = run["rtf"]["whole"]
    rtf = run["rtf"].get("whole_cpu", wall)  # CPU time: what the work costs, whatever else runs
    edge = next((r for r in results["stages"]["runs"] if r["models"] == "edge-untrained"), None)
    preset = results.get("models", {}).get("bundled_stt_preset") or "unknown preset"
    beside = (f"edge preset (untrained weights): {edge['rtf'].get('whole_cpu', edge['rtf']['whole']):.4f}"
              if edge else f"bundled model is the {preset} preset")
    detail = (f"wall clock {wall:.4f} (an upper bound on a shared machine); bundled = {preset}; "
              f"{beside}; {_dominant(run)}")
    if rtf > RTF_TARGET:
        detail = f"{rtf / RTF_TARGET:.1f}x over; " + detail
    return Target(name, goal, f"{rtf:.4f}", rtf <= RTF_TARGET, detail)


def _live_rtf_target(results: dict) -> Target:
    """The device's own path: ``talkratio live`` reads the microphone in 32 ms blocks, and
    the VAD then judges a few windows per call (one where an utterance could end), not a
    second's as on files."""
    name, goal = "live capture RTF, 1 thread (CPU time, whole process)", f"<= {RTF_TARGET}"
    live = results.get("live", {})
    rtf = live.get("cpu_s_per_audio_s")
    if rtf is None:
        return Target(name, goal, "-", None, live.get("error", "not measured"))
    detail = (f"talkratio live --input-file at real-time pace in {LIVE_BLOCK_SECONDS * 1000:.0f} ms "
              f"blocks, as from the microphone; {live['audio_s']:.0f} s of audio, start-up and model "
              "loading included")
    file_run = _run(results, "int8", 1)
    if file_run is not None and "whole_cpu" in file_run["rtf"]:
        detail += f"; the same pipeline on files (10 s blocks): {file_run['rtf']['whole_cpu']:.4f}"
    if rtf > RTF_TARGET:
        detail = f"{rtf / RTF_TARGET:.1f}x over; " + detail
    return Target(name, goal, f"{rtf:.4f}", rtf <= RTF_TARGET, detail)


def _latency_target(results: dict) -> Target:
    name, goal = "last word -> stored record, p95, utterances <= 8 s", f"<= {LAST_WORD_P95_TARGET_MS:.0f} ms"
    live = results.get("live", {})
    stats = live.get("latency_speech_end_to_stored", {})
    if not stats.get("count"):
        return Target(name, goal, "-", None, live.get("error", "no utterance stored"))
    p95 = stats["p95_ms"]
    decided = live.get("latency_detected_to_stored", {})
    detail = (f"{stats['count']} utterances; p50 {stats['p50_ms']:.0f} ms, max {stats['max_ms']:.0f} ms "
              f"(wall clock: an upper bound on a shared machine); of which the VAD's decision -> stored "
              f"(recognition and the store) p95 {decided.get('p95_ms', math.nan):.0f} ms, "
              f"max {decided.get('max_ms', math.nan):.0f} ms")
    ends = live.get("latency_speech_end_to_stored_segment_ends", {})
    if ends.get("count"):
        detail += (f"; the {ends['count']} utterances that end their VAD segment (not the first part of a "
                   f"segment cut at a change of voice): p95 {ends['p95_ms']:.0f} ms")
    if p95 > LAST_WORD_P95_TARGET_MS:
        detail = f"{p95 - LAST_WORD_P95_TARGET_MS:.0f} ms over; " + detail
    return Target(name, goal, f"{p95:.0f} ms", p95 <= LAST_WORD_P95_TARGET_MS, detail)


def _peer_targets(results: dict) -> list[Target]:
    """Issue 12's two ratios, quoted from ``benchmarks.peer_lengths``' own run (CPU time)."""
    peers = results.get("peers", {})
    names = (f"CPU vs whisper-base INT8, utterances 1-{PEER_UTTERANCE_MAX_S} s (peers_by_length)",
             "CPU vs whisper-base INT8 + VAD filter, whole recordings (peers_by_length)")
    goals = (f">= {PEER_UTTERANCE_RATIO_TARGET:.0f}x less", f">= {PEER_RECORDING_RATIO_TARGET:.0f}x less")
    if not peers.get("available"):
        return [Target(n, g, "-", None, peers.get("note", peers.get("error", "not run"))) for n, g in zip(names, goals, strict=True)]
    quoted = f"quoted from {peers['report']} (its own run, {peers['measured_utc']}), not this run"
    short = [r for r in peers["cpu_ratio_by_length"] if r["target_s"] <= PEER_UTTERANCE_MAX_S and "talkratio" in r]
    whole = [r for r in peers["cpu_ratio_whole_recordings"] if "talkratio" in r]
    targets = []
    for name, goal, goal_x, rows, key in ((names[0], goals[0], PEER_UTTERANCE_RATIO_TARGET, short, "target_s"),
                                          (names[1], goals[1], PEER_RECORDING_RATIO_TARGET, whole, "file")):
        if not rows:
            targets.append(Target(name, goal, "-", None, f"no talkratio row in {peers['report']}"))
            continue
        worst = min(rows, key=lambda r: r["talkratio"])
        each = ", ".join(f"{r[key]}{' s' if key == 'target_s' else ''} {r['talkratio']}x" for r in rows)
        targets.append(Target(name, goal, f"{worst['talkratio']:.1f}x less", worst["talkratio"] >= goal_x,
                              f"smallest of: {each}; {quoted}"))
    return targets


def _memory_target(results: dict) -> Target:
    name, goal = "live run peak RSS, flat", "no growth"
    memory = results.get("live", {}).get("memory")
    if not memory:
        return Target(name, goal, "-", None, results.get("live", {}).get("error", "not run"))
    peak, slope = memory["peak_rss_mib"], memory["slope"]
    floor = results.get("analyze", {}).get("import_floor_rss_mib")
    budget = "within" if peak <= OLD_LIVE_RSS_BUDGET_MIB else "over"
    detail = (f"peak {peak:.0f} MiB ({budget} the first benchmark's {OLD_LIVE_RSS_BUDGET_MIB:.0f} MiB); "
              f"{memory['wall_s'] / 60:.1f} min run; median RSS of the last third vs the middle third "
              f"{slope['growth_mib']:+.1f} MiB (peaks {slope.get('peak_growth_mib', math.nan):+.1f} MiB), "
              f"fitted {slope['mib_per_hour']:+.1f} MiB/h; Python + numpy + onnxruntime alone: {floor} MiB")
    return Target(name, goal, f"{peak:.0f} MiB, {'flat' if slope['flat'] else 'growing'}", slope["flat"], detail)


def _size_target(results: dict) -> Target:
    name, goal = "bundled models together (edge/assets *.onnx + LM)", f"<= {MODELS_TARGET_MB:.0f} MB"
    models = results.get("models", {})
    if "bundled_total_mb" not in models:
        return Target(name, goal, "-", None, "not measured")
    total = models["bundled_total_mb"]
    parts = ", ".join(f"{a['file']} {a['mb']:.2f} MB" for a in models.get("bundled_files", []))
    return Target(name, goal, f"{total:.1f} MB", total <= MODELS_TARGET_MB, parts)


def judge_targets(results: dict) -> list[Target]:
    return [_rtf_target(results), _live_rtf_target(results), _latency_target(results), *_peer_targets(results),
            _memory_target(results), _size_target(results)]


# --------------------------------------------------------------------------- Markdown


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _stage_rows(results: dict, audio: str) -> list[list]:
    rows = []
    for run in results.get("stages", {}).get("runs", []):
        if run["audio"] != audio:
            continue
        rtf = run["rtf"]
        rows.append([run["models"], run["threads"], *[_fmt(rtf.get(s)) for s in STAGES],
                     _fmt(rtf.get("sum")), _fmt(rtf.get("whole")), _fmt(rtf.get("whole_cpu"))])
    return rows


def _speed_section(results: dict) -> list[str]:
    stages = results.get("stages", {})
    lines = [f"## Real-time factor per stage ({stages.get('scene_audio_s', '?')} s of household scenes)", ""]
    header = ["models", "threads", *[STAGE_TITLES[s] for s in STAGES], "sum", "whole pipeline (wall)",
              "whole pipeline (CPU)"]
    lines += _table(header, _stage_rows(results, "scenes"))
    lines += ["Single utterances (1, 2, 4, 8, 15 s; no VAD):", ""]
    lines += _table(header, _stage_rows(results, "utterances"))
    scenes = stages.get("scene_statistics", [])
    if scenes:
        lines += ["What `analyze` found in each scene (bundled INT8, 1 thread) against the scene's truth:", ""]
        keys = SCENE_KEYS
        lines += _table(["scene", *[f"{k} truth / measured" for k in keys]],
                        [[row["scene"], *[f"{_fmt(row.get(k + '_truth'), 3)} / {_fmt(row.get(k + '_measured'), 3)}"
                                          for k in keys]] for row in scenes])
    rows = [[r["models"], r["threads"], r["audio_s"], r["speaker_ms"], r["voice_ms"], r["stt_ms"],
             r["total_ms"], r["rtf"]] for r in results.get("ladder", {}).get("rows", [])]
    lines += ["## Recognising one utterance (best of 3)", ""]
    lines += _table(["models", "threads", "audio s", "speaker embedding ms", "voice ms", "STT ms", "total ms",
                     "RTF"], rows)
    return lines


def _live_section(results: dict) -> list[str]:
    live, analyze = results.get("live", {}), results.get("analyze", {})
    lines = ["## Live path: latency and memory", ""]
    if "memory" in live:
        a, b, m = live["latency_detected_to_stored"], live["latency_speech_end_to_stored"], live["memory"]
        lines += _table(["latency (utterances <= 8 s, wall clock)", "count", "p50 ms", "p95 ms", "max ms"],
                        [["last word (the utterance's stored end of speech) -> stored", b["count"], b["p50_ms"],
                          b["p95_ms"], b["max_ms"]],
                         ["VAD decides speech ended -> stored", a["count"], a["p50_ms"], a["p95_ms"], a["max_ms"]]]
                        + [["last word -> stored, utterances that end their VAD segment", c["count"], c["p50_ms"],
                            c["p95_ms"], c["max_ms"]] for c in [live.get("latency_speech_end_to_stored_segment_ends")]
                           if c])
        lines += [f"`talkratio live --input-file` on {live['audio_s']:.0f} s of scenes at real-time pace: "
                  f"{live['utterances']} utterances stored ({live['transcribed']} transcribed); peak RSS "
                  f"{m['peak_rss_mib']} MiB; the median RSS of the last third is {m['slope']['growth_mib']:+.2f} MiB from "
                  f"the middle third's (peaks {m['slope'].get('peak_growth_mib', math.nan):+.2f} MiB), fitted slope {m['slope']['mib_per_hour']:+.1f} MiB/h. The recording starts with a "
                  f"15 s utterance, the longest the segmenter passes, so buffers reach full size in the warm-up "
                  f"third.", ""]
    for run in analyze.get("runs", []):
        lines += [f"`talkratio analyze` on {run['audio_s']} s: peak RSS {run['peak_rss_mib']} MiB in "
                  f"{run['wall_s']} s.", ""]
    if "import_floor_rss_mib" in analyze:
        lines += [f"Python with numpy, onnxruntime, webrtcvad and soundfile imported, nothing else: "
                  f"{analyze['import_floor_rss_mib']} MiB.", ""]
    return lines


def _accuracy_section(results: dict) -> list[str]:
    accuracy = results.get("accuracy", {})
    if "stt_cer" not in accuracy:
        return ["## Accuracy", "", f"not measured: {accuracy.get('error', 'skipped')}", ""]
    lines = [f"## Accuracy ({accuracy['utterances']} held-out utterances, {accuracy['audio_s']} s; "
             f"noise: {accuracy['noise']}; +nr = noisereduce before the model)", ""]
    conditions = sorted({c for t in accuracy["stt_cer"].values() for c in t}, key=_condition_order)
    lines += _table(["STT model", *[f"CER {c}" for c in conditions]],
                    [[label, *[_fmt(t.get(c), 3) for c in conditions]] for label, t in accuracy["stt_cer"].items()])
    conditions = sorted({c for t in accuracy["voice"].values() for c in t}, key=_condition_order)
    rows = [[label, *[f"{t[c]['accuracy']:.3f} / {t[c]['f1_macro']:.3f} / {t[c]['decided']:.0%}" if c in t else "-"
                      for c in conditions]] for label, t in accuracy["voice"].items()]
    lines += _table(["voice tagger (accuracy / macro F1 / decided)", *conditions], rows)
    lines += ["Accuracy counts an `unknown` answer as a miss; decided = share not `unknown`.", ""]
    return lines


def _condition_order(condition: str) -> tuple[int, int]:
    base = condition.replace("+nr", "")
    return ({"clean": 0, "snr_10": 1, "snr_5": 2}.get(base, 3), condition.endswith("+nr"))


def _peers_section(results: dict) -> list[str]:
    peers = results.get("peers", {})
    if not peers.get("available"):
        return ["## Peers", "", f"not quoted: {peers.get('note', peers.get('error', 'skipped'))}", ""]
    lines = ["## Peers (quoted from `peers_by_length`)", "",
             f"The peers are measured by `{peers['command']}` ({peers['measured_utc']}), per utterance length "
             f"and on whole recordings, in CPU time: see [peers_by_length.md](peers_by_length.md). Its CPU "
             "ratios (whisper-base INT8 / engine):", ""]
    engines = sorted({k for r in peers["cpu_ratio_by_length"] for k in r if k != "target_s"})
    lines += _table(["utterance length", *engines],
                    [[f"{r['target_s']} s", *[f"{r.get(e, math.nan):.1f}x" for e in engines]]
                     for r in peers["cpu_ratio_by_length"]])
    lines += _table(["whole recording (whisper with its VAD filter)", *engines],
                    [[r["file"], *[f"{r.get(e, math.nan):.1f}x" for e in engines]]
                     for r in peers["cpu_ratio_whole_recordings"]])
    return lines


def _models_section(results: dict) -> list[str]:
    models, compute = results.get("models", {}), results.get("compute", {})
    lines = ["## Models, size and arithmetic", ""]
    rows = [[p["preset"], p["parameters_m"], p["gmacs_per_audio_s"], p["features"], p["vocab"]]
            for p in models.get("presets", [])]
    lines += _table(["DS2 preset", "parameters (M)", "GMAC per s of audio", "features", "vocab"], rows)
    lines += [f"- bundled file `edge/assets/{a['file']}`: {a['mb']} MB" for a in models.get("bundled_files", [])]
    for kind, m in models.get("bundled", {}).items():
        if m.get("present"):
            lines.append(f"- bundled {kind}: `{m.get('name', '?')}` {m.get('version', '')}, {m.get('mb')} MB, "
                         f"{m.get('parameters', 0) / 1e6:.2f} M parameters; trained on: {m.get('trained_on') or '?'}")
    if models.get("bundled_stt_preset"):
        lines.append(f"- the bundled STT model has the parameter count of the `{models['bundled_stt_preset']}` preset")
    lines.append("")
    if "peak" in compute:
        peak = compute["peak"]
        lines += [f"CPU reference (onnxruntime, 1 thread): {peak['square_size']}² matmul fp32 "
                  f"{peak['fp32_square_gmacs']} GMAC/s, INT8 {peak['int8_square_gmacs']} GMAC/s; one row at a time "
                  f"({peak.get('row_chain', '?')} chained {peak['row_shape']} products, as an LSTM step) "
                  f"fp32 {peak['fp32_row_gmacs']}, INT8 {peak['int8_row_gmacs']} GMAC/s.", ""]
        rows = [[label, s["gmacs_per_audio_s"], s["session_rtf"], s["achieved_gmacs"],
                 f"{s['share_of_square_peak']:.0%}", f"{s['share_of_row_peak']:.0%}", s["rtf_at_square_peak"]]
                for label, s in compute.get("stt", {}).items()]
        lines += _table(["STT model", "GMAC per s audio", "session RTF", "achieved GMAC/s", "of matmul peak",
                         "of one-row peak", "RTF at matmul peak"], rows)
    return lines


def markdown(results: dict, targets: list[Target], chart: str | None) -> str:
    machine = results.get("machine", {})
    lines = [f"# talkratio benchmark ({results['mode']} run, {results['started_utc']})", "",
             f"Command: `{results['command']}` — {results.get('wall_s', 0) / 60:.1f} min.", "",
             f"Machine: {machine.get('cpu_model')} ({', '.join(machine.get('cpu_flags', []))}), "
             f"{machine.get('usable_cpus')} CPUs, {machine.get('memory_gib')} GiB, Python {machine.get('python')}, "
             f"onnxruntime {machine.get('packages', {}).get('onnxruntime')}, numpy "
             f"{machine.get('packages', {}).get('numpy')}; commit {machine.get('git_commit')}; load average "
             f"{machine.get('load_average_start')} at start, {machine.get('load_average_end')} at end.", ""]
    if results["mode"] == "quick":
        lines += ["**Quick run**: seconds of audio per section, to check the harness; its verdicts "
                  "are not the targets' (a 20 s live run is mostly warm-up).", ""]
    lines += ["## Targets", ""]
    lines += _table(["target", "goal", "measured", "result", "detail"],
                    [[t.name, t.target, t.measured, t.verdict, t.detail] for t in targets])
    if chart:
        lines += [f"![benchmark chart]({chart})", ""]
    lines += _speed_section(results) + _live_section(results) + _peers_section(results)
    lines += _accuracy_section(results) + _models_section(results)
    notes = machine.get("notes", []) + [f"{k}: {v['error']}" for k, v in results.items()
                                        if isinstance(v, dict) and "error" in v]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def write_outputs(results: dict, out_dir: Path, stem: str) -> list[Path]:
    """``STEM.json``, ``STEM.md`` and ``STEM.png`` in ``out_dir``; returns their paths."""
    from benchmarks.chart import draw_chart

    out_dir.mkdir(parents=True, exist_ok=True)
    results.update(repo_relative(results))
    targets = judge_targets(results)
    results["targets"] = [asdict(t) | {"verdict": t.verdict} for t in targets]
    results["targets_summary"] = {t.name: f"{t.measured} ({t.verdict})" for t in targets}
    png = out_dir / f"{stem}.png"
    chart = png.name if draw_chart(results, png) else None
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.md"]
    paths[0].write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(results, targets, chart), encoding="utf-8")
    return paths + ([png] if chart else [])
