"""The dashboard on a year of a talkative household: page latency and server memory.

``python -m benchmarks.web [--days 365] [--repeats 5]`` builds a store of DAYS busy
family days (about 1,250 utterances each: breakfast, lunch, dinner, bath and
bedtime talk; :func:`household_day`), starts ``talkratio serve`` on a free
loopback port, asks for every page REPEATS times and writes
``benchmarks/results/web.json`` and ``web.md``: the median and the slowest
answer per page, the server's resident memory (VmRSS) afterwards and the size of
the store. A year is the longest the default retention keeps.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

from benchmarks.machine import describe_machine, load_average
from edge.store import Store
from edge.utterance import Utterance

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
# (hour, minutes of family talk starting at hh:05)
BUSY_HOURS = ((7, 30), (8, 10), (12, 15), (18, 35), (19, 40), (20, 25), (21, 10))
VOICE_WEIGHTS = {"female": 5, "male": 3, "child": 3}
SPEAKERS = {"female": "mother", "male": "father"}  # as the recogniser names them unenrolled
LAST_DAY = date(2026, 11, 24)
PAGES = ("/?day={day}", "/week?day={day}", "/household", "/privacy", "/device")
STARTUP_LIMIT_S = 60.0


def said(wall: float, seconds: float, voice: str, text: str = "밥 먹자") -> Utterance:
    """One stored utterance of ``voice`` at Unix time ``wall`` (also the web tests' records)."""
    return Utterance(
        start=0.0,
        end=seconds,
        wall_start=wall,
        voice=voice,
        voice_prob=0.9,
        text=text,
        syllables=len(text.replace(" ", "")),
        eojeol=len(text.split()),
        transcribed=True,
        stt_model="ds2@bench",
        voice_model="voice@bench",
        source="benchmark",
        speaker=SPEAKERS.get(voice),
    )


def household_day(day: date, seed: int = 24) -> list[Utterance]:
    """A reproducible busy day: short turns among mother, father and child."""
    rng, talk = random.Random(seed), []
    for hour, minutes in BUSY_HOURS:
        t = datetime(day.year, day.month, day.day, hour, 5).astimezone().timestamp()
        end = t + minutes * 60
        while t < end:
            voice = rng.choices(list(VOICE_WEIGHTS), list(VOICE_WEIGHTS.values()))[0]
            length = rng.uniform(0.8, 2.5) if voice == "child" else rng.uniform(1.5, 6.0)
            talk.append(said(t, length, voice))
            t += length + rng.uniform(0.5, 9.0)
    return talk


def build_store(path: Path, days: int) -> int:
    with Store(path) as store:
        for n in range(days):
            store.add_many(household_day(LAST_DAY - timedelta(days=n), seed=n))
        return store.count()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("talkratio serve exited before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("talkratio serve did not answer in time")


def _timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
    return time.perf_counter() - started


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0


def measure(db: Path, repeats: int) -> dict:
    port = _free_port()
    command = [sys.executable, "-m", "edge.cli", "serve", "--db", str(db), "--port", str(port)]
    server = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, server)
        pages = {}
        for page in PAGES:
            path = page.format(day=LAST_DAY)
            times = [_timed_get(f"http://127.0.0.1:{port}{path}") for _ in range(repeats)]
            pages[path] = {"median_ms": statistics.median(times) * 1e3, "max_ms": max(times) * 1e3}
        return {"pages": pages, "server_rss_mb": _rss_mb(server.pid)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def write_results(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "web.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    rows = "\n".join(
        f"| `{path}` | {p['median_ms']:.0f} | {p['max_ms']:.0f} |"
        for path, p in result["pages"].items()
    )
    (out / "web.md").write_text(
        "# Dashboard on a year of a talkative household\n\n"
        f"`python -m benchmarks.web --days {result['days']} --repeats {result['repeats']}`: "
        f"{result['utterances']:,} utterances, store {result['store_mb']:.1f} MB; "
        f"server resident memory after every page {result['server_rss_mb']:.0f} MB.\n\n"
        "| page | median (ms) | slowest (ms) |\n|---|---:|---:|\n"
        f"{rows}\n\n"
        f"Machine: {result['machine']['cpu_model']}, load average at start "
        f"{result['machine']['load_average_start']}, at end {result['machine']['load_average_end']}.\n"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    machine = describe_machine()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "talkratio.db"
        utterances = build_store(db, args.days)
        store_mb = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
        measured = measure(db, args.repeats)
    machine_json = machine.to_json() | {"load_average_end": load_average()}
    result = {
        "days": args.days,
        "repeats": args.repeats,
        "utterances": utterances,
        "store_mb": store_mb,
        **measured,
        "machine": machine_json,
    }
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
