"""SIGKILL at a random moment during ``talkratio live``, many times, on one database.

After each kill: ``PRAGMA integrity_check`` must say ok, and every utterance that
``live`` printed before the kill (it prints only after the row is committed) must be in
the database. The kill moment is uniform over the run, so it lands in start-up, model
loading, capture, recognition and the middle of commits alike.

    python -m benchmarks.soak.sigkill --kills 100 --work data/soak/sigkill \\
        --out benchmarks/results/soak/sigkill.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "edge" / "assets" / "samples" / "household.wav"
SPEED = 8.0  # the 90 s sample in about 11 s: kills land before, during and after speech
KILL_WINDOW_S = (1.0, 12.0)  # start-up (imports, models) takes 2-6 s on two busy cores


def printed_lines(process: subprocess.Popen) -> tuple[list[dict], threading.Thread]:
    lines: list[dict] = []

    def read():
        for line in process.stdout:
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass  # a line cut by the kill was never a whole record

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


def stored_since(db: Path, after_id: int) -> tuple[str, list[tuple[float, float]], int]:
    """integrity_check's answer, the (start, end) of rows after ``after_id``, the last id."""
    if not db.exists():
        return "ok", [], after_id
    with sqlite3.connect(db) as raw:
        check = raw.execute("PRAGMA integrity_check").fetchone()[0]
        rows = raw.execute(
            "SELECT id, start_s, end_s FROM utterances WHERE id > ? ORDER BY id", (after_id,)
        ).fetchall()
    last = rows[-1][0] if rows else after_id
    return check, [(round(s, 3), round(e, 3)) for _, s, e in rows], last


def one_kill(db: Path, wait_s: float, last_id: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    argv = [sys.executable, "-m", "edge.cli", "live", "--input-file", str(SAMPLE),
            "--speed", str(SPEED), "--json", "--db", str(db)]
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    lines, reader = printed_lines(process)
    time.sleep(wait_s)
    finished = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait()
    reader.join()
    check, rows, new_last = stored_since(db, last_id)
    printed = [(round(u["start"], 3), round(u["end"], 3)) for u in lines]
    missing = [p for p in printed if p not in rows]
    return {
        "kill_after_s": round(wait_s, 2),
        "ended_before_kill": finished,
        "printed": len(printed),
        "stored": len(rows),
        "integrity": check,
        "missing": missing,
        "last_id": new_last,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--work", type=Path, default=Path("data/soak/sigkill"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/soak/sigkill.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "talkratio.db"
    for leftover in args.work.glob("talkratio.db*"):
        leftover.unlink()
    rng = np.random.default_rng(args.seed)
    runs, last_id = [], 0
    for i in range(args.kills):
        run = one_kill(db, float(rng.uniform(*KILL_WINDOW_S)), last_id)
        last_id = run.pop("last_id")
        runs.append(run)
        print(i, json.dumps(run), flush=True)
    report = {
        "kills": len(runs),
        "speed": SPEED,
        "kill_window_s": KILL_WINDOW_S,
        "integrity_ok": sum(r["integrity"] == "ok" for r in runs),
        "printed_total": sum(r["printed"] for r in runs),
        "stored_total": sum(r["stored"] for r in runs),
        "printed_but_missing": sum(len(r["missing"]) for r in runs),
        "killed_mid_capture": sum(r["printed"] > 0 and not r["ended_before_kill"] for r in runs),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}))


if __name__ == "__main__":
    main()
