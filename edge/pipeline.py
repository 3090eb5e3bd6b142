"""From audio to :class:`~edge.utterance.Utterance` records: the stages and the file pipeline.

Stages are generators: blocks -> :func:`edge.segmenter.segment_stream` (VAD) ->
:func:`edge.voice_change.split_on_voice_change` (quick replies cut apart) ->
:func:`utterance_stream` (voice tag + transcript) -> records. Live capture
threads the same stages together in :mod:`edge.capture`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, iter_audio_blocks
from edge.recognition import Recognizers, recognise
from edge.segmenter import Segment, SegmenterOptions, segment_stream
from edge.stats import Summary, summarize
from edge.utterance import Utterance
from edge.vad import vad_model_json
from edge.voice_change import VoiceChangeOptions, split_on_voice_change


@dataclass(frozen=True)
class PipelineOptions:
    """Everything that changes what the pipeline produces; echoed in every result."""

    segmenter: SegmenterOptions = SegmenterOptions()
    transcribe: bool = True  # run STT at all (syllable and eojeol counts need it)
    denoise_stt: bool = False  # noisereduce on the STT input (off: it hurt recognition)
    max_backlog: int = 2  # live: with this many utterances waiting, new ones skip STT
    voice_change: VoiceChangeOptions = VoiceChangeOptions()  # cut quick replies apart

    def to_dict(self, voice_threshold: float | None = None) -> dict:
        renamed = {"vad": "vad", "denoise": "denoise_vad"}  # the rest gets a vad_ prefix
        flat = {renamed.get(k, f"vad_{k}"): v for k, v in self.segmenter.to_dict().items()}
        flat.update(transcribe=self.transcribe, denoise_stt=self.denoise_stt)
        flat.update({f"voice_change_{k}": v for k, v in asdict(self.voice_change).items()})
        flat["voice_threshold"] = voice_threshold
        return flat


def utterance_stream(
    segments: Iterable[Segment],
    recognizers: Recognizers,
    options: PipelineOptions = PipelineOptions(),
    wall_origin: float = 0.0,
    source: str = "",
) -> Iterator[Utterance]:
    """Generator stage: segments in, recognised utterances out."""
    for segment in segments:
        yield recognise(
            segment, recognizers, wall_origin, options.transcribe, options.denoise_stt, source
        )


@dataclass(frozen=True)
class FileAnalysis:
    """``talkratio analyze`` for one file; :meth:`to_json` is DESIGN.md's object."""

    file: str
    duration_s: float
    utterances: tuple[Utterance, ...]
    models: dict
    options: dict
    household: dict = field(default_factory=lambda: {"enrolled": []})

    @property
    def summary(self) -> Summary:
        return summarize(self.utterances)

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "duration_s": round(self.duration_s, 3),
            "segments": [u.to_json() for u in self.utterances],
            "summary": self.summary.to_json(),
            "household": self.household,
            "models": self.models,
            "options": self.options,
        }


def _counted(blocks: Iterable[np.ndarray], seen: list[int], progress) -> Iterator[np.ndarray]:
    """Pass blocks through, counting samples (and reporting seconds to ``progress``)."""
    for block in blocks:
        seen[0] += block.size
        if progress is not None:
            progress(seen[0] / SAMPLE_RATE)
        yield block


def analyze_file(
    path: str | Path,
    recognizers: Recognizers,
    options: PipelineOptions = PipelineOptions(),
    wall_origin: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> FileAnalysis:
    """The whole pipeline over one recording, streamed (memory does not grow with length).

    ``wall_origin``: Unix time of the recording's start; by default the file's
    modification time minus its length (when the recorder closed it).
    """
    seen = [0]
    blocks = _counted(iter_audio_blocks(path), seen, progress)
    collected = list(
        utterance_stream(
            split_on_voice_change(
                segment_stream(blocks, options.segmenter, recognizers.early_cuts(options.voice_change)),
                options.voice_change,
                recognizers.speaker,
                recognizers.voice,
            ),
            recognizers,
            options,
            0.0,
            str(path),
        )
    )
    duration_s = seen[0] / SAMPLE_RATE
    origin = Path(path).stat().st_mtime - duration_s if wall_origin is None else wall_origin
    utterances = tuple(replace(u, wall_start=origin + u.start) for u in collected)
    return FileAnalysis(
        file=str(path),
        duration_s=duration_s,
        utterances=utterances,
        models={**recognizers.models_json(), "vad": vad_model_json(options.segmenter.neural)},
        options=options.to_dict(getattr(recognizers.voice, "threshold", None)),
        household=recognizers.household_json(),
    )
