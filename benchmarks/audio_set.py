"""The audio every measurement uses: held-out test utterances, a ladder of lengths, scenes.

- ``utterances``: the test split of the manifests (speakers never seen in
  training), balanced by gender, chosen with a fixed seed; accuracy is scored
  on them and the peers are timed on a subset.
- ``ladder``: single utterances of exactly 1, 2, 4, 8 and 15 s, cut from one
  test speaker's utterances played one after another (timing only: the text of
  a cut utterance is not scored).
- ``scenes``: household recordings (``talkratio-train scenes``), or, where that
  command is not available, test utterances of both voices placed on a
  timeline with pauses.

Everything written goes under ``work_dir`` (gitignored ``data/``) and is reused.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, load_audio, save_audio
from training.manifest import read_manifest, resolve_audio

log = logging.getLogger(__name__)

LADDER_S = (1.0, 2.0, 4.0, 8.0, 15.0)  # single-utterance lengths issue 6 asks for (1-15 s)
JOIN_GAP_S = 0.15  # silence between joined utterances of one speaker (shorter than the VAD hangover)
SCENE_PAUSE_S = (0.4, 3.0)  # pauses between turns of the fallback scene
SCENE_SEED = 6


@dataclass(frozen=True)
class Clip:
    """One utterance file with its truth (``text`` empty: not scored)."""

    id: str
    audio: str
    text: str
    gender: str
    speaker: str
    duration_s: float

    def to_json(self) -> dict:
        return asdict(self)


def test_utterances(manifest: Path, limit: int, seed: int = 0, max_s: float = 15.0) -> list[Clip]:
    """Up to ``limit`` test utterances, half female and half male where possible."""
    by_gender: dict[str, list[Clip]] = {}
    for entry in read_manifest(manifest):
        if entry.gender not in ("female", "male") or entry.duration_s > max_s:
            continue
        clip = Clip(Path(entry.audio).stem, str(resolve_audio(entry.audio, manifest)), entry.text,
                    entry.gender, entry.speaker, entry.duration_s)
        by_gender.setdefault(entry.gender, []).append(clip)
    rng = np.random.default_rng(seed)
    chosen: list[Clip] = []
    for gender in sorted(by_gender):
        pool = sorted(by_gender[gender], key=lambda c: c.audio)
        take = min(len(pool), limit // max(1, len(by_gender)))
        chosen += [pool[i] for i in sorted(rng.choice(len(pool), take, replace=False))]
    return sorted(chosen, key=lambda c: c.audio)


def _joined(clips: Sequence[Clip], seconds: float) -> np.ndarray:
    """One speaker's utterances played in turn (with short gaps) until ``seconds`` are filled."""
    gap = np.zeros(int(JOIN_GAP_S * SAMPLE_RATE), np.float32)
    pieces, total, i = [], 0, 0
    while total < seconds * SAMPLE_RATE:
        samples = load_audio(clips[i % len(clips)].audio)
        pieces += [samples, gap]
        total += samples.size + gap.size
        i += 1
    return np.concatenate(pieces)[: int(seconds * SAMPLE_RATE)]


def length_ladder(clips: Sequence[Clip], out_dir: Path, lengths_s: Sequence[float] = LADDER_S) -> list[Clip]:
    """Utterances of exactly ``lengths_s`` seconds, from the speaker with the most audio."""
    speakers: dict[str, list[Clip]] = {}
    for clip in clips:
        speakers.setdefault(clip.speaker, []).append(clip)
    speaker, own = max(speakers.items(), key=lambda kv: sum(c.duration_s for c in kv[1]))
    out_dir = out_dir / speaker
    out_dir.mkdir(parents=True, exist_ok=True)
    ladder = []
    for seconds in lengths_s:
        path = out_dir / f"ladder_{seconds:04.1f}s.wav"
        if not path.exists():
            save_audio(path, _joined(own, seconds))
        ladder.append(Clip(path.stem, str(path), "", own[0].gender, speaker, seconds))
    return ladder


# --------------------------------------------------------------------------- scenes


def _scenes_command(out_dir: Path, count: int, minutes: float, seed: int) -> list[str]:
    from benchmarks.live import console_command

    return console_command("talkratio-train", "training.cli") + ["scenes", "--out", str(out_dir),
            "--count", str(count), "--minutes", str(minutes), "--seed", str(seed)]


def generated_scenes(out_dir: Path, count: int, minutes: float, seed: int = SCENE_SEED) -> list[Path]:
    """Household scenes from ``talkratio-train scenes`` (made once, then reused); [] if unavailable."""
    existing = sorted(out_dir.glob("*.wav"))
    if len(existing) >= count:
        return existing[:count]
    command = _scenes_command(out_dir, count, minutes, seed)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log.warning("talkratio-train scenes failed (%s); using joined test utterances",
                    done.stderr.strip().splitlines()[-1:] or done.returncode)
        return []
    return sorted(out_dir.glob("*.wav"))[:count]


def joined_scene(clips: Sequence[Clip], path: Path, seconds: float, seed: int = SCENE_SEED) -> Path:
    """Fallback scene: test utterances of both voices in random order with pauses, truth beside it."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    pieces, truth, t = [], [], 0.0
    while t < seconds:
        clip = clips[int(rng.integers(len(clips)))]
        pause = np.zeros(int(rng.uniform(*SCENE_PAUSE_S) * SAMPLE_RATE), np.float32)
        samples = load_audio(clip.audio)
        truth.append({"start": round(t + pause.size / SAMPLE_RATE, 3), "voice": clip.gender,
                      "text": clip.text, "duration_s": round(samples.size / SAMPLE_RATE, 3)})
        pieces += [pause, samples]
        t += (pause.size + samples.size) / SAMPLE_RATE
    path.parent.mkdir(parents=True, exist_ok=True)
    save_audio(path, np.concatenate(pieces))
    path.with_suffix(".json").write_text(json.dumps({"segments": truth}, ensure_ascii=False))
    return path


def long_recording(parts: Sequence[Path], path: Path, seconds: float) -> Path:
    """``parts`` played in turn until ``seconds`` long: the input of the long live run."""
    if path.exists() and abs(_seconds(path) - seconds) < 1.0:
        return path
    pieces, total, i = [], 0, 0
    while total < seconds * SAMPLE_RATE:
        samples = load_audio(parts[i % len(parts)])
        pieces.append(samples)
        total += samples.size
        i += 1
    save_audio(path, np.concatenate(pieces)[: int(seconds * SAMPLE_RATE)])
    return path


def _seconds(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / info.samplerate
