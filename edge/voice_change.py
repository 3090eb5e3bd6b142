"""Split an utterance where one parent stops and the other answers without a pause.

The VAD ends an utterance only after ``hangover_ms`` of silence, so a quick reply
(a gap shorter than that) lands in the same segment as what it answers, and the
whole segment would be credited to one voice. This stage looks inside each
segment: every voiced 10 ms frame is on the female or the male side of the
pitch boundary between the adult ranges (:data:`edge.pitch.BOUNDARY_HZ`), and
the segment is cut in a short unvoiced stretch when the speech before it is
mostly on one side and the speech after it mostly on the other. Pitch that
falls along a sentence or resets at a new phrase stays on its speaker's side,
so one voice is not cut.

The same pitch track also tightens each utterance's times to its voiced speech
(plus a short margin for unvoiced onsets and codas): webrtcvad lets home noise
next to speech through as "speech", and those seconds would be credited to a
parent. The samples handed to the recognisers keep their padding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from edge.audio import HOP_SAMPLES, SAMPLE_RATE, frame_count
from edge.pitch import BOUNDARY_HZ, track_pitch
from edge.segmenter import Segment

log = logging.getLogger(__name__)

FRAME_S = HOP_SAMPLES / SAMPLE_RATE  # pitch frames every 10 ms


@dataclass(frozen=True)
class VoiceChangeOptions:
    enabled: bool = True
    min_side_voiced_s: float = 0.3  # net voiced speech a part needs to stand as its own voice
    min_gap_ms: int = 60  # cut only in an unvoiced stretch at least this long
    trim_to_voicing: bool = True  # times from the first to the last voiced frame
    # unvoiced consonants before the first / after the last voiced frame (Korean ㅅ, ㅎ, ㅊ ...)
    voicing_margin_s: float = 0.05


def _unvoiced_gaps(voiced: np.ndarray, min_frames: int) -> list[int]:
    """Centre frames of unvoiced runs of at least ``min_frames`` between voiced frames."""
    edges = np.flatnonzero(np.diff(np.concatenate([[1], voiced.astype(np.int8), [1]])))
    starts, stops = edges[::2], edges[1::2]  # runs of unvoiced frames: [start, stop)
    return [
        (a + b) // 2
        for a, b in zip(starts, stops, strict=True)
        if b - a >= min_frames and a > 0 and b < voiced.size
    ]


def _merge_same_side(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Join neighbouring ``(start, stop, net)`` runs whose net sums have the same sign."""
    merged = [runs[0]]
    for start, stop, net in runs[1:]:
        if np.sign(net) == np.sign(merged[-1][2]):
            merged[-1] = (merged[-1][0], stop, merged[-1][2] + net)
        else:
            merged.append((start, stop, net))
    return merged


def change_points(f0_hz: np.ndarray, voiced: np.ndarray, options: VoiceChangeOptions) -> list[int]:
    """Frames where the voice changes (empty: one voice).

    Each voiced frame counts +1 above the boundary and -1 below it. The stretches
    between unvoiced gaps are joined while neighbours lean the same way; then the
    weakest stretch (smallest net sum) is absorbed by its neighbours until every
    stretch has a net of at least ``min_side_voiced_s``.
    """
    sides = np.where(voiced, np.where(f0_hz > BOUNDARY_HZ, 1, -1), 0)
    gaps = _unvoiced_gaps(voiced, max(1, round(options.min_gap_ms / 1000 / FRAME_S)))
    bounds = [0, *gaps, voiced.size]
    runs = _merge_same_side(
        [(a, b, int(sides[a:b].sum())) for a, b in zip(bounds, bounds[1:], strict=False)]
    )
    min_net = options.min_side_voiced_s / FRAME_S
    while len(runs) > 1:
        weakest = min(range(len(runs)), key=lambda i: abs(runs[i][2]))
        if abs(runs[weakest][2]) >= min_net:
            break
        lo, hi = max(0, weakest - 1), min(len(runs), weakest + 2)
        absorbed = (runs[lo][0], runs[hi - 1][1], sum(r[2] for r in runs[lo:hi]))
        runs = _merge_same_side(runs[:lo] + [absorbed] + runs[hi:])
    return [start for start, _, _ in runs[1:]]


def split_segment(
    segment: Segment, options: VoiceChangeOptions = VoiceChangeOptions()
) -> list[Segment]:
    """``segment`` as one or more segments, cut where the voice changes, each
    tightened to its voiced speech."""
    if not (options.enabled or options.trim_to_voicing):
        return [segment]
    track = track_pitch(segment.samples)
    parts = _cut(segment, track, options) if options.enabled else [replace(segment, pitch=track)]
    if options.trim_to_voicing:
        parts = [_trim(part, segment.audio_start, track.voiced, options) for part in parts]
    return parts


def _trim(part: Segment, origin: float, voiced: np.ndarray, options: VoiceChangeOptions) -> Segment:
    """``part`` with start/end moved in to its voiced frames +- the margin (frame times from
    ``origin``); unchanged when it has no voiced frame (noise: the tagger says unknown)."""
    first = max(0, int(np.floor((part.start - origin) / FRAME_S)))
    last = min(voiced.size, int(np.ceil((part.end - origin) / FRAME_S)))
    inside = np.flatnonzero(voiced[first:last]) + first
    if inside.size == 0:
        return part
    start = max(part.start, origin + inside[0] * FRAME_S - options.voicing_margin_s)
    end = min(part.end, origin + (inside[-1] + 1) * FRAME_S + options.voicing_margin_s)
    return replace(part, start=round(float(start), 3), end=round(float(end), 3))


def _cut(segment: Segment, track, options: VoiceChangeOptions) -> list[Segment]:
    """``segment`` cut at the frames where the voice changes (itself when it does not)."""
    times = [
        round(float(segment.audio_start + c * FRAME_S), 3)
        for c in change_points(track.f0_hz, track.voiced, options)
    ]
    times = [t for t in times if segment.start < t < segment.end]
    if not times:
        return [replace(segment, pitch=track)]
    log.debug("voice changes inside %.2f-%.2f s at %s", segment.start, segment.end, times)
    parts, edges = [], [segment.start, *times, segment.end]
    for start, end in zip(edges, edges[1:], strict=False):
        audio_start = segment.audio_start if start == segment.start else start
        first = round((audio_start - segment.audio_start) * SAMPLE_RATE)
        last = (
            segment.samples.size
            if end == segment.end
            else round((end - segment.audio_start) * SAMPLE_RATE)
        )
        frame = first // HOP_SAMPLES  # cuts fall on 10 ms frame boundaries
        pitch = track.crop(frame, frame + frame_count(last - first))
        parts.append(Segment(start, end, audio_start, segment.samples[first:last], pitch))
    return parts


def split_on_voice_change(
    segments: Iterable[Segment], options: VoiceChangeOptions = VoiceChangeOptions()
) -> Iterator[Segment]:
    """Generator stage between the segmenter and recognition."""
    for segment in segments:
        yield from split_segment(segment, options)
