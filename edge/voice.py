"""What kind of voice is an utterance: female / male adult, child, other (a loudspeaker), or ``unknown``.

Three taggers with the same surface, ``.tag(samples, track=None) -> VoiceResult`` and ``.info``:

- :class:`EmbeddingVoiceTagger` (the bundled default) runs a small classifier
  on the utterance's speaker embedding (:mod:`edge.speaker`, GE2E trained on
  real speakers): ``female``, ``male``, ``child``, ``other``. It takes the
  embedding when the caller already has it (``tag(..., embedding=v)``).
- :class:`VoiceTagger` runs a log-mel classifier (ONNX, numpy + onnxruntime).
  Labels, confidence threshold, feature settings, the shortest judgeable
  utterance and whether the model takes a ``pitch`` input all come from the
  model file (DESIGN.md, "Model files").
- :class:`PitchVoiceTagger` needs no model: median voiced F0 against the
  published adult ranges (:mod:`edge.pitch`). It is the fallback.

Both refuse to guess: too short, silent, noise-only, tonal or clipped input
comes back ``unknown`` with the uninformative probability ``1 / n_labels``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.audio import HOP_SAMPLES, SAMPLE_RATE, FeatureConfig, compute_features, frame_count
from edge.loudspeaker import LoudspeakerDetector, channel_features
from edge.onnx_model import ModelError, ModelInfo, bundled_model, open_session
from edge.pitch import (
    ADULT_MAX_F0_HZ,
    PitchTrack,
    female_probability,
    judgeable,
    pitch_statistics,
    track_pitch,
)

log = logging.getLogger(__name__)

EMBEDDING_INPUT = "embedding"  # input name of a model that judges a speaker embedding

UNKNOWN = "unknown"
CHILD = "child"  # with this label a model may judge voices above the adult F0 range
OTHER = "other"  # a TV, a radio, any loudspeaker
PITCH_LABELS = ("female", "male")
PITCH_THRESHOLD = 0.7  # p >= 0.7 needs F0 outside about 148-173 Hz (the overlap of the ranges)
PITCH_MIN_SECONDS = 0.3  # shortest VAD utterance
DEFAULT_THRESHOLD = 0.7  # for a model file without talkratio.threshold
MAX_WINDOW_SECONDS = 15.0  # longest VAD utterance; longer input is judged in windows
MAX_WINDOW_SAMPLES = int(MAX_WINDOW_SECONDS * SAMPLE_RATE)  # 240000 samples


@dataclass(frozen=True)
class VoiceResult:
    """``voice``: a label or ``"unknown"``; ``prob``: probability of that answer (for
    ``unknown``, the best label's probability, or ``1 / n_labels`` when the input
    could not be judged at all). ``scores``: every label's probability; ``f0_hz``:
    median voiced F0 (0 when there is none)."""

    voice: str
    prob: float
    scores: dict[str, float] = field(default_factory=dict)
    f0_hz: float = 0.0


def _decide(
    labels: tuple[str, ...], probs: np.ndarray, threshold: float, f0_hz: float,
    weighed: np.ndarray | None = None,
) -> VoiceResult:  # fmt: skip
    """The best label, or ``unknown`` when its probability is below ``threshold``.
    ``weighed``: the probabilities the answer is chosen on when they differ from the
    model's (a label's prior changed, :func:`weigh_child`); ``scores`` stay the model's."""
    scores = {label: float(p) for label, p in zip(labels, probs, strict=True)}
    chosen = probs if weighed is None else weighed
    best = int(np.argmax(chosen))
    voice = labels[best] if chosen[best] >= threshold else UNKNOWN
    return VoiceResult(voice, float(chosen[best]), scores, f0_hz)


def weigh_child(labels: tuple[str, ...], probs: np.ndarray, child_ratio: float) -> np.ndarray:
    """``probs`` (..., n_labels) with ``child`` divided by ``child_ratio`` and renormalised:
    ``child`` then wins only where the model gave it at least ``child_ratio`` times the
    probability of every other label (a prior shift; the order of the other labels stays)."""
    probs = np.asarray(probs, dtype=np.float64)
    if child_ratio == 1.0 or CHILD not in labels:
        return probs
    weights = np.ones(len(labels))
    weights[labels.index(CHILD)] = 1.0 / child_ratio
    weighed = probs * weights
    return weighed / weighed.sum(axis=-1, keepdims=True)


def _decide_other(
    labels: tuple[str, ...], probs: np.ndarray, threshold: float, other_threshold: float,
    f0_hz: float, loudspeaker: float = 0.0, weighed: np.ndarray | None = None,
) -> VoiceResult:  # fmt: skip
    """``other`` as soon as its probability reaches ``other_threshold`` (below the plain
    confidence threshold: a TV credited to a parent costs more than a parent's utterance
    called ``other``) or the loudspeaker detector said so (``loudspeaker``: its probability,
    0 when it did not); else :func:`_decide` (on ``weighed`` when given). The ``other``
    test reads the model's own probability: the thresholds were chosen on it."""
    p_other = float(probs[labels.index(OTHER)])
    if p_other >= other_threshold or loudspeaker:
        scores = {label: float(p) for label, p in zip(labels, probs, strict=True)}
        return VoiceResult(OTHER, max(p_other, loudspeaker), scores, f0_hz)
    return _decide(labels, probs, threshold, f0_hz, weighed)


def _refuse(labels: tuple[str, ...], f0_hz: float = 0.0) -> VoiceResult:
    """``unknown`` at chance level: the input holds no judgeable voice."""
    chance = 1.0 / len(labels)
    return VoiceResult(UNKNOWN, chance, {label: chance for label in labels}, f0_hz)


def _median_f0(track: PitchTrack) -> float:
    f0 = track.voiced_f0
    return float(np.median(f0)) if f0.size else 0.0


class PitchVoiceTagger:
    """Training-free female/male tagger from median voiced F0 (no model file)."""

    labels = PITCH_LABELS
    info: ModelInfo | None = None

    def __init__(self, threshold: float | None = None, min_seconds: float = PITCH_MIN_SECONDS):
        self.threshold = PITCH_THRESHOLD if threshold is None else threshold
        self.min_seconds = min_seconds

    def tag(
        self, samples: np.ndarray, track: PitchTrack | None = None, embedding=None
    ) -> VoiceResult:
        """16 kHz mono float32 ``(n,)`` to a :class:`VoiceResult`; pass ``track`` (from
        :func:`edge.pitch.track_pitch` of the same samples) when it is already known.
        ``embedding`` (the speaker vector) is not used by this tagger."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.size < self.min_seconds * SAMPLE_RATE:
            return _refuse(self.labels)
        track = track_pitch(samples) if track is None else track
        f0 = _median_f0(track)
        if not judgeable(samples, track):
            return _refuse(self.labels, f0)
        p_female = female_probability(f0)
        return _decide(self.labels, np.array([p_female, 1.0 - p_female]), self.threshold, f0)


class ClassifierTagger:
    """What every learned tagger shares: refusals, 15 s windows, the threshold.

    Subclasses set ``labels``, ``threshold``, ``min_seconds``, ``features``
    (:class:`FeatureConfig`), ``uses_pitch``, ``fixed_frames`` (None for any
    length) and implement :meth:`_run`.
    """

    labels: tuple[str, ...]
    threshold: float
    min_seconds: float
    features: FeatureConfig
    uses_pitch: bool
    fixed_frames: int | None = None

    def _run(self, features: np.ndarray, pitch: np.ndarray | None) -> np.ndarray:
        """``(T, F)`` features [and ``(K,)`` pitch statistics] to probabilities ``(C,)``."""
        raise NotImplementedError

    def _probs(self, window: np.ndarray, track: PitchTrack) -> np.ndarray:
        """Class probabilities ``(n_labels,)`` for one window of at most 15 s."""
        features = compute_features(window, self.features)
        if self.fixed_frames is not None:
            features = fit_frames(features, self.fixed_frames)
        return self._run(features, pitch_statistics(track) if self.uses_pitch else None)

    def tag(
        self, samples: np.ndarray, track: PitchTrack | None = None, embedding=None
    ) -> VoiceResult:
        """16 kHz mono float32 ``(n,)`` to a :class:`VoiceResult`; pass ``track`` (from
        :func:`edge.pitch.track_pitch` of the same samples) when it is already known.
        ``embedding`` (the speaker vector) is not used by these classifiers.

        Input longer than 15 s is judged in 15 s windows whose probabilities are
        averaged, weighted by their voiced frames.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.size < self.min_seconds * SAMPLE_RATE:
            return _refuse(self.labels)
        track = track_pitch(samples) if track is None else track
        f0 = _median_f0(track)
        if not judgeable(samples, track, None if CHILD in self.labels else ADULT_MAX_F0_HZ):
            return _refuse(self.labels, f0)
        probs, weights = [], []
        for start in range(0, samples.size, MAX_WINDOW_SAMPLES):
            window = samples[start : start + MAX_WINDOW_SAMPLES]
            first = start // HOP_SAMPLES
            part = track.crop(first, first + frame_count(window.size))
            voiced = int(part.voiced.sum())
            if voiced == 0 and probs:
                continue
            probs.append(self._probs(window, part))
            weights.append(max(voiced, 1))
        mean = np.average(np.stack(probs), axis=0, weights=np.asarray(weights, float))
        return _decide(self.labels, mean, self.threshold, f0)


def fit_frames(features: np.ndarray, frames: int) -> np.ndarray:
    """Centre-crop or zero-pad ``(T, F)`` to ``(frames, F)`` for a fixed-window model."""
    t = features.shape[0]
    if t >= frames:
        start = (t - frames) // 2
        return features[start : start + frames]
    return np.pad(features, ((0, frames - t), (0, 0)))


class VoiceTagger(ClassifierTagger):
    """The exported classifier (default: the bundled ``edge/assets/voice.int8.onnx``)."""

    def __init__(
        self, model_path: str | Path | None = None, threads: int = 1, threshold: float | None = None
    ):
        path = bundled_model("voice") if model_path is None else Path(model_path)
        self.session, self.info = open_session(path, expect_kind="voice", threads=threads)
        self.labels = tuple(self.info.json_field("labels", list(PITCH_LABELS)))
        stored = float(self.info.json_field("threshold", DEFAULT_THRESHOLD))
        self.threshold = stored if threshold is None else threshold
        self.min_seconds = float(self.info.json_field("min_seconds", PITCH_MIN_SECONDS))
        self.features = self.info.features
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "features" not in inputs:
            raise ModelError(f"{path}: a voice model needs an input named 'features'")
        self.uses_pitch = "pitch" in inputs
        frames = inputs["features"].shape[1]
        self.fixed_frames = frames if isinstance(frames, int) else None
        outputs = self.session.get_outputs()
        if outputs[0].name != "probs" or outputs[0].shape[-1] != len(self.labels):
            raise ModelError(f"{path}: output 'probs' should be (1, {len(self.labels)})")

    def _run(self, features: np.ndarray, pitch: np.ndarray | None) -> np.ndarray:
        feeds = {"features": features[None].astype(np.float32)}
        if pitch is not None:
            feeds["pitch"] = pitch[None]
        return self.session.run(["probs"], feeds)[0][0]


class EmbeddingVoiceTagger:
    """A voice-type model on the speaker embedding (input ``embedding`` (1, D), output ``probs``).

    Refusals are the other taggers': too short, silent, noise-only, tonal or
    clipped input is ``unknown`` at chance. There is no F0 ceiling: a mother
    at 350 Hz to her child and the child itself are judged by timbre.

    ``other_threshold`` (``talkratio.other_threshold``): the probability of ``other``
    from which the answer is ``other`` whatever the best label; ``detector``
    (``talkratio.loudspeaker``, :class:`edge.loudspeaker.LoudspeakerDetector`): channel
    statistics with that probability, a second way to ``other``;
    ``other_threshold_typed`` (``talkratio.other_threshold_typed``): the probability of
    ``other`` under which the household's typed match trusts a ``female``/``male``
    answer. The thresholds are chosen on dev household scenes by
    ``talkratio-train tv-rule`` (:mod:`training.tv_rule`); a model without them decides
    by the best label alone.

    ``child_ratio`` (``talkratio.child_ratio``, default 1: off): ``child`` is the answer
    only where its probability is at least this many times every other label's
    (:func:`weigh_child`); chosen on dev data by ``talkratio-train child-rule``
    (:mod:`training.child_rule`).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int = 1,
        threshold: float | None = None,
        encoder=None,
    ):
        path = bundled_model("voice") if model_path is None else Path(model_path)
        self.session, self.info = open_session(path, expect_kind="voice", threads=threads)
        self.labels = tuple(self.info.json_field("labels"))
        stored = float(self.info.json_field("threshold", DEFAULT_THRESHOLD))
        self.threshold = stored if threshold is None else threshold
        self.min_seconds = float(self.info.json_field("min_seconds", PITCH_MIN_SECONDS))
        self.speaker_sha256 = self.info.metadata.get("talkratio.speaker_sha256", "")
        other = self.info.json_field("other_threshold")  # older models: the best label decides
        self.other_threshold = None if other is None or OTHER not in self.labels else float(other)
        self.other_threshold_typed = float(self.info.json_field("other_threshold_typed", 1.0))
        self.child_ratio = float(self.info.json_field("child_ratio", 1.0))
        detector = self.info.json_field("loudspeaker")
        self.detector = None if detector is None else LoudspeakerDetector.from_dict(detector)
        inputs = self.session.get_inputs()
        if [i.name for i in inputs] != [EMBEDDING_INPUT]:
            raise ModelError(f"{path}: an embedding voice model has one input, 'embedding'")
        self.size = int(inputs[0].shape[-1])
        self._encoder = encoder
        if encoder is not None:
            self._check_encoder(encoder)

    @property
    def encoder(self):
        """The speaker encoder (the bundled one, loaded on first use)."""
        if self._encoder is None:
            from edge.speaker import SpeakerEncoder

            self._encoder = SpeakerEncoder()
            self._check_encoder(self._encoder)
        return self._encoder

    def _check_encoder(self, encoder) -> None:
        if self.speaker_sha256 and encoder.info.sha256 != self.speaker_sha256:
            log.warning(
                "voice model %s was trained on speaker model %s, not %s: answers may be off",
                self.info.path.name,
                self.speaker_sha256[:12],
                encoder.info.sha256[:12],
            )

    def tag(
        self,
        samples: np.ndarray,
        track: PitchTrack | None = None,
        embedding: np.ndarray | None = None,
    ) -> VoiceResult:
        """16 kHz mono float32 ``(n,)`` to a :class:`VoiceResult`. ``track`` (its pitch track)
        and ``embedding`` (its speaker embedding) are computed when not given."""
        probs, f0 = self.probabilities(samples, track, embedding)
        return self.decide(probs, f0, self.loudspeaker(samples, probs))

    def probabilities(
        self,
        samples: np.ndarray,
        track: PitchTrack | None = None,
        embedding: np.ndarray | None = None,
    ) -> tuple[np.ndarray | None, float]:
        """``(probabilities (n_labels,), median F0)``; probabilities None when the input
        cannot be judged (too short, silent, noise-only, tonal or clipped)."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.size < self.min_seconds * SAMPLE_RATE:
            return None, 0.0
        track = track_pitch(samples) if track is None else track
        f0 = _median_f0(track)
        if not judgeable(samples, track, None):
            return None, f0
        vector = self.encoder.embed(samples) if embedding is None else embedding
        return self._probs_of(vector), f0

    def _probs_of(self, vector: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32).reshape(1, self.size)
        return self.session.run(["probs"], {EMBEDDING_INPUT: vector})[0][0]

    def voice_of_embedding(self, vector: np.ndarray) -> str:
        """The likeliest kind of voice of a speaker vector alone (no refusal, no threshold:
        the voice-change stage compares the two sides of a pause it found in speech)."""
        return self.labels[int(np.argmax(self.weighed(self._probs_of(vector))))]

    def loudspeaker(self, samples: np.ndarray, probs: np.ndarray | None) -> float | None:
        """The loudspeaker detector's probability (None without a detector or a judgement)."""
        if self.detector is None or probs is None:
            return None
        p_other = float(probs[self.labels.index(OTHER)])
        return self.detector.probability(channel_features(samples), p_other)

    def decide(
        self, probs: np.ndarray | None, f0_hz: float, loudspeaker: float | None = None
    ) -> VoiceResult:
        """The answer for :meth:`probabilities`' output (and :meth:`loudspeaker`'s), by this
        model's rules."""
        if probs is None:
            return _refuse(self.labels, f0_hz)
        weighed = self.weighed(probs)
        if self.other_threshold is None:
            return _decide(self.labels, probs, self.threshold, f0_hz, weighed)
        heard = self.detector is not None and (loudspeaker or 0.0) >= self.detector.threshold
        return _decide_other(self.labels, probs, self.threshold, self.other_threshold, f0_hz,
                             loudspeaker if heard else 0.0, weighed)  # fmt: skip

    def weighed(self, probs: np.ndarray) -> np.ndarray:
        """The probabilities (..., n_labels) the best label is chosen on: the model's, with
        ``child`` weighed down by :attr:`child_ratio`."""
        return weigh_child(self.labels, probs, self.child_ratio)


def typed_other_max(tagger) -> float:
    """The probability of ``other`` under which the household's typed match trusts this
    tagger's ``female``/``male`` (1.0, always, for taggers without an ``other`` rule)."""
    return tagger.other_threshold_typed if isinstance(tagger, EmbeddingVoiceTagger) else 1.0


def takes_embedding(path: Path) -> bool:
    """Whether the voice model at ``path`` judges a speaker embedding."""
    session, _ = open_session(path, expect_kind="voice")
    return [i.name for i in session.get_inputs()] == [EMBEDDING_INPUT]


def load_voice_tagger(
    path: str | Path | None = None, threads: int = 1
) -> EmbeddingVoiceTagger | VoiceTagger | PitchVoiceTagger:
    """The classifier at ``path`` (default: the bundled one), or the pitch tagger when
    no path was given and no model is bundled. A given path that does not exist
    raises :class:`ModelError`."""
    if path is None and not bundled_model("voice").is_file():
        log.warning("no voice model bundled; using the pitch tagger")
        return PitchVoiceTagger()
    resolved = bundled_model("voice") if path is None else Path(path)
    if resolved.is_file() and takes_embedding(resolved):
        return EmbeddingVoiceTagger(resolved, threads=threads)
    return VoiceTagger(path, threads=threads)
