"""Split an utterance where one speaker stops and another answers without a pause.

The VAD ends an utterance only after ``hangover_ms`` of silence, so a quick reply
(a gap shorter than that) lands in the same segment as what it answers, and the
whole segment would be credited to one voice. This stage looks inside each
segment long enough to hold two speakers (two speaker-encoder windows): speaker
vectors of 1 s windows every 0.25 s are compared across every short unvoiced
stretch (the mean vector of the windows up to 2 s before it against that of the
windows up to 2 s after it), and the segment is cut in the stretch with the
strongest evidence among those whose cosine distance reaches the speaker
model's calibrated ``change_distance``; each part is then searched the same
way. Timbre, not pitch, decides: a mother whose voice rises towards her child
stays one speaker.

Without a speaker model the old rule is kept: voiced 10 ms frames on either
side of the pitch boundary between the adult ranges
(:data:`edge.pitch.BOUNDARY_HZ`), cut where the speech before a gap is mostly on
one side and the speech after it mostly on the other.

The pitch track also tightens each utterance's times to its voiced speech
(plus a short margin for unvoiced onsets and codas): webrtcvad lets home noise
next to speech through as "speech", and those seconds would be credited to a
parent. The samples handed to the recognisers keep their padding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from edge.audio import HOP_SAMPLES, SAMPLE_RATE, frame_count
from edge.pitch import BOUNDARY_HZ, track_pitch
from edge.segmenter import Segment
from edge.speaker import unit

log = logging.getLogger(__name__)

FRAME_S = HOP_SAMPLES / SAMPLE_RATE  # pitch frames every 10 ms
# a window may reach this far past a gap into the other side: the gap's own unvoiced
# audio and a consonant onset barely move a speaker vector, and quick replies of about
# 1 s would otherwise have no window of their own
WINDOW_SLACK_S = 0.15
DEFAULT_CHANGE_DISTANCE = 0.30  # for a speaker model without talkratio.change_distance
TYPED_CHANGE_DISTANCE = 0.20
CONTEXT_S = 2.0  # s of windows either side of a pause that judge it (see VoiceChangeOptions)
SAME_CHANGE_S = 0.05  # two searches found the same change: the same unvoiced gap, to 50 ms


@dataclass(frozen=True)
class VoiceChangeOptions:
    enabled: bool = True
    min_side_voiced_s: float = 0.3  # net voiced speech a part needs to stand as its own voice
    min_gap_ms: int = 60  # cut only in an unvoiced stretch at least this long
    trim_to_voicing: bool = True  # times from the first to the last voiced frame
    # unvoiced consonants before the first / after the last voiced frame (Korean ㅅ, ㅎ, ㅊ ...)
    voicing_margin_s: float = 0.05
    window_s: float = 1.0  # speaker vectors over windows this long ...
    hop_s: float = 0.25  # ... every this often (4 per second of a long utterance)
    # each pause is judged on the windows within this many seconds either side of it (inside
    # the part searched), not on everything up to the part's ends: in a segment of three
    # voices (a child, the TV, then the mother) the far voice no longer dilutes the near one's
    # mean. None: the whole part. Chosen on the 12 development scenes of python -m
    # benchmarks.voice_type --split dev --scenes 12 --pipeline (never the test ones), their
    # recordings put through the pipeline's stages in memory for each C (--voice-change
    # context_s=C runs one); no enrolment, calibrated change_distance, typed tier 0.20.
    # |share error| in points, per-parent seconds error, TV seconds to a parent, mean of
    # scenes 0-5 and 6-11: the search before (the strongest pause first, then its distance
    # judged) 6.46 / 0.155 / 0.080; none 6.24 / 0.151 / 0.080; 2.0: 5.59 / 0.137 / 0.044;
    # 1.5: 5.64 / 0.128 / 0.052; 1.25: 5.07 / 0.129 / 0.060; 1.1: 5.97 / 0.135 / 0.052; 1.0:
    # 6.79 / 0.147 / 0.078. Seconds of a record's minority voices (merged records), scenes
    # 0-5: 21.7 before, 10.9 at 2.0, 7.3 at 1.25. 2.0 and not 1.25: fewer TV seconds to a
    # parent, and 1.25 cut one voice whose pitch steps up (0.287 apart on 1.25 s, 0.196 on
    # 2 s: test_one_voice_whose_pitch_rises_is_not_cut) and more of the mothers'
    # child-directed sentences into parts called child (scenes 0-5: 53.7 s with none, 57.5
    # at 2.0, 61.9 at 1.25). Judging each cut again on its two whole parts undid true ones
    context_s: float | None = CONTEXT_S
    # cosine distance between the speakers before and after a gap that makes it a change;
    # None: the value calibrated into the speaker model (talkratio.change_distance)
    change_distance: float | None = None
    # a lower distance that is a change too when the voice model calls the two sides
    # different kinds of voice (a child answering an adult: the child is often made of an
    # adult's timbre, and 1 s windows in home noise sit closer than whole utterances).
    # None: no typed tier. Chosen on 6 development scenes, never the test ones
    # (python -m benchmarks.voice_type --split dev --scenes 6 --pipeline --voice-change
    # early=false --voice-change typed_change_distance=D, D=none for off; whole pipeline,
    # no enrolment; the figures were taken before early cuts existed). Per-parent seconds error,
    # |share error| in points, child seconds error, child turns (49 true): off 0.217 / 7.69 /
    # 0.72 / 53; 0.20: 0.201 / 7.67 / 0.69 / 64; 0.15: 0.198 / 8.46 / 0.63 / 73; 0.10: 0.200 /
    # 8.99 / 0.67 / 77. Lower cuts a mother's child-directed sentences into parts called child.
    # Checked again with the voice model of the TV rule (9a3bcd77bf89; PIPELINE_KEY 4 layouts,
    # early cuts off): off 0.261 / 9.73 / 1.30 / 55 of 52 true; 0.20: 0.211 / 8.49 / 1.15 / 67
    typed_change_distance: float | None = TYPED_CHANGE_DISTANCE
    # live and analyze: cut an utterance in progress at a settled change (the part before it
    # is recorded without waiting for the utterance's end: last word -> stored latency). Off
    # by default: on the main benchmark's two scenes (python -m benchmarks.part_latency) it
    # took the latency of such parts from 1386 to 1279 ms at the median, and analyze's CPU
    # from 0.0096 to 0.0173 s per audio s (each search embeds the whole speech so far)
    early: bool = False
    # a change is settled when this much speech follows it: one window wholly after the
    # pause (window_s less the slack it may reach back into it) and a hop more
    settle_s: float = 1.1
    early_step_s: float = 0.5  # the speech so far is searched again after this much more ...
    # ... or after growing by this factor, if more: the searches of a long utterance cost a
    # few times its final search (1.25: at most 1 / (1 - 1 / 1.25) = 5 times), not its square
    early_growth: float = 1.25
    # the typed tier in early cuts too: on the 6 development scenes (python -m
    # benchmarks.voice_type --split dev --scenes 6 --pipeline, with --voice-change
    # early_typed=true, without, and with early=false), early cuts with it put
    # 3.6 s more of the mothers' seconds under child and moved the share error from 7.67 to
    # 8.98 points; without it, 7.95 points, per-parent seconds error 0.199 (0.201 with cuts
    # only at the segment's end), child seconds error 0.67 (0.69)
    early_typed: bool = False
    # the early cutter judges each pause on the whole speech so far, as before context_s
    # (None): with 2 s of context it cut a woman's question 0.47 s before a man's quick
    # answer (test_a_part_cut_at_a_voice_change_is_emitted_before_the_segment_ends)
    early_context_s: float | None = None


def unvoiced_gaps(voiced: np.ndarray, min_frames: int) -> list[int]:
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
    gaps = unvoiced_gaps(voiced, max(1, round(options.min_gap_ms / 1000 / FRAME_S)))
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


@dataclass(frozen=True)
class ChangeRule:
    """When the speakers on the two sides of a gap differ: their mean vectors are
    ``distance`` apart, or ``typed_distance`` apart and ``voice_of`` (a unit speaker vector
    to its kind of voice) names two different kinds."""

    distance: float
    typed_distance: float | None = None
    voice_of: Callable[[np.ndarray], str] | None = None

    def plain(self, distance: float, before: np.ndarray, after: np.ndarray) -> bool:
        return distance >= self.distance

    def typed(self, distance: float, before: np.ndarray, after: np.ndarray) -> bool:
        if self.voice_of is None or self.typed_distance is None or distance < self.typed_distance:
            return False
        return self.voice_of(before) != self.voice_of(after)


def split_segment(
    segment: Segment, options: VoiceChangeOptions = VoiceChangeOptions(), encoder=None, tagger=None
) -> list[Segment]:
    """``segment`` as one or more segments, cut where the speaker changes (by the speaker
    vectors of ``encoder``, an :class:`edge.speaker.SpeakerEncoder`, and the kinds of voice
    ``tagger`` gives them; by pitch without an encoder), each tightened to its voiced speech."""
    if not (options.enabled or options.trim_to_voicing):
        return [segment]
    track = track_pitch(segment.samples)
    if not options.enabled:
        parts = [replace(segment, pitch=track)]
    elif encoder is None:
        parts = _cut(segment, track, _pitch_change_frames(track, options))
    else:
        parts = _cut(
            segment, track, _speaker_change_frames(segment, track, options, encoder, tagger)
        )
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


def _pitch_change_frames(track, options: VoiceChangeOptions) -> list[int]:
    return change_points(track.f0_hz, track.voiced, options)


def change_rule(options: VoiceChangeOptions, encoder, tagger=None) -> ChangeRule:
    """The options' rule: the speaker model's calibrated distance unless one is given, and
    the typed tier when ``tagger`` judges speaker vectors (``voice_of_embedding``)."""
    threshold = options.change_distance
    if threshold is None:
        threshold = float(encoder.info.json_field("change_distance", DEFAULT_CHANGE_DISTANCE))
    voice_of = getattr(tagger, "voice_of_embedding", None)
    return ChangeRule(threshold, options.typed_change_distance, voice_of)


def _speaker_change_frames(
    segment: Segment, track, options: VoiceChangeOptions, encoder, tagger
) -> list[int]:
    """Change frames by speaker vectors; none for a segment too short to hold two windows
    (its windows are never computed: the cost is paid only where two speakers fit)."""
    if segment.samples.size < 2 * options.window_s * SAMPLE_RATE:
        return []
    rule = change_rule(options, encoder, tagger)
    windows = encoder.embed_windows(segment.samples, options.window_s, options.hop_s)
    min_frames = max(1, round(options.min_gap_ms / 1000 / FRAME_S))
    gaps_s = [g * FRAME_S for g in unvoiced_gaps(track.voiced, min_frames)]
    end_s = segment.samples.size / SAMPLE_RATE
    found = speaker_changes(windows, gaps_s, rule, 0.0, end_s, options.context_s)
    return [round(t / FRAME_S) for t in found]


def speaker_changes(
    windows,
    gaps_s: list[float],
    rule: ChangeRule | float,
    lo: float,
    hi: float,
    context_s: float | None = None,
) -> list[float]:
    """Times (s) in ``(lo, hi)`` where the speaker changes, by binary segmentation: of the
    gaps whose distance reaches the rule's distance (``rule`` may be just that distance),
    the :func:`strongest_change` is a change; failing any, the strongest gap of the typed
    tier; then each side is searched alone. ``context_s``: each gap judged on the windows
    within this many seconds of it (None: on everything in ``(lo, hi)``)."""
    rule = rule if isinstance(rule, ChangeRule) else ChangeRule(rule)
    found = strongest_change(windows, gaps_s, lo, hi, rule.plain, context_s)
    if found is None:
        found = strongest_change(windows, gaps_s, lo, hi, rule.typed, context_s)
        if found is None:
            return []
    cut = found[0]
    return [
        *speaker_changes(windows, gaps_s, rule, lo, cut, context_s),
        cut,
        *speaker_changes(windows, gaps_s, rule, cut, hi, context_s),
    ]


def strongest_change(
    windows, gaps_s: list[float], lo: float, hi: float, accept=None, context_s: float | None = None
):
    """``(gap, cosine distance)`` of the gap in ``(lo, hi)`` with the strongest evidence of
    a new speaker, or None: the distance of the mean vectors before and after it,
    weighted by ``sqrt(n_before * n_after / n)`` windows (a side of one 1 s window is a
    noisy mean). ``accept(distance, before, after)``: only gaps it accepts count.
    ``context_s``: a side holds only the windows within this many seconds of the gap."""
    best, best_weight = None, 0.0
    for gap in (g for g in gaps_s if lo < g < hi):
        near = (
            (lo, hi) if context_s is None else (max(lo, gap - context_s), min(hi, gap + context_s))
        )
        found = _distance_across(windows, gap, *near)
        if found is None or found[0] * found[1] <= best_weight:
            continue
        distance, weight, before, after = found
        if accept is None or accept(distance, before, after):
            best, best_weight = (gap, distance), distance * weight
    return best


def _distance_across(windows, gap: float, lo: float, hi: float):
    """``(cosine distance, weight, mean vector before, mean vector after)`` of the windows
    inside ``[lo, gap]`` and inside ``[gap, hi]`` (``WINDOW_SLACK_S`` of overlap allowed);
    None when a side has no window."""
    starts, ends = windows.starts_s, windows.starts_s + windows.window_s
    before = (starts >= lo - WINDOW_SLACK_S) & (ends <= gap + WINDOW_SLACK_S)
    after = (starts >= gap - WINDOW_SLACK_S) & (ends <= hi + WINDOW_SLACK_S)
    n_before, n_after = int(before.sum()), int(after.sum())
    if not n_before or not n_after:
        return None
    a, b = (unit(windows.embeddings[side].mean(axis=0)) for side in (before, after))
    return 1.0 - float(a @ b), float(np.sqrt(n_before * n_after / (n_before + n_after))), a, b


def _cut(segment: Segment, track, change_frames: list[int]) -> list[Segment]:
    """``segment`` cut at ``change_frames`` (pitch frames of its samples; itself when none)."""
    times = [round(float(segment.audio_start + c * FRAME_S), 3) for c in change_frames]
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


class EarlyCuts:
    """Ends an utterance still in progress where the speaker changed, once the change is
    settled, so the part before it is recorded without waiting for the next speaker to stop
    (:class:`edge.segmenter.EarlyCutter`; live capture and ``analyze`` both use it).

    The same search as :func:`split_segment` runs on the speech so far, first when it can
    hold two windows, then each time it has grown by
    ``early_growth`` (at least ``early_step_s``), always on the prefix of exactly that length
    so that any block size gives the same answer. A change is settled when ``settle_s`` of
    speech follows it and the next search, on more speech, finds it again (within
    ``SAME_CHANGE_S``): with the new voice only just begun, the side after a pause can hold
    the end of the old voice too, and the strongest pause of one search is not always the
    change; the earliest settled change is returned.
    """

    def __init__(self, options: VoiceChangeOptions, encoder, tagger=None):
        self.options, self.encoder, self.tagger = options, encoder, tagger
        self._watched_s = -1.0  # audio start of the utterance watched
        self._next_s = 0.0  # prefix length (s) searched next
        self._candidate: float | None = None  # the change the last search found (s from start)

    def due(self, audio_start_s: float, length_s: float) -> bool:
        if audio_start_s != self._watched_s:
            self._watched_s, self._candidate = audio_start_s, None
            self._next_s = 2 * self.options.window_s  # the least that holds a settled change
        return length_s >= self._next_s

    def find(self, audio_start_s: float, samples: np.ndarray) -> float | None:
        """Time (s from the stream's start) to end the utterance at, or None."""
        length_s = self._next_s
        prefix = samples[: round(length_s * SAMPLE_RATE)]
        o = self.options
        self._next_s = max(length_s + o.early_step_s, length_s * o.early_growth)
        segment = Segment(audio_start_s, audio_start_s + length_s, audio_start_s, prefix)
        tagger = self.tagger if o.early_typed else None
        searched = replace(o, context_s=o.early_context_s)
        frames = _speaker_change_frames(
            segment, track_pitch(prefix), searched, self.encoder, tagger
        )
        found = [f * FRAME_S for f in frames if length_s - f * FRAME_S >= o.settle_s]
        seen, self._candidate = self._candidate, (found[0] if found else None)
        again = [t for t in found if seen is not None and abs(t - seen) <= SAME_CHANGE_S]
        return round(audio_start_s + again[0], 3) if again else None


def early_cuts(options: VoiceChangeOptions, encoder, tagger=None) -> EarlyCuts | None:
    """The options' early cutter, or None (no speaker model, or cuts only at the end)."""
    if encoder is None or not (options.enabled and options.early):
        return None
    return EarlyCuts(options, encoder, tagger)


def split_on_voice_change(
    segments: Iterable[Segment],
    options: VoiceChangeOptions = VoiceChangeOptions(),
    encoder=None,
    tagger=None,
) -> Iterator[Segment]:
    """Generator stage between the segmenter and recognition."""
    for segment in segments:
        yield from split_segment(segment, options, encoder, tagger)
