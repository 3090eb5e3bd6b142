"""Training mixes for fine-tuning: manifests combined by share, and a noise bank with more voices.

``talkratio-train ds2-mix`` writes one training manifest from several, each part
either cut to a number of hours (a random subset, e.g. a replay of the original
corpus so the model does not forget it) or repeated (a small corpus oversampled)::

    talkratio-train ds2-mix --out data/mix.jsonl \\
        --part data/man_espeak/train.jsonl@0.5 --part data/man_kokoro/train.jsonl*2

With ``--noise-out`` it also writes a noise bank: the rows of ``--noise`` (a
``noise.jsonl``) plus far-off babble made of the speech of ``--babble-from`` (a
training manifest: its speakers are training speakers), so that quiet speech in
the background of the second synthesiser's voices is noise too, not words.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from edge.audio import SAMPLE_RATE, load_audio, save_audio
from training import noise as home_noise

log = logging.getLogger(__name__)

BABBLE_CLIP_S = 30.0  # seconds per written babble clip, as the synth noise banks
BABBLE_SOURCE_CLIPS = 200  # utterances the babble is made of
NOISE_PEAK = 0.5  # written noise is scaled to this peak (as training.noise)
_PART = re.compile(r"^(?P<path>.+?)(?:@(?P<hours>[0-9.]+)|\*(?P<repeat>[0-9]+))?$")


@dataclass(frozen=True)
class Part:
    """One manifest of a mix: all of it ``repeat`` times, or a random ``hours`` of it."""

    path: Path
    hours: float | None = None
    repeat: int = 1

    @classmethod
    def parse(cls, spec: str) -> Part:
        """``PATH``, ``PATH@HOURS`` or ``PATH*REPEAT``."""
        match = _PART.match(spec)
        if match is None or not match.group("path"):
            raise ValueError(f"bad part {spec!r}: write PATH, PATH@HOURS or PATH*REPEAT")
        hours, repeat = match.group("hours"), match.group("repeat")
        return cls(Path(match.group("path")), float(hours) if hours else None, int(repeat or 1))


def read_rows(path: Path) -> list[dict]:
    """A manifest's rows, audio paths made absolute (relative ones are relative to the file)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        row["audio"] = str((path.parent / row["audio"]).resolve())
    return rows


def part_rows(part: Part, rng: np.random.Generator) -> list[dict]:
    """The rows a part contributes: a shuffled subset up to its hours, or all rows repeated."""
    rows = read_rows(part.path)
    if part.hours is None:
        return rows * part.repeat
    chosen, total_s = [], 0.0
    for index in rng.permutation(len(rows)):
        if total_s >= part.hours * 3600:
            break
        chosen.append(rows[index])
        total_s += float(rows[index]["duration_s"])
    return chosen


def write_mix(parts: list[Part], out: Path, seed: int) -> dict:
    """Write the mixed manifest; returns hours and utterances per part."""
    rng = np.random.default_rng(seed)
    rows, summary = [], {}
    for part in parts:
        mine = part_rows(part, rng)
        rows += mine
        hours = sum(float(r["duration_s"]) for r in mine) / 3600
        summary[str(part.path)] = {"utterances": len(mine), "hours": round(hours, 3)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return summary


def write_babble_bank(base: Path, speech: Path, out: Path, clips: int, seed: int) -> Path:
    """A noise bank: ``base``'s clips (by absolute path) plus ``clips`` babble clips of ``speech``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in base.read_text().splitlines() if line.strip()]
    for row in rows:
        row["audio"] = str((base.parent / row["audio"]).resolve())
    rng = np.random.default_rng(seed)
    sources = read_rows(speech)
    picks = rng.permutation(len(sources))[:BABBLE_SOURCE_CLIPS]
    voices = [load_audio(sources[i]["audio"]) for i in picks]
    n = int(BABBLE_CLIP_S * SAMPLE_RATE)
    for i in range(clips):
        talkers = 1 if i % 2 else None  # one far-off talker, or a crowd of 3 to 7
        x = home_noise.babble(n, rng, talkers=talkers, speech_clips=voices)
        name = f"babble_{speech.parent.name}_{i:02d}.wav"
        save_audio(out / name, x * np.float32(NOISE_PEAK / max(np.abs(x).max(), 1e-6)))
        rows.append({"audio": name, "duration_s": BABBLE_CLIP_S, "kind": "babble"})
    (out / "noise.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out / "noise.jsonl"


def cli(
    out: Annotated[Path, typer.Option(help="mixed training manifest to write")],
    part: Annotated[list[str], typer.Option(help="PATH, PATH@HOURS or PATH*REPEAT (repeatable)")],
    seed: Annotated[int, typer.Option(help="seed of the subsets and the babble")] = 0,
    noise: Annotated[Optional[Path], typer.Option(help="noise.jsonl to extend")] = None,
    babble_from: Annotated[Optional[Path], typer.Option(help="manifest of babble voices")] = None,
    babble_clips: Annotated[int, typer.Option(help="babble clips to add")] = 6,
    noise_out: Annotated[Optional[Path], typer.Option(help="folder of the new noise bank")] = None,
) -> None:
    """Mix training manifests (subsets, repeats) and optionally extend a noise bank with babble.

    Example: talkratio-train ds2-mix --out mix.jsonl --part a/train.jsonl@0.5 --part b/train.jsonl*2
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        parts = [Part.parse(p) for p in part]
        missing = [p.path for p in parts if not p.path.is_file()]
        if missing or (noise_out and not (noise and babble_from)):
            raise ValueError(
                f"{missing[0]} does not exist"
                if missing
                else "--noise-out needs --noise and --babble-from"
            )
        summary = write_mix(parts, out, seed)
        if noise_out:
            summary["noise"] = str(
                write_babble_bank(noise, babble_from, noise_out, babble_clips, seed)
            )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
