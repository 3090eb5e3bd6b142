"""Where the CPU time of ``talkratio analyze`` goes, on one thread.

Three views of one recording (default: the bundled ``household.wav``):

- **the whole command**, each step in a fresh child process (interpreter alone;
  the imports of ``talkratio analyze``; the imports and loading the models; the
  whole ``talkratio analyze FILE --json``): user + system CPU seconds of the
  child (``getrusage(RUSAGE_CHILDREN)``), median of ``--repeats``;
- **the analysis** with the models loaded (``analyze_file``, what
  ``benchmarks.peer_lengths`` compares with whisper), split into parts by timing
  each part's entry point in CPU seconds: the neural VAD's calls, the speaker
  encoder (its mel front end, its ONNX session), the pitch track, the speaker
  change search, the voice tag, STT; the rest is the segmenter's Python, reading
  and resampling the file, and the records; median of ``--repeats``;
- **the neural VAD alone** over every 32 ms window of the recording: one window
  per call against 32 per call (the segmenter's lookahead), and, given
  ``--silero-wheel``, the graph as the Silero wheel ships it;
- given ``--scenes``, **the whole pipeline on those recordings** (the main
  benchmark's stage table: ``benchmarks.stages.stage_costs``, wall seconds per
  stage, and the whole pipeline in wall and CPU seconds) on one and two threads.

Usage::

    python -m benchmarks.cpu_profile --out benchmarks/results \
        --scenes data/bench_v1/scenes_2x2.5min/scene_000.wav data/bench_v1/scenes_2x2.5min/scene_001.wav

Writes ``NAME.json`` and ``NAME.md`` (``--name``, default ``cpu_profile``). It
also runs on an older checkout (parts it cannot find there are left out): run
this file with that checkout first on ``PYTHONPATH`` for a "before".
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

# the checkout whose ``edge`` is imported (an older one, given on PYTHONPATH, for a "before")
REPO_ROOT = Path(importlib.util.find_spec("edge").origin).resolve().parent.parent
HOUSEHOLD = REPO_ROOT / "edge/assets/samples/household.wav"
LOOKAHEAD_WINDOWS = 32  # what the segmenter judges per call while the model is awake
WHEEL_MODEL = "silero_vad/data/silero_vad.onnx"
# (module, owner attribute path, label): the parts of the analysis, timed where they are entered
PARTS = (
    ("edge.vad", "NeuralVad.probabilities", "neural VAD (Silero) calls"),
    ("edge.vad", "NeuralVad.window_probability", "neural VAD (Silero) calls"),
    ("edge.speaker", "SpeakerEncoder._run", "speaker encoder, ONNX"),
    ("edge.speaker", "SpeakerEncoder.mels", "speaker encoder, mel front end"),
    ("edge.voice_change", "track_pitch", "pitch track"),
    ("edge.voice_change", "speaker_changes", "speaker change search"),
    ("edge.stt", "SpeechRecognizer.transcribe", "STT (features, ONNX, decoding)"),
)
STEPS = (  # the whole command's fixed costs: (label, python code run in a fresh process)
    ("python -c pass (the interpreter)", "pass"),
    ("import what `talkratio analyze --json` imports",
     "import edge.cli, edge.pipeline, edge.recognition, edge.voice, edge.stt, edge.speaker"),
    ("import edge.recognition and load the models",
     "from edge.recognition import load_recognizers; load_recognizers()"),
)


def _child_cpu(command: list[str], repeats: int) -> dict:
    """Median user + system CPU seconds of ``command`` in a fresh process, each run listed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    runs = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        runs.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {"cpu_s": round(statistics.median(runs), 3), "cpu_s_runs": [round(r, 3) for r in runs]}


def whole_command(recording: Path, repeats: int) -> list[dict]:
    """The whole command and the steps that lead up to it, each in a fresh process."""
    rows = [{"step": label, **_child_cpu([sys.executable, "-c", code], repeats)}
            for label, code in STEPS]
    analyze = [sys.executable, "-m", "edge.cli", "analyze", str(recording), "--json"]
    rows.append({"step": "talkratio analyze FILE --json", **_child_cpu(analyze, repeats)})
    return rows


def _wrap_parts(spent: Counter) -> None:
    """Replace each part's entry point by one that adds its CPU seconds to ``spent``."""
    import importlib

    for module_name, path, label in PARTS:
        owner = importlib.import_module(module_name)
        *outer, name = path.split(".")
        for attr in outer:
            owner = getattr(owner, attr)
        if not hasattr(owner, name):
            continue  # an older checkout: the part is not there
        setattr(owner, name, _timed(getattr(owner, name), label, spent))


def _timed(function, label: str, spent: Counter):
    def run(*args, **kwargs):
        if spent.get("_inside"):  # a part inside another part (window_probability) counts once
            return function(*args, **kwargs)
        spent["_inside"] = 1
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
            spent["_inside"] = 0

    return run


def analysis_parts(recording: Path, repeats: int) -> dict:
    """CPU seconds of ``analyze_file`` and of each part, the run with the median total."""
    from edge.pipeline import analyze_file
    from edge.recognition import load_recognizers

    spent: Counter = Counter()
    _wrap_parts(spent)
    recognizers = load_recognizers(None, None, threads=1)
    voice_tag = type(recognizers.voice).tag
    type(recognizers.voice).tag = _timed(voice_tag, "voice tag", spent)
    analyze_file(recording, recognizers)  # warm-up: first-call caches
    runs = []
    for _ in range(repeats):
        spent.clear()
        started = time.process_time()
        analyze_file(recording, recognizers)
        runs.append((time.process_time() - started, {k: v for k, v in spent.items() if k != "_inside"}))
    total, parts = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    parts["rest: segmenter Python, reading the file, records"] = total - sum(parts.values())
    return {"cpu_s": round(total, 3), "cpu_s_runs": [round(r[0], 3) for r in runs],
            "parts": {k: round(v, 3) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])}}


def _vad_windows(recording: Path, window: int) -> np.ndarray:
    """The recording as ``(W, window)`` consecutive windows (a partial last one dropped)."""
    from edge.audio import load_audio

    audio = load_audio(recording)
    return audio[: audio.size // window * window].reshape(-1, window)


def vad_alone(recording: Path, repeats: int, wheel: Path | None) -> dict:
    """CPU seconds of the neural VAD over every window of the recording, by calls of 1 and 32."""
    from edge.vad import NeuralVad

    out = {}
    vad = NeuralVad()
    windows = _vad_windows(recording, vad.window_samples)
    out["windows"] = int(windows.shape[0])
    batched = getattr(vad, "batched", False)  # an older checkout judged one window per call
    for per_call in (1, LOOKAHEAD_WINDOWS) if batched else (1,):
        out[f"bundled, {per_call} per call"] = _vad_cpu(vad, windows, per_call, repeats)
    if wheel is not None:
        out["Silero wheel graph, 1 per call"] = _wheel_cpu(wheel, windows, repeats)
    return out


def _vad_cpu(vad, windows: np.ndarray, per_call: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        vad.reset()
        started = time.process_time()
        for i in range(0, windows.shape[0], per_call):
            if per_call == 1:
                vad.window_probability(windows[i])
            else:
                vad.probabilities(windows[i : i + per_call])
        runs.append(time.process_time() - started)
    return round(statistics.median(runs), 3)


def _wheel_cpu(wheel: Path, windows: np.ndarray, repeats: int) -> float:
    """The wheel's own graph, one window per call, its state carried (as its wrapper does)."""
    import onnxruntime as ort  # after edge: its package sets the telemetry switch first

    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "silero_vad.onnx"
        path.write_bytes(archive.read(WHEEL_MODEL))
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    context = _vad_windows_with_context(windows)
    runs = []
    for _ in range(repeats):
        state, rate = np.zeros((2, 1, 128), np.float32), np.array(16000, np.int64)
        started = time.process_time()
        for x in context:
            _, state = session.run(None, {"input": x[None], "state": state, "sr": rate})
        runs.append(time.process_time() - started)
    return round(statistics.median(runs), 3)


def _vad_windows_with_context(windows: np.ndarray, context: int = 64) -> np.ndarray:
    stream = np.concatenate([np.zeros(context, np.float32), windows.ravel()])
    width = windows.shape[1] + context
    return np.lib.stride_tricks.sliding_window_view(stream, width)[:: windows.shape[1]].copy()


def scene_stages(scenes: list[Path], threads: int) -> dict:
    """The main benchmark's stage table row for the bundled INT8 models on ``threads``."""
    from benchmarks.stages import stage_costs, warm_up
    from edge.recognition import load_recognizers

    recognizers = load_recognizers(None, None, threads=threads)
    warm_up(recognizers)
    return {"threads": threads, **stage_costs(scenes, recognizers).to_json()}


def _scene_lines(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    stages = [k for k in rows[0]["rtf"] if k not in ("sum", "whole", "whole_cpu")]
    lines = ["", f"## The whole pipeline on {len(rows[0]['scenes'])} recordings, "
             f"{rows[0]['audio_s']:.0f} s (RTF; stages in wall seconds, as `benchmarks.run`)\n",
             "| threads | " + " | ".join(stages) + " | sum | whole pipeline (wall) | whole pipeline (CPU) |",
             "|---" * (len(stages) + 4) + "|"]
    for row in rows:
        rtf = row["rtf"]
        cells = [f"{rtf[k]:.4f}" for k in (*stages, "sum", "whole", "whole_cpu")]
        lines.append(f"| {row['threads']} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:
    lines = [f"# Where the CPU time of `talkratio analyze` goes\n\nCommand: `{result['command']}`; "
             f"recording `{result['recording']}` ({result['audio_s']:.1f} s); one thread; commit "
             f"{result['commit']}; load average {result['load_average']} (a shared machine: CPU "
             "seconds, not wall seconds).\n",
             "## The whole command and its fixed costs (a fresh process each run; the last row is "
             "all of it: typer's argument parsing also imports pydantic)\n",
             "| step | CPU s (median) | runs |", "|---|---|---|"]
    lines += [f"| {r['step']} | {r['cpu_s']:.3f} | {', '.join(f'{c:.2f}' for c in r['cpu_s_runs'])} |"
              for r in result["whole_command"]]
    analysis = result["analysis"]
    lines += ["", f"## The analysis, models loaded: {analysis['cpu_s']:.3f} CPU s "
              f"(RTF {analysis['cpu_s'] / result['audio_s']:.4f}; runs "
              f"{', '.join(f'{c:.3f}' for c in analysis['cpu_s_runs'])})\n",
              "| part | CPU s | share |", "|---|---|---|"]
    lines += [f"| {k} | {v:.3f} | {v / analysis['cpu_s']:.0%} |" for k, v in analysis["parts"].items()]
    vad = result["vad_alone"]
    lines += ["", f"## The neural VAD alone, all {vad['windows']} windows of 32 ms\n",
              "| graph, windows per call | CPU s |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in vad.items() if k != "windows"]
    lines += _scene_lines(result.get("scenes", []))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recording", type=Path, default=HOUSEHOLD)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/results")
    parser.add_argument("--silero-wheel", type=Path, help="silero_vad-6.2.3-py3-none-any.whl")
    parser.add_argument("--scenes", type=Path, nargs="*", default=[], help="recordings for the stage table")
    parser.add_argument("--name", default="cpu_profile", help="results file name (no suffix)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    from benchmarks.machine import describe_machine, load_average
    from edge.audio import SAMPLE_RATE, load_audio

    invoked = "python -m benchmarks.cpu_profile" if __spec__ else f"PYTHONPATH={REPO_ROOT} python {sys.argv[0]}"
    command = f"{invoked} " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command.strip(), "recording": args.recording.name,
              "audio_s": load_audio(args.recording).size / SAMPLE_RATE,
              "commit": describe_machine().git_commit, "load_average": load_average(),
              "whole_command": whole_command(args.recording, args.repeats),
              "analysis": analysis_parts(args.recording, args.repeats),
              "vad_alone": vad_alone(args.recording, args.repeats, args.silero_wheel),
              "scenes": [{"scenes": [p.name for p in args.scenes], **scene_stages(args.scenes, t)}
                         for t in (1, 2) if args.scenes]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"{args.name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
