"""Train DeepSpeech2 with CTC: ``talkratio-train ds2``.

One process, or several through ``torchrun`` (DDP: nccl on CUDA, gloo on CPU);
only the master process evaluates, logs and writes checkpoints. Each epoch
ends with a greedy CER on the dev set, ``OUT/last.pt`` (and ``OUT/epoch_N.pt``
with ``keep_epochs``) and, when the CER improved, ``OUT/best.pt``. ``OUT/metrics.jsonl`` logs the run.
With ``checkpoint_every`` N, ``OUT/last.pt`` is also written every N steps, so
``--resume`` continues an interrupted run from within its epoch.

``--init`` starts from another model's weights and vocabulary (fine-tuning): a
checkpoint, or an exported fp32 ONNX file such as the bundled model's twin
``benchmarks/models/stt.fp32.onnx`` (training/ds2/warm_start.py).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import torch
import torch.distributed as dist
import typer
from torch import nn

from edge.decoder import greedy_ids
from training.ds2.config import TrainConfig, config_to_dict, load_config
from training.ds2.data import (
    DurationBatchSampler,
    SpeechDataset,
    collate,
    noise_bank,
    read_manifest,
)
from training.ds2.model import DeepSpeech2, DS2Config, parameter_count, preset_config
from training.korean import Tokenizer, cer, wer

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class Distributed:
    """Where this process runs. ``master`` logs, evaluates and saves."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def master(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed() -> Distributed:
    """Join the process group when started by torchrun (``WORLD_SIZE`` set)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size == 1:
        return Distributed(device=device)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Distributed(dist.get_rank(), world_size, device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_lambda(config: TrainConfig, total_steps: int):
    """Linear warm-up to the peak, then cosine decay to ``final_lr_ratio`` of it."""
    warmup = max(1, min(config.warmup_steps, total_steps // 2))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return config.final_lr_ratio + (1.0 - config.final_lr_ratio) * cosine

    return factor


def describe_data(manifest: Path, entries: list) -> str:
    """One line on the training data for the model's metadata: size, hours, speakers."""
    hours = sum(e.duration_s for e in entries) / 3600
    speakers = len({e.speaker for e in entries if e.speaker})
    return f"{manifest}: {len(entries)} utterances, {hours:.2f} h, {speakers} speakers"


def dev_sample(entries: list, limit: int, seed: int) -> list:
    """A fixed random ``limit`` of the dev entries (all of them when ``limit`` is 0)."""
    if not limit or len(entries) <= limit:
        return entries
    keep = np.random.default_rng(seed).choice(len(entries), limit, replace=False)
    return [entries[i] for i in sorted(keep)]


# --------------------------------------------------------------------------- checkpoints


def rng_state() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, trainer: Trainer, epoch: int, batch_in_epoch: int) -> None:
    """Everything a resumed run needs to continue exactly; written atomically."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "model_args": trainer.model_config.to_dict(),
        "train_config": config_to_dict(trainer.config),
        "tokenizer": trainer.tokenizer.to_json(),
        "features": trainer.config.feature_config.to_json(),
        "model": trainer.raw_model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "step": trainer.step,
        "epoch": epoch,
        "batch_in_epoch": batch_in_epoch,
        "best_cer": trainer.best_cer,
        "rng": rng_state(),
        "trained_on": trainer.trained_on,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_model(path: str | Path) -> tuple[DeepSpeech2, Tokenizer, dict]:
    """Rebuild a model in eval mode from a checkpoint: ``(model, tokenizer, checkpoint)``."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = DeepSpeech2(DS2Config.from_dict(state["model_args"]))
    model.load_state_dict(state["model"])
    return model.eval(), Tokenizer.from_json(state["tokenizer"]), state


# --------------------------------------------------------------------------- the trainer


class Trainer:
    """Model, optimizer, schedule and data of one run; ``run()`` trains all epochs."""

    def __init__(
        self,
        config: TrainConfig,
        train_manifest: Path,
        dev_manifest: Path,
        out: Path,
        noise: Path | None,
        dist_info: Distributed,
        resume_state: dict | None = None,
        init: tuple[DeepSpeech2, Tokenizer] | None = None,
    ):
        self.config, self.out, self.dist = config, out, dist_info
        train_entries = read_manifest(train_manifest)
        self.dev_entries = dev_sample(read_manifest(dev_manifest), config.dev_limit, config.seed)
        if resume_state is not None:
            self.tokenizer = Tokenizer.from_json(resume_state["tokenizer"])
        elif init is not None:
            self.tokenizer = init[1]
        elif config.vocab == "jamo":
            self.tokenizer = Tokenizer.jamo(e.text for e in train_entries)
        else:
            self.tokenizer = Tokenizer.syllables(e.text for e in train_entries)
        self.trained_on = describe_data(train_manifest, train_entries)
        self.train_set = SpeechDataset(
            train_entries,
            self.tokenizer,
            config.feature_config,
            config.augment,
            noise_bank(noise),
            config.seed,
        )
        self.sampler = DurationBatchSampler(
            [e.duration_s for e in train_entries],
            config.max_batch_s,
            config.seed,
            dist_info.rank,
            dist_info.world_size,
            config.max_batch_size,
        )
        self.model_config = preset_config(
            config.model, config.feature_config.n_bins, len(self.tokenizer), config.dropout
        )
        if resume_state is not None:
            self.model_config = DS2Config.from_dict(resume_state["model_args"])
        elif init is not None:
            self.model_config = replace(init[0].config, dropout=config.dropout)
        self._build_model()
        if init is not None and resume_state is None:
            self.raw_model.load_state_dict(init[0].state_dict())
        self.step, self.best_cer, self.start_epoch, self.skip = 0, math.inf, 0, 0
        if resume_state is not None:
            self._restore(resume_state)

    def _build_model(self) -> None:
        config = self.config
        self.raw_model = DeepSpeech2(self.model_config).to(self.dist.device)
        self.model = self.raw_model
        if self.dist.enabled:
            self.model = nn.parallel.DistributedDataParallel(self.raw_model)
        self.optimizer = torch.optim.AdamW(
            self.raw_model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        total_steps = config.epochs * len(self.sampler)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(config, total_steps)
        )
        self.amp = self.dist.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)

    def _restore(self, state: dict) -> None:
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.best_cer = state["step"], state["best_cer"]
        self.start_epoch, self.skip = state["epoch"], state["batch_in_epoch"]
        set_rng_state(state["rng"])

    def loader(self, epoch: int, skip: int) -> torch.utils.data.DataLoader:
        self.train_set.set_epoch(epoch)
        self.sampler.set_epoch(epoch, skip)
        return torch.utils.data.DataLoader(
            self.train_set,
            batch_sampler=self.sampler,
            collate_fn=collate,
            num_workers=self.config.workers,
        )

    def train_step(self, batch: dict) -> tuple[float, float]:
        """One optimizer step; returns ``(loss, gradient norm before clipping)``."""
        device = self.dist.device
        self.model.train()
        with torch.autocast(device.type, dtype=torch.float16, enabled=self.amp):
            log_probs, out_lengths = self.model(
                batch["features"].to(device), batch["lengths"].to(device)
            )
        loss = self.ctc(
            log_probs.float().transpose(0, 1),
            batch["targets"].to(device),
            out_lengths,
            batch["target_lengths"].to(device),
        )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        grad_norm = nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return float(loss.detach()), float(grad_norm)

    def run(self) -> float:
        """Train the remaining epochs; returns the best dev CER."""
        progress = _progress(disable=not self.dist.master)
        with progress:
            for epoch in range(self.start_epoch, self.config.epochs):
                self._epoch(epoch, self.skip if epoch == self.start_epoch else 0, progress)
        return self.best_cer

    def _epoch(self, epoch: int, skip: int, progress) -> None:
        loader = self.loader(epoch, skip)
        task = progress.add_task(
            f"epoch {epoch + 1}/{self.config.epochs}", total=len(loader) - skip
        )
        started, losses = time.monotonic(), []
        for done, batch in enumerate(loader, start=skip + 1):
            loss, grad_norm = self.train_step(batch)
            losses.append(loss)
            every = self.config.checkpoint_every
            if self.dist.master and every and self.step % every == 0 and done < len(loader):
                save_checkpoint(self.out / "last.pt", self, epoch, done)
            progress.update(task, advance=1, description=f"epoch {epoch + 1} loss {loss:.3f}")
            if self.dist.master and self.step % self.config.log_every == 0:
                self._log(
                    {
                        "step": self.step,
                        "epoch": epoch,
                        "loss": loss,
                        "grad_norm": grad_norm,
                        "lr": self.scheduler.get_last_lr()[0],
                    }
                )
        self._end_epoch(
            epoch, float(np.mean(losses)) if losses else math.nan, time.monotonic() - started
        )

    def _end_epoch(self, epoch: int, train_loss: float, seconds: float) -> None:
        if self.dist.master:
            refs, hyps = transcribe_entries(
                self.raw_model,
                self.tokenizer,
                self.dev_entries,
                self.config.feature_config,
                self.dist.device,
            )
            dev_cer, dev_wer = cer(refs, hyps), wer(refs, hyps)
            improved = dev_cer < self.best_cer
            self.best_cer = min(self.best_cer, dev_cer)
            self._log(
                {
                    "epoch": epoch,
                    "step": self.step,
                    "train_loss": train_loss,
                    "dev_cer": dev_cer,
                    "dev_wer": dev_wer,
                    "epoch_s": round(seconds, 1),
                    "example": [refs[0], hyps[0]],
                }
            )
            log.info(
                "epoch %d: train loss %.3f, dev CER %.4f, WER %.4f (%.0f s)",
                epoch + 1,
                train_loss,
                dev_cer,
                dev_wer,
                seconds,
            )
            names = ("last.pt",) + ((f"epoch_{epoch}.pt",) if self.config.keep_epochs else ())
            for name in names + (("best.pt",) if improved else ()):
                save_checkpoint(self.out / name, self, epoch + 1, 0)
        if self.dist.enabled:
            dist.barrier()

    def _log(self, record: dict) -> None:
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"time": round(time.time(), 1), **record}, ensure_ascii=False) + "\n"
            )


def _progress(disable: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=disable,
    )


@torch.no_grad()
def transcribe_entries(
    model: DeepSpeech2, tokenizer: Tokenizer, entries, features, device, max_batch_s: float = 120.0
) -> tuple[list[str], list[str]]:
    """Greedy transcripts of clean ``entries``: ``(references, hypotheses)``."""
    model.eval()
    dataset = SpeechDataset(entries, tokenizer, features)
    sampler = DurationBatchSampler([e.duration_s for e in entries], max_batch_s)
    refs, hyps = [], []
    for indices in sampler:
        batch = collate([dataset[i] for i in indices])
        log_probs, lengths = model(batch["features"].to(device), batch["lengths"].to(device))
        log_probs = log_probs.float().cpu().numpy()
        for row, i in enumerate(indices):
            hyps.append(tokenizer.decode(greedy_ids(log_probs[row, : int(lengths[row])])))
            refs.append(entries[i].text)
    return refs, hyps


def warm_start(
    path: Path, config: TrainConfig, train_manifest: Path
) -> tuple[DeepSpeech2, Tokenizer]:
    """Weights and vocabulary to fine-tune from: a checkpoint or an exported fp32 ONNX file."""
    if path.suffix == ".onnx":
        from training.ds2.warm_start import model_from_onnx

        entries = read_manifest(train_manifest)
        order = np.random.default_rng(config.seed).permutation(len(entries))
        model, tokenizer, features = model_from_onnx(path, [entries[i].audio for i in order])
    else:
        model, tokenizer, state = load_model(path)
        features = config.feature_config.from_json(state["features"])
    if features != config.feature_config:
        raise ValueError(
            f"{path} was trained on other features than the config's {config.features}"
        )
    return model, tokenizer


def train(
    config: TrainConfig,
    train_manifest: Path,
    dev_manifest: Path,
    out: Path,
    noise: Path | None = None,
    resume: bool = False,
    init: Path | None = None,
) -> float:
    """Train (or resume from ``out/last.pt``, or start from ``init``); returns the best dev CER."""
    dist_info = setup_distributed()
    torch.set_num_threads(config.threads)
    seed_everything(config.seed + dist_info.rank)
    out.mkdir(parents=True, exist_ok=True)
    state = None
    if resume:
        if not (out / "last.pt").is_file():
            raise FileNotFoundError(f"{out / 'last.pt'} does not exist; nothing to resume")
        state = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    start = warm_start(init, config, train_manifest) if init and state is None else None
    trainer = Trainer(config, train_manifest, dev_manifest, out, noise, dist_info, state, start)
    if dist_info.master:
        (out / "config.json").write_text(json.dumps(config_to_dict(config), indent=2))
        trainer.tokenizer.save(out / "tokens.json")
        trainer._log(
            {
                "start": True,
                "world_size": dist_info.world_size,
                "resumed_at_step": trainer.step,
                "parameters": parameter_count(trainer.raw_model),
                "tokens": len(trainer.tokenizer),
                "batches_per_epoch": len(trainer.sampler),
            }
        )
        log.info(
            "%s model: %d parameters, %d tokens (%s), %d batches per epoch per process",
            config.model,
            parameter_count(trainer.raw_model),
            len(trainer.tokenizer),
            config.vocab,
            len(trainer.sampler),
        )
    best = trainer.run()
    if dist_info.enabled:
        dist.destroy_process_group()
    return best


def cli(
    train_manifest: Annotated[Path, typer.Option("--train", help="training manifest (JSON Lines)")],
    dev_manifest: Annotated[
        Path, typer.Option("--dev", help="dev manifest, greedy CER each epoch")
    ],
    out: Annotated[Path, typer.Option(help="run folder: checkpoints, metrics.jsonl")],
    config: Annotated[
        str, typer.Option(help="preset (research, edge, demo, tiny) or TOML file")
    ] = "demo",
    noise: Annotated[
        Optional[Path], typer.Option(help="noise.jsonl of a noise bank to mix in")
    ] = None,
    epochs: Annotated[Optional[int], typer.Option(help="override the preset's epochs")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads per process")] = None,
    resume: Annotated[bool, typer.Option(help="continue exactly from OUT/last.pt")] = False,
    init: Annotated[
        Optional[Path],
        typer.Option(help="fine-tune from this checkpoint or fp32 ONNX file (weights, vocabulary)"),
    ] = None,
) -> None:
    """Train DeepSpeech2 on a manifest.

    Example: talkratio-train ds2 --config demo --train data/manifests_v1/train.jsonl
    --dev data/manifests_v1/dev.jsonl --noise data/corpus_v1/noise/noise.jsonl --out runs/ds2
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        train_config = load_config(config, epochs=epochs, threads=threads)
        for path in (
            (train_manifest, dev_manifest) + ((noise,) if noise else ()) + ((init,) if init else ())
        ):
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist")
        best = train(train_config, train_manifest, dev_manifest, out, noise, resume, init)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"best_dev_cer": best, "out": str(out)}))


if __name__ == "__main__":  # torchrun --nproc-per-node N -m training.ds2.train ...
    typer.run(cli)
