"""200+ generated bad inputs through ``analyze`` and ``live --input-file``.

Every input must end in a correct result (exit 0 and DESIGN.md's JSON; for a valid
recording of the reference clip, its speech time within ``SPEECH_TOLERANCE_S`` of the
clip's own) or in one clear sentence (one ``error:`` line on stderr, non-zero exit), never a
traceback or a hang. The commands run in this process (typer's CliRunner) so that
200 x 2 runs fit in minutes; each run gets ``HANG_LIMIT_S`` on a watchdog thread.

    python -m benchmarks.soak.bad_inputs --work data/soak/bad_inputs \\
        --out benchmarks/results/soak/bad_inputs.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "edge" / "assets" / "samples" / "household.wav"
CLIP_S = 4.0  # the first 4 s of the household sample: one mother utterance
HANG_LIMIT_S = 120.0  # a run longer than this on two busy cores is a hang
SPEECH_TOLERANCE_S = 0.6  # lossy codecs and 8 kHz move the speech edges by a few frames
RATES_HZ = (8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000)
WAV_SUBTYPES = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW",
                "IMA_ADPCM", "MS_ADPCM", "GSM610")
FLAC_SUBTYPES = ("PCM_S8", "PCM_16", "PCM_24")


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    kind: str  # "valid" (must analyse to the clip's speech), "odd" (result or sentence)


def clip() -> tuple[np.ndarray, int]:
    samples, rate = sf.read(SAMPLE, dtype="float32")
    return samples[: int(CLIP_S * rate)], rate


def resampled(samples: np.ndarray, rate: int, to: int) -> np.ndarray:
    import soxr

    return soxr.resample(samples, rate, to).astype(np.float32)


def generate(work: Path) -> list[Case]:
    """Write every input under ``work``; returns them with what they must give."""
    work.mkdir(parents=True, exist_ok=True)
    samples, rate = clip()
    cases: list[Case] = []
    for make in (_formats, _channels_and_rates, _damaged, _odd_content, _not_audio):
        cases.extend(make(work, samples, rate))
    return cases


def _write(path: Path, samples, rate, subtype=None, fmt=None) -> Path:
    sf.write(path, samples, rate, subtype=subtype, format=fmt)
    return path


def _formats(work, samples, rate) -> Iterator[Case]:
    for subtype in WAV_SUBTYPES:
        at = 8_000 if subtype == "GSM610" else rate  # GSM 6.10 is an 8 kHz codec
        audio = samples if at == rate else resampled(samples, rate, at)
        yield Case(f"wav-{subtype}", _write(work / f"{subtype}.wav", audio, at, subtype), "valid")
    for subtype in FLAC_SUBTYPES:
        yield Case(f"flac-{subtype}", _write(work / f"{subtype}.flac", samples, rate, subtype), "valid")
    yield Case("ogg-vorbis", _write(work / "vorbis.ogg", samples, rate, "VORBIS"), "valid")
    for subtype in ("PCM_16", "FLOAT"):
        yield Case(f"aiff-{subtype}", _write(work / f"{subtype}.aiff", samples, rate, subtype), "valid")


def _channels_and_rates(work, samples, rate) -> Iterator[Case]:
    for channels in range(1, 9):
        for to in RATES_HZ:
            audio = samples if to == rate else resampled(samples, rate, to)
            # the clip on every channel, slightly quieter on the later ones (a real array)
            multi = np.stack([audio * (1.0 - 0.05 * c) for c in range(channels)], axis=1)
            path = work / f"ch{channels}-{to}.wav"
            yield Case(f"channels-{channels}-rate-{to}", _write(path, multi, to, "PCM_16"), "valid")
    for subtype in ("PCM_24", "FLOAT"):  # the other common depths at every rate, mono
        for to in RATES_HZ:
            audio = samples if to == rate else resampled(samples, rate, to)
            path = work / f"{subtype}-{to}.wav"
            yield Case(f"{subtype}-rate-{to}", _write(path, audio, to, subtype), "valid")


def _damaged(work, samples, rate) -> Iterator[Case]:
    whole = _write(work / "whole.wav", samples, rate, "PCM_16").read_bytes()
    flac = _write(work / "whole.flac", samples, rate, "PCM_16").read_bytes()
    rng = np.random.default_rng(11)
    for i, cut in enumerate([0, 1, 4, 12, 20, 36, 43, 44, 45, 100, 1000, len(whole) // 2,
                             len(whole) - 1]):
        yield _bytes(work / f"truncated-{i}.wav", whole[:cut], f"wav-truncated-at-{cut}")
    for i, cut in enumerate([4, 42, 100, 2000, len(flac) // 2, len(flac) - 3]):
        yield _bytes(work / f"truncated-{i}.flac", flac[:cut], f"flac-truncated-at-{cut}")
    for i in range(12):  # bytes flipped in the header or the data
        damaged = bytearray(whole)
        for at in rng.integers(0, 64 if i < 6 else len(whole), size=4):
            damaged[at] ^= 0xFF
        yield _bytes(work / f"flipped-{i}.wav", bytes(damaged), f"wav-bytes-flipped-{i}")
    header = bytearray(whole[:44])
    header[40:44] = (0xFFFFFFF0).to_bytes(4, "little")  # data size claims 4 GiB
    yield _bytes(work / "claims-4gib.wav", bytes(header) + whole[44:], "wav-header-claims-4gib")
    header = bytearray(whole[:44])
    header[24:28] = (0).to_bytes(4, "little")  # a sample rate of 0
    yield _bytes(work / "rate-zero.wav", bytes(header) + whole[44:], "wav-rate-zero")
    header = bytearray(whole[:44])
    header[22:24] = (0).to_bytes(2, "little")  # no channels
    yield _bytes(work / "channels-zero.wav", bytes(header) + whole[44:], "wav-channels-zero")


def _bytes(path: Path, data: bytes, name: str, kind: str = "odd") -> Case:
    path.write_bytes(data)
    return Case(name, path, kind)


def _odd_content(work, samples, rate) -> Iterator[Case]:
    for value, label in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")):
        for subtype in ("FLOAT", "DOUBLE"):
            bad = samples.copy()
            bad[len(bad) // 3] = value
            yield Case(f"{label}-{subtype}", _write(work / f"{label}-{subtype}.wav", bad, rate, subtype), "odd")
    everything_nan = np.full_like(samples, np.nan)
    yield Case("all-nan", _write(work / "all-nan.wav", everything_nan, rate, "FLOAT"), "odd")
    yield Case("empty-wav", _write(work / "empty.wav", np.zeros(0, np.float32), rate, "PCM_16"), "odd")
    yield Case("one-sample", _write(work / "one.wav", samples[:1], rate, "PCM_16"), "odd")
    yield Case("ten-ms", _write(work / "ten-ms.wav", samples[: rate // 100], rate, "PCM_16"), "odd")
    yield Case("silence", _write(work / "silence.wav", np.zeros(rate * 3, np.float32), rate), "odd")
    yield Case("clipping", _write(work / "loud.wav", np.clip(samples * 50, -1, 1), rate), "odd")
    yield Case("over-full-scale-float", _write(work / "over.wav", samples * 40, rate, "FLOAT"), "odd")
    yield Case("dc-offset", _write(work / "dc.wav", samples * 0.5 + 0.5, rate), "odd")
    noise = np.random.default_rng(3).normal(0, 0.3, rate * 3).astype(np.float32)
    yield Case("white-noise", _write(work / "noise.wav", noise, rate), "odd")
    yield Case("huge-silence-20min-8k", _write(work / "long.wav", np.zeros(8_000 * 1200, np.float32), 8_000, "PCM_16"), "odd")
    long_speech = np.tile(resampled(samples, rate, 16_000), 75)  # 5 minutes of speech
    yield Case("huge-5min-speech", _write(work / "long-speech.wav", long_speech, 16_000, "PCM_16"), "odd")


def _not_audio(work, samples, rate) -> Iterator[Case]:
    whole = (work / "whole.wav").read_bytes()
    flac = (work / "whole.flac").read_bytes()
    rng = np.random.default_rng(7)
    for ext in ("wav", "flac", "ogg", "mp3", "m4a", "txt", "", "WAV"):
        for i in range(2):
            noise = rng.integers(0, 256, size=int(rng.integers(0, 5000)), dtype=np.uint8).tobytes()
            yield _bytes(work / f"random-{i}.{ext}".rstrip("."), noise, f"random-bytes-{i}.{ext}")
    yield _bytes(work / "wav-named.mp3", whole, "wav-named-mp3", "valid")
    yield _bytes(work / "flac-named.wav", flac, "flac-named-wav", "valid")
    yield _bytes(work / "wav-named.txt", whole, "wav-named-txt", "valid")
    yield _bytes(work / "text.wav", "오늘 저녁에 뭐 먹을까요\n".encode() * 50, "text-named-wav")
    yield _bytes(work / "png.wav", b"\x89PNG\r\n\x1a\n" + bytes(200), "png-named-wav")
    yield _bytes(work / "zero-bytes.wav", b"", "zero-bytes")
    (work / "a-directory").mkdir(exist_ok=True)
    yield Case("directory", work / "a-directory", "odd")
    (work / "folder.wav").mkdir(exist_ok=True)
    yield Case("directory-named-wav", work / "folder.wav", "odd")
    yield Case("missing-file", work / "does-not-exist.wav", "odd")
    loop = work / "loop.wav"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    yield Case("symlink-loop", loop, "odd")
    dangling = work / "dangling.wav"
    if not dangling.is_symlink():
        dangling.symlink_to(work / "nowhere.wav")
    yield Case("dangling-symlink", dangling, "odd")
    fifo = work / "fifo.wav"
    if not fifo.exists():
        os.mkfifo(fifo)
    # a FIFO nobody writes to would block any reader: it must be refused, not waited on
    yield Case("fifo", fifo, "odd")


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    case: str
    command: str
    verdict: str  # result | sentence | wrong-result | traceback | not-one-sentence | hang
    exit_code: int | None
    detail: str
    seconds: float


def run_one(app, runner, argv: list[str]) -> tuple[object, float, bool]:
    box: dict = {}

    def target():
        box["result"] = runner.invoke(app, argv)

    started = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(HANG_LIMIT_S)
    return box.get("result"), time.monotonic() - started, worker.is_alive()


def judge(case: Case, command: str, result, reference_s: float) -> tuple[str, str]:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "traceback", f"{type(result.exception).__name__}: {result.exception}"
    stderr = result.stderr.strip()
    if "Traceback" in stderr:
        return "traceback", stderr[-300:]
    if result.exit_code != 0:
        lines = stderr.splitlines()
        if len(lines) == 1 and lines[0].startswith("error: "):
            return "sentence", lines[0]
        return "not-one-sentence", stderr[-300:]
    speech_s = _speech_seconds(command, result.stdout)
    if speech_s is None:
        return "wrong-result", result.stdout[-300:]
    if case.kind == "valid" and abs(speech_s - reference_s) > SPEECH_TOLERANCE_S:
        return "wrong-result", f"speech {speech_s:.2f} s, the clip has {reference_s:.2f} s"
    return "result", f"speech {speech_s:.2f} s"


def _speech_seconds(command: str, stdout: str) -> float | None:
    try:
        if command == "analyze":
            segments = json.loads(stdout)["segments"]
        else:
            segments = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        return float(sum(s["end"] - s["start"] for s in segments))
    except (ValueError, KeyError, TypeError):
        return None


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "analyze": lambda path: ["analyze", str(path), "--json"],
    "live": lambda path: ["live", "--input-file", str(path), "--speed", "100", "--json", "--no-store"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("data/soak/bad_inputs"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/soak/bad_inputs.json")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the runs' own warnings are not the subject here
    from typer.testing import CliRunner

    from edge.cli import app

    runner = CliRunner()
    cases = generate(args.work)
    reference = runner.invoke(app, COMMANDS["analyze"](args.work / "PCM_16.wav"))
    reference_s = _speech_seconds("analyze", reference.stdout)
    outcomes = []
    for case in cases:
        for command, argv in COMMANDS.items():
            result, seconds, hung = run_one(app, runner, argv(case.path))
            if hung:
                outcomes.append(Outcome(case.name, command, "hang", None, "", seconds))
                break
            verdict, detail = judge(case, command, result, reference_s)
            outcomes.append(Outcome(case.name, command, verdict, result.exit_code, detail, round(seconds, 2)))
            print(len(outcomes), case.name, command, verdict, flush=True)
        if outcomes and outcomes[-1].verdict == "hang":
            break  # a hung run still holds the CliRunner's streams: stop here and report
    write(args.out, cases, outcomes, reference_s)


def write(out: Path, cases: list[Case], outcomes: list[Outcome], reference_s: float) -> None:
    verdicts = Counter(o.verdict for o in outcomes)
    failures = [asdict(o) for o in outcomes if o.verdict not in ("result", "sentence")]
    report = {
        "inputs": len(cases),
        "runs": len(outcomes),
        "reference_speech_s": reference_s,
        "verdicts": dict(verdicts),
        "failures": failures,
        "outcomes": [asdict(o) for o in outcomes],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n")
    print(json.dumps({k: report[k] for k in ("inputs", "runs", "verdicts")}, ensure_ascii=False))
    for failure in failures:
        print("FAIL", failure["case"], failure["command"], failure["verdict"], failure["detail"][:200])


if __name__ == "__main__":
    main()
