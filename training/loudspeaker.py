"""The loudspeaker detector: channel statistics + the voice model's ``other`` odds, fitted and checked.

Steps (``talkratio-train loudspeaker``):

1. channel statistics (:func:`edge.loudspeaker.channel_features`) of every view
   of the home data (:mod:`training.voice.home`): the same clean and noisy views
   the voice probe's embeddings were made from (:func:`training.voice.probe.views_of`,
   same seeds), so each row pairs with its embedding;
2. a logistic model, ``other`` against every other class, fitted on the train
   split's channel statistics plus the voice model's log-odds of ``other``;
3. the held-out check: voices the detector never heard (the test split's
   scene-only voices), played through loudspeaker settings outside the training
   ranges (:func:`held_out_loudspeaker`), clean and in test-only noise;
4. ``--write`` stores it in the voice model as ``talkratio.loudspeaker`` with
   threshold 1.0 (never); ``talkratio-train tv-rule`` (:mod:`training.tv_rule`)
   then chooses its threshold on dev household scenes.

Example:
    talkratio-train loudspeaker --data data/voicetype/home --work data/tvreject/loudspeaker --write
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import typer

from edge.audio import SAMPLE_RATE
from edge.loudspeaker import channel_features
from training import noise as home_noise
from training.voice import home

log = logging.getLogger(__name__)


def channel_split(folder: Path, split: str, seed: int = 0) -> dict[str, np.ndarray]:
    """``{"x": (N, V, F) channel statistics of every view, "y": (N,) labels}`` of ``split``,
    views as :func:`training.voice.probe.embed_split` makes them (same seeds)."""
    from training.voice.probe import views_of

    clips, specs = home.read_split(folder, split)
    rows = []
    for i, x in enumerate(clips):
        rng = np.random.default_rng([seed, i, len(split)])
        rows.append(np.stack([channel_features(v) for v in views_of(x, split, rng)]))
    labels = np.array([home.LABELS.index(s.label) for s in specs])
    return {"x": np.stack(rows), "y": labels}


# --------------------------------------------------------------------------- held-out loudspeakers


def _limiter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gentle (ratio 1.5-2.5) or brick-wall (ratio 20) gain riding: both outside the training
    compressor's 3-10."""
    hop = SAMPLE_RATE // 200  # 5 ms gain steps: faster than the training compressor's 10 ms
    frames = np.pad(x, (0, -x.size % hop)).reshape(-1, hop)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    threshold = np.percentile(level_db, rng.uniform(40, 80))
    ratio = rng.uniform(1.5, 2.5) if rng.random() < 0.5 else 20.0
    over = np.maximum(level_db - threshold, 0)
    gain = np.repeat(10 ** (-over * (1 - 1 / ratio) / 20), hop)[: x.size]
    return (x * gain).astype(np.float32)


def _band_replication(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A low-bit-rate codec's top band: above a 3-6 kHz crossover only the envelope is kept,
    its fine structure replaced by noise (unlike the training codec's quantised bins)."""
    from scipy.signal import istft, stft

    hz, _, spec = stft(x, SAMPLE_RATE, nperseg=512)
    above = hz >= rng.uniform(3000, 6000)
    phase = np.exp(2j * np.pi * rng.random(spec[above].shape))
    spec[above] = np.abs(spec[above]) * phase
    _, y = istft(spec, SAMPLE_RATE, nperseg=512)
    return np.pad(y, (0, max(0, x.size - y.size)))[: x.size].astype(np.float32)


def _audience(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A studio audience or a street under the presenter: unit-RMS slowly swelling pink noise."""
    pink = home_noise.shaped_noise(n_samples, rng, lambda hz: 1 / np.sqrt(np.maximum(hz, 20)))
    t = np.arange(n_samples) / SAMPLE_RATE
    swell = 1 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 6.3))
    x = pink * swell
    return (x / np.sqrt(np.mean(x**2) + 1e-12)).astype(np.float32)


def _driver_band(rng: np.random.Generator) -> tuple[float, float]:
    """A soundbar (60-110 Hz to 7.6-7.9 kHz) or a tablet/phone speaker (450-700 Hz to
    2.8-3.3 kHz): band edges on both sides of the training range (120-400 Hz, 3.5-7.5 kHz)."""
    if rng.random() < 0.5:
        return float(rng.uniform(60, 110)), float(rng.uniform(7600, 7900))
    return float(rng.uniform(450, 700)), float(rng.uniform(2800, 3300))


def held_out_loudspeaker(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` through loudspeaker settings the detector never trained on, at ``x``'s RMS: an
    audience bed instead of music, a limiter, band replication, other band edges, dips
    (not peaks) from a TV's panel, always a room."""
    from training.voice.home import peaking

    rms = np.sqrt(np.mean(x**2) + 1e-12)
    if rng.random() < 0.5:
        x = x + _audience(x.size, rng) * rms * 10 ** (-rng.uniform(10, 25) / 20)
    x = _limiter(x, rng)
    if rng.random() < 0.5:
        x = _band_replication(x, rng)
    x = home_noise.band_limit(x, *_driver_band(rng))
    for _ in range(int(rng.integers(0, 3))):
        x = peaking(x, rng.uniform(300, 6000), -rng.uniform(3, 10), rng.uniform(1, 4))
    x = home_noise.reverberate(x, rng, rt60_range_s=(0.3, 0.9))
    return (x / np.sqrt(np.mean(x**2) + 1e-12) * rms).astype(np.float32)


# --------------------------------------------------------------------------- fitting

L2 = 1.0  # ridge on standardised weights: 15 weights, thousands of rows
NEWTON_STEPS = 30
OTHER = home.LABELS.index("other")


def other_log_odds(tagger, embeddings: np.ndarray) -> np.ndarray:
    """The voice model's log-odds of ``other`` for ``(M, D)`` embeddings (no refusals: these are
    judgeable training utterances)."""
    probs = np.concatenate(
        [tagger.session.run(["probs"], {"embedding": v[None].astype(np.float32)})[0]
         for v in embeddings]
    )  # fmt: skip
    p = np.clip(probs[:, OTHER], 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_logistic(z: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, ...]:
    """``(mean, scale, weights, bias)`` of a class-balanced, ridge-regularised logistic
    regression of ``y`` (0/1) on ``z`` (M, K), by Newton's method."""
    mean, scale = z.mean(axis=0), z.std(axis=0) + 1e-6
    a = np.hstack([(z - mean) / scale, np.ones((z.shape[0], 1))])
    balance = np.where(y == 1, 0.5 / max(y.mean(), 1e-6), 0.5 / max(1 - y.mean(), 1e-6))
    w = np.zeros(a.shape[1])
    ridge = l2 * np.eye(a.shape[1])
    ridge[-1, -1] = 0  # the bias is not shrunk
    for _ in range(NEWTON_STEPS):
        p = 1 / (1 + np.exp(-np.clip(a @ w, -50, 50)))
        gradient = a.T @ (balance * (p - y)) + ridge @ w
        hessian = (a * (balance * p * (1 - p))[:, None]).T @ a + ridge
        w -= np.linalg.solve(hessian, gradient)
    return mean, scale, w[:-1], float(w[-1])


def auc(score: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve: the chance a loudspeaker clip outscores a direct one."""
    order = np.argsort(score, kind="stable")
    ranks = np.empty(score.size)
    ranks[order] = np.arange(1, score.size + 1)
    n_pos = int(truth.sum())
    n_neg = truth.size - n_pos
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --------------------------------------------------------------------------- command

TRAIN_SPLITS = ("train", "train_kokoro")
HELD_OUT_CLIPS = 240  # test-split utterances (scene-only voices) played both ways
HELD_OUT_SEED = 5


def cached(path: Path, make, fits=lambda data: True) -> dict[str, np.ndarray]:
    """``make()``'s arrays, stored at ``path`` (0600) the first time or when the stored ones
    no longer ``fits``."""
    if not path.is_file() or not fits(dict(np.load(path))):
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **make())
        path.chmod(0o600)
    data = np.load(path)
    return {k: data[k] for k in data.files}


def training_rows(data: Path, work: Path, tagger) -> tuple[np.ndarray, np.ndarray]:
    """``(z (M, F + 1), is_loudspeaker (M,))`` of every view of the training splits."""
    zs, ys = [], []
    for split in TRAIN_SPLITS:
        if not (data / f"{split}.npz").is_file():
            continue
        vectors = np.load(data / f"{split}.emb.npz")["x"]
        channel = cached(
            work / f"{split}.channel.npz",
            lambda s=split: channel_split(data, s),
            lambda stored, v=vectors: stored["x"].shape[:2] == v.shape[:2],  # same clips, views
        )
        n, views, _ = channel["x"].shape
        odds = other_log_odds(tagger, vectors.reshape(n * views, -1))
        zs.append(np.hstack([channel["x"].reshape(n * views, -1), odds[:, None]]))
        ys.append(np.repeat(channel["y"] == OTHER, views))
    return np.vstack(zs), np.concatenate(ys).astype(float)


def held_out_views(data: Path, encoder) -> dict[str, np.ndarray]:
    """Test-split voices (never trained on) through :func:`held_out_loudspeaker` and direct,
    each in the test views (clean, test-only noise at 10 and 5 dB): vectors and channel
    statistics."""
    from training.voice.probe import views_of

    clips, specs = home.read_split(data, "test")
    keep = [i for i, s in enumerate(specs) if s.label != "other"][:HELD_OUT_CLIPS]
    vectors, channel, played = [], [], []
    for i in keep:
        rng = np.random.default_rng([HELD_OUT_SEED, i])
        for through in (True, False):
            x = held_out_loudspeaker(clips[i], rng) if through else clips[i]
            views = views_of(x, "test", rng)
            vectors.append([encoder.embed(v) for v in views])
            channel.append([channel_features(v) for v in views])
            played.append(through)
    return {"vectors": np.array(vectors, np.float32), "channel": np.array(channel),
            "played": np.array(played)}  # fmt: skip


def held_out_check(views: dict[str, np.ndarray], tagger, detector) -> dict:
    """AUC of the voice model's p(other) alone and of the detector, per test view."""
    from training.voice.probe import TEST_CONDITIONS

    n, count, _ = views["vectors"].shape
    odds = other_log_odds(tagger, views["vectors"].reshape(n * count, -1)).reshape(n, count)
    played = views["played"]
    out = {}
    for k, condition in enumerate(TEST_CONDITIONS):
        p_other = 1 / (1 + np.exp(-odds[:, k]))
        detected = np.array([detector.probability(f, p) for f, p in
                             zip(views["channel"][:, k], p_other, strict=True)])  # fmt: skip
        out[condition] = {
            "auc_voice_model_alone": round(auc(odds[:, k], played), 4),
            "auc_detector": round(auc(detected, played), 4),
            "clips": int(n),
        }
    return out


def fit_detector(data: Path, work: Path, model: Path | None) -> tuple[dict, dict]:
    """``(detector fields, report)``: fitted on the training splits, checked on held-out voices
    through held-out loudspeaker settings."""
    from edge.loudspeaker import FEATURE_NAMES, LoudspeakerDetector
    from edge.speaker import SpeakerEncoder
    from edge.voice import EmbeddingVoiceTagger

    encoder = SpeakerEncoder()
    tagger = EmbeddingVoiceTagger(model, encoder=encoder)
    z, y = training_rows(data, work, tagger)
    mean, scale, weights, bias = fit_logistic(z, y)
    detector = LoudspeakerDetector(*(tuple(map(float, v)) for v in (mean, scale, weights)), bias)
    views = cached(work / "held_out_loudspeaker.npz", lambda: held_out_views(data, encoder))
    report = {
        "trained_on": f"{int(y.size)} views of {', '.join(TRAIN_SPLITS)} ({int(y.sum())} loudspeaker)",
        "weights": dict(zip((*FEATURE_NAMES, "other_log_odds"), np.round(weights, 3).tolist(), strict=True)),
        "held_out": held_out_check(views, tagger, detector),
    }  # fmt: skip
    return detector.to_dict(), report


def cli(
    data: Path = typer.Option(..., help="Folder written by talkratio-train voice-data (embedded)."),
    work: Path = typer.Option(..., help="Folder for cached channel statistics and held-out views."),
    model: Path = typer.Option(None, help="Voice model (default: the bundled one)."),
    write: bool = typer.Option(False, "--write", help="Store the detector in the voice model."),
) -> None:
    """Fit the loudspeaker detector (channel statistics + the voice model's p(other)).

    Example: talkratio-train loudspeaker --data data/voicetype/home --work data/tvreject/loudspeaker --write
    """
    from edge.onnx_model import bundled_model
    from export.onnx_utils import write_metadata

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = bundled_model("voice") if model is None else model
    if not (data / "train.emb.npz").is_file() or not path.is_file():
        typer.echo(f"Error: {data} holds no train.emb.npz, or {path} does not exist.", err=True)
        raise typer.Exit(2)
    detector, report = fit_detector(data, work, path)
    typer.echo(json.dumps(report, indent=1))
    if write:
        write_metadata(path, {"loudspeaker": detector})
