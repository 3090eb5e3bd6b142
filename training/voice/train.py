"""Train the voice classifier: views, balanced loss, early stopping, calibration, threshold.

Read top to bottom: :func:`train` builds views of the training and dev
utterances, runs epochs of random crops until dev loss stops improving, then
fits a temperature on dev (so ``voice_prob`` means what it says) and chooses
the ``unknown`` threshold on dev. The checkpoint holds everything export needs.
torch is imported inside functions: ``talkratio-train`` imports this module for
every subcommand, and most of them do not need torch.

Example:
    talkratio-train voice --train data/manifests_v1/train.jsonl \\
        --dev data/manifests_v1/dev.jsonl --noise data/corpus_v1/noise --out runs/voice
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import typer

from edge.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

TARGET_RISK = 0.01  # the threshold keeps errors among accepted dev answers at or below 1 %
MIN_THRESHOLD = 0.6  # below this a two-way answer is close to a coin toss
THRESHOLD_GRID = np.round(np.arange(0.5, 0.96, 0.025), 3)
# Never sharpen (T < 1): synthetic dev voices are easier than real ones, and a
# temperature fitted on a nearly separable dev set would only add overconfidence.
TEMPERATURE_BOUNDS = (1.0, 20.0)
LABEL_SMOOTHING = 0.05  # keeps logits from growing without bound on separable data
DEV_CROP_SECONDS = (0.3, 2.0)  # short dev crops: the runtime sees such utterances too
FRAMES_PER_SECOND = 100  # feature frames at the 10 ms hop
MIN_SECONDS = 0.3  # shortest VAD utterance; training crops start there too


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation and regularisation of one training run."""

    epochs: int = 30
    patience: int = 5  # epochs without a better dev loss before stopping
    lr: float = 3e-3
    weight_decay: float = 1e-3
    mel_warp: float = 0.08  # +-8 % warp of the mel axis: formant shifts within a gender
    spectral_drop: float = 0.25  # share of steps that train the pitch branch alone
    pitch_drop: float = 0.15  # share of steps that train the spectral branch alone
    pitch_jitter_octaves: float = 0.03  # noise on the pitch statistics
    seed: int = 0
    threads: int = 1


def warp_mel(features, rng: np.random.Generator, max_warp: float):
    """Stretch or squeeze ``(B, T, F)`` along F by a factor in ``1 +- max_warp`` (linear
    interpolation, edge bins repeated)."""
    import torch

    factor = 1.0 + rng.uniform(-max_warp, max_warp)
    n = features.shape[-1]
    source = torch.clamp(torch.arange(n, dtype=torch.float32) / factor, 0, n - 1)
    low = source.floor().long()
    high = torch.clamp(low + 1, max=n - 1)
    weight = source - low
    return features[..., low] * (1 - weight) + features[..., high] * weight


def class_weights(views, n_labels: int):
    """Inverse class frequency, mean 1: each class weighs the same in the loss."""
    import torch

    counts = np.bincount([u[0].label for u in views], minlength=n_labels).astype(float)
    weights = counts.sum() / np.maximum(counts, 1) / n_labels
    return torch.tensor(weights, dtype=torch.float32)


def jitter_pitch(pitch, rng: np.random.Generator, octaves: float):
    """Shift each example's F0 levels by the same small random amount (within a gender)."""
    import torch

    shift = torch.from_numpy(rng.normal(0.0, octaves, (pitch.shape[0], 1)).astype(np.float32))
    present = pitch[:, -1:]  # has_pitch: no shift where there is no pitch
    return torch.cat([pitch[:, :-1] + shift * present, present], dim=1)


def step_logits(model, feats, pitch, rng: np.random.Generator, options: TrainOptions):
    """Training logits with branch dropout: sometimes pitch alone, sometimes spectrum alone."""
    if model.config.preset != "small":
        return model(feats)
    spectral = model.spectral_logits(feats)
    if model.pitch is None:
        return spectral
    pitch = jitter_pitch(pitch, rng, options.pitch_jitter_octaves)
    draw = rng.random()
    if draw < options.spectral_drop:
        return model.pitch(pitch)
    if draw < options.spectral_drop + options.pitch_drop:
        return spectral
    return spectral + model.pitch(pitch)


def train_epoch(
    model, optimizer, scheduler, views, crop, weights, rng, options: TrainOptions
) -> float:
    import torch

    from training.voice.data import batches

    model.train()
    total, count = 0.0, 0
    for feats, pitch, labels in batches(views, crop, rng):
        if options.mel_warp > 0:
            feats = warp_mel(feats, rng, options.mel_warp)
        logits = step_logits(model, feats, pitch, rng, options)
        loss = torch.nn.functional.cross_entropy(
            logits, labels, weight=weights, label_smoothing=LABEL_SMOOTHING
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item() * labels.numel()
        count += labels.numel()
    return total / max(count, 1)


def dev_logits(model, dev_views) -> tuple[np.ndarray, np.ndarray]:
    """Logits ``(N, C)`` and labels ``(N,)``: every dev view whole, and one short crop of
    it (the same crops every epoch)."""
    import torch

    from training.voice.data import voiced_crop_start, whole_view

    model.eval()
    rng = np.random.default_rng(0)
    logits, labels = [], []
    with torch.no_grad():
        for utterance in dev_views:
            for view in utterance:
                frames = view.logmel.shape[0]
                length = min(frames, int(rng.uniform(*DEV_CROP_SECONDS) * FRAMES_PER_SECOND))
                start = voiced_crop_start(view, length, rng)
                for crop in (view, view.crop(start, start + length)):
                    feats, pitch = whole_view(crop)
                    logits.append(model(feats, pitch)[0].numpy())
                    labels.append(view.label)
    return np.stack(logits), np.array(labels)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(labels.size), labels].mean())


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = TEMPERATURE_BOUNDS
) -> float:
    """The temperature within ``bounds`` minimising dev NLL (golden-section search on log T)."""
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(logits, labels, np.exp(a)) < nll(logits, labels, np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def choose_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """The lowest threshold (at least ``MIN_THRESHOLD``) whose accepted dev answers are
    wrong at most ``TARGET_RISK`` of the time; the highest grid value if none is."""
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    for threshold in THRESHOLD_GRID[THRESHOLD_GRID >= MIN_THRESHOLD]:
        accepted = confidence >= threshold
        if accepted.any() and np.mean(predicted[accepted] != labels[accepted]) <= TARGET_RISK:
            return float(threshold)
    return float(THRESHOLD_GRID[-1])


def fit(model, train_views, dev_views, options: TrainOptions, batch_size: int):
    """Epochs until the dev loss has not improved for ``patience`` epochs; returns the
    best state and the per-epoch history."""
    import torch

    from training.voice.data import CropOptions

    rng = np.random.default_rng(options.seed)
    hop_s = model.config.features().hop_length / SAMPLE_RATE
    crop = CropOptions(min_seconds=MIN_SECONDS, hop_seconds=hop_s, batch_size=batch_size)
    weights = class_weights(train_views, model.config.n_labels)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    steps = options.epochs * int(np.ceil(len(train_views) / batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, options.lr, total_steps=steps + 1)
    best, best_loss, history, waited = None, np.inf, [], 0
    for epoch in range(options.epochs):
        start = time.time()
        train_loss = train_epoch(
            model, optimizer, scheduler, train_views, crop, weights, rng, options
        )
        logits, labels = dev_logits(model, dev_views)
        dev_loss, dev_acc = nll(logits, labels), float(np.mean(logits.argmax(1) == labels))
        history.append(
            {"epoch": epoch + 1, "train_loss": train_loss, "dev_loss": dev_loss, "dev_acc": dev_acc}
        )
        log.info(
            "epoch %d: train loss %.4f, dev loss %.4f, dev acc %.4f (%.0f s)",
            epoch + 1,
            train_loss,
            dev_loss,
            dev_acc,
            time.time() - start,
        )
        if dev_loss < best_loss:
            best, best_loss, waited = (
                {k: v.clone() for k, v in model.state_dict().items()},
                dev_loss,
                0,
            )
        else:
            waited += 1
            if waited >= options.patience:
                log.info("dev loss has not improved for %d epochs: stopping", waited)
                break
    model.load_state_dict(best)
    return model, history


def calibrate(model, dev_views) -> dict:
    """Temperature and threshold from dev, with dev figures before and after."""
    logits, labels = dev_logits(model, dev_views)
    temperature = fit_temperature(logits, labels)
    probs = softmax(logits, temperature)
    threshold = choose_threshold(probs, labels)
    accepted = probs.max(axis=1) >= threshold
    return {
        "temperature": temperature,
        "threshold": threshold,
        "dev": {
            "accuracy": float(np.mean(probs.argmax(1) == labels)),
            "nll_before": nll(logits, labels),
            "nll_after": nll(logits, labels, temperature),
            "coverage_at_threshold": float(accepted.mean()),
            "views": int(labels.size),
        },
    }


def describe_data(entries) -> str:
    hours = sum(e.duration_s for e in entries) / 3600
    speakers = len({e.speaker for e in entries})
    return f"{len(entries)} utterances, {hours:.2f} h, {speakers} speakers"


def train(
    train_manifest: Path,
    dev_manifest: Path,
    out_dir: Path,
    model_config,
    options: TrainOptions,
    view_options,
    noise_dir: Path | None = None,
    cache_dir: Path | None = None,
    batch_size: int = 32,
    per_speaker: int = 0,
) -> Path:
    """Train, calibrate and write ``out_dir/voice.pt``; returns its path."""
    import torch

    from training.noise import NoiseBank
    from training.voice.data import cached_views, read_voice_manifest
    from training.voice.model import build_model, parameter_count

    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    labels = model_config.labels
    train_entries = read_voice_manifest(train_manifest, labels, per_speaker)
    dev_entries = read_voice_manifest(dev_manifest, labels, per_speaker)
    overlap = {e.speaker for e in train_entries} & {e.speaker for e in dev_entries}
    if overlap:
        raise ValueError(
            f"train and dev share {len(overlap)} speakers; splits must be speaker-disjoint"
        )
    bank = NoiseBank.from_dir(noise_dir) if noise_dir else None
    features = model_config.features()
    bank_name = str(noise_dir or "")
    train_views = cached_views(train_entries, features, view_options, bank, cache_dir, bank_name)
    dev_options = replace(view_options, views=2, seed=view_options.seed + 1, snr_db=(5.0, 10.0))
    dev_views = cached_views(dev_entries, features, dev_options, bank, cache_dir, bank_name)
    model = build_model(model_config)
    log.info("%s preset: %d parameters", model_config.preset, parameter_count(model))
    model, history = fit(model, train_views, dev_views, options, batch_size)
    calibration = calibrate(model, dev_views)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "voice.pt"
    torch.save(
        {
            "model_config": model_config.to_dict(),
            "features": features.to_json(),
            "state_dict": model.state_dict(),
            "temperature": calibration["temperature"],
            "threshold": calibration["threshold"],
            "min_seconds": MIN_SECONDS,
            "trained_on": f"{train_manifest}: {describe_data(train_entries)}; noise: {noise_dir}",
            "dev": calibration["dev"],
            "history": history,
            "options": asdict(options),
            "view_options": asdict(view_options),
        },
        path,
    )
    log.info(
        "wrote %s (T = %.3f, threshold %.3f)",
        path,
        calibration["temperature"],
        calibration["threshold"],
    )
    return path


def cli(
    train_manifest: Path = typer.Option(..., "--train", help="training manifest (JSON Lines)"),
    dev_manifest: Path = typer.Option(
        ..., "--dev", help="dev manifest, speakers disjoint from train"
    ),
    out: Path = typer.Option(Path("runs/voice"), help="folder for voice.pt"),
    noise: Path = typer.Option(
        None, help="noise bank folder (noise.jsonl); default: generated home noise"
    ),
    preset: str = typer.Option("small", help="small (shipped) or research"),
    labels: str = typer.Option(
        "female,male", help="class names = manifest genders, comma separated"
    ),
    epochs: int = typer.Option(30),
    lr: float = typer.Option(3e-3, help="peak learning rate (one-cycle schedule)"),
    views: int = typer.Option(3, help="views per utterance (1 clean + augmented)"),
    batch_size: int = typer.Option(32),
    cache: Path = typer.Option(None, help="folder to keep computed views between runs"),
    per_speaker: int = typer.Option(0, help="at most this many utterances per speaker (0: all)"),
    seed: int = typer.Option(0),
    threads: int = typer.Option(1),
) -> None:
    """Train the voice classifier.

    Example: talkratio-train voice --train data/manifests_v1/train.jsonl
    --dev data/manifests_v1/dev.jsonl --noise data/corpus_v1/noise --out runs/voice
    """
    from training.voice.data import ViewOptions
    from training.voice.model import VoiceModelConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for manifest in (train_manifest, dev_manifest):
        if not manifest.is_file():
            typer.echo(f"error: manifest {manifest} does not exist", err=True)
            raise typer.Exit(2)
    config = VoiceModelConfig(
        preset=preset, labels=tuple(x.strip() for x in labels.split(",") if x.strip())
    )
    options = TrainOptions(epochs=epochs, lr=lr, seed=seed, threads=threads)
    path = train(
        train_manifest,
        dev_manifest,
        out,
        config,
        options,
        ViewOptions(views=views, seed=seed),
        noise,
        cache,
        batch_size,
        per_speaker,
    )
    typer.echo(str(path))
