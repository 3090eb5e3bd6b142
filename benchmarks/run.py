"""Run every benchmark of issue 6 and write JSON, Markdown and a chart to ``benchmarks/results/``.

Usage::

    .venv/bin/python -m benchmarks.run            # the full run (under 20 min on 2 cores)
    .venv/bin/python -m benchmarks.run --quick    # seconds of audio: checks the harness
    .venv/bin/python -m benchmarks.run --refresh-quotes  # the last run's report, the peer
                                                         # quotes and model sizes refreshed

Inputs: the test split ``data/manifests_v1/test.jsonl`` (held-out speakers), its
noise bank, household scenes (made with ``talkratio-train scenes`` on first use),
the bundled models in ``edge/assets/`` and the fp32 twins in ``benchmarks/models/``.
The peers are compared by ``benchmarks.peer_lengths`` (per utterance length and on
whole recordings); this run quotes its ``results/peers_by_length.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

from benchmarks import sections
from benchmarks.machine import REPO_ROOT, describe_machine, load_average
from benchmarks.report import write_outputs

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BenchOptions:
    """What one benchmark run measures and on how much audio."""

    quick: bool = False
    manifest: Path = REPO_ROOT / "data/manifests_v1/test.jsonl"
    noise: Path = REPO_ROOT / "data/corpus_v1/noise/noise.jsonl"
    work_dir: Path = REPO_ROOT / "data/bench_v1"
    out_dir: Path = REPO_ROOT / "benchmarks/results"
    stt: Path | None = None  # None: the bundled INT8 model
    voice: Path | None = None
    twins_dir: Path = REPO_ROOT / "benchmarks/models"
    accuracy_utterances: int = 160
    peer_results: Path = REPO_ROOT / "benchmarks/results/peers_by_length.json"
    scenes: int = 2
    scene_minutes: float = 2.5
    live_s: float = 300.0
    threads: tuple[int, ...] = (1, 2)
    overlap: bool = True  # accuracy beside the live run (saves its length in wall time)
    refresh_quotes: bool = False  # only re-quote the peers and re-size the models of the last run

    @classmethod
    def quick_run(cls, **changes) -> BenchOptions:
        return replace(cls(quick=True, accuracy_utterances=8, scenes=1,
                           scene_minutes=0.5, live_s=20.0), **changes)


def _section(results: dict, name: str, run: Callable[[], dict]) -> None:
    """Run one section; a failure is recorded in the results and the run goes on."""
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    started = time.perf_counter()
    try:
        results[name] = run()
    except Exception as exc:  # one broken section must not lose the others' figures
        log.exception("section %s failed", name)
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    results.setdefault("section_s", {})[name] = round(time.perf_counter() - started, 1)
    print(f"[{time.strftime('%H:%M:%S')}] {name} done in {results['section_s'][name]:.0f} s", flush=True)


def _live_beside_accuracy(results: dict, ctx: sections.Context) -> None:
    """The live run plays audio at real-time pace and is idle most of the time, so the
    accuracy evaluation (one thread, no timing) runs beside it on the other core."""
    live = threading.Thread(target=_section, args=(results, "live", lambda: sections.live(ctx)))
    live.start()
    _section(results, "accuracy", lambda: sections.accuracy(ctx))
    live.join()
    ctx.notes.append("the live run shared the machine with the accuracy evaluation (one thread)")


def run_benchmarks(options: BenchOptions, command: str) -> dict:
    started = time.perf_counter()
    machine = describe_machine()
    results: dict = {"command": command, "mode": "quick" if options.quick else "full",
                     "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ctx = sections.Context.build(options)
    _section(results, "models", lambda: sections.models(ctx))
    _section(results, "stages", lambda: sections.stages(ctx))
    _section(results, "ladder", lambda: sections.ladder(ctx))
    _section(results, "compute", lambda: sections.compute(ctx))
    _section(results, "peers", lambda: sections.peers_by_length(ctx))
    _section(results, "analyze", lambda: sections.analyze(ctx))
    if options.overlap:
        _live_beside_accuracy(results, ctx)
    else:
        _section(results, "live", lambda: sections.live(ctx))
        _section(results, "accuracy", lambda: sections.accuracy(ctx))
    machine = replace(machine, load_average_end=load_average(), notes=ctx.notes)
    results["machine"] = machine.to_json()
    results["inputs"] = ctx.describe()
    results["wall_s"] = round(time.perf_counter() - started, 1)
    return results


def refresh_quotes(options: BenchOptions, command: str) -> dict:
    """The last full run's results with what needs none of its inputs refreshed: the peer
    comparison (quoted from ``peers_by_length.json``) and the bundled files' sizes. The
    report says which figures were refreshed, when and at which commit."""
    results = json.loads((options.out_dir / "benchmark.json").read_text())
    results["peers"] = sections.peers_by_length(SimpleNamespace(options=options))
    assets = sections.bundled_assets()
    results["models"].update(bundled_files=assets,
                             bundled_total_mb=round(sum(a["bytes"] for a in assets) / sections.MB, 2))
    machine = describe_machine()
    results["machine"].setdefault("notes", []).append(
        f"refreshed {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} at commit {machine.git_commit} "
        f"(`{command}`): the peer quotes and the bundled files' sizes only; every other figure "
        "is the full run's")
    return results


def parse_args(argv: list[str] | None) -> BenchOptions:
    parser = argparse.ArgumentParser(description="talkratio benchmarks (issues 6, 9, 10, 12)")
    parser.add_argument("--quick", action="store_true", help="a few seconds of audio per section")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results)")
    parser.add_argument("--manifest", type=Path, help="test manifest (default data/manifests_v1/test.jsonl)")
    parser.add_argument("--stt-model", type=Path, help="STT INT8 model (default: bundled)")
    parser.add_argument("--voice-model", type=Path, help="voice INT8 model (default: bundled)")
    parser.add_argument("--live-seconds", type=float, help="length of the live run")
    parser.add_argument("--no-overlap", action="store_true",
                        help="run the accuracy evaluation after the live run, not beside it")
    parser.add_argument("--refresh-quotes", action="store_true",
                        help="rewrite the last report with fresh peer quotes and model sizes only")
    args = parser.parse_args(argv)
    changes = {k: v for k, v in {"out_dir": args.out, "manifest": args.manifest, "stt": args.stt_model,
                                 "voice": args.voice_model, "live_s": args.live_seconds}.items()
               if v is not None}
    if args.no_overlap:
        changes["overlap"] = False
    if args.refresh_quotes:
        changes["refresh_quotes"] = True
    return BenchOptions.quick_run(**changes) if args.quick else BenchOptions(**changes)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = parse_args(argv)
    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        if options.refresh_quotes:
            results = refresh_quotes(options, command.strip())
        else:
            results = run_benchmarks(options, command.strip())
    except sections.BenchmarkInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = write_outputs(results, options.out_dir, "quick" if options.quick else "benchmark")
    for path in paths:
        print(path)
    failed = [name for name, value in results.items() if isinstance(value, dict) and "error" in value]
    if failed:
        print(f"sections that failed: {', '.join(failed)}", file=sys.stderr)
    print(json.dumps(results.get("targets_summary", {}), ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
