"""Train ONE resolved configuration to its end (or resume it) and write its run record.

The only training loop of the suite: build, then per epoch train, evaluate, checkpoint; then the
record, written once. It knows nothing of Optuna or statistics; an `on_epoch` callback may raise
`StopRun` (a pruner). The result of a run is its final epoch on the test split; every choice
(pruning, best epoch, a search's objective) reads the validation split.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from timm.loss import SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from tqdm.auto import tqdm

from bench.config import ConfigError, RunConfig, TrainConfig
from bench.config.protocols import departures
from bench.datasets import DataBundle, DataError, load_data
from bench.training.environment import (
    device_name,
    distributed_env,
    resolve_device,
    seed_everything,
    versions,
)
from bench.training.record import combined_digests, summarize
from bench.training.scalars import ScalarLog
from bench.training.state import (
    CHECKPOINT,
    DiskError,
    load_checkpoint,
    load_record,
    rng_state,
    save_checkpoint,
    set_rng_state,
    state_digest,
    write_record,
)
from bench.training.steps import Digests, RunFailed, Trainer, evaluate, train_epoch
from components.energy import EnergyMeter
from components.model import Spikformer, count_params

__all__ = ["StopRun", "build", "load_run_data", "make_scheduler", "train_run"]

OnEpoch = Callable[[int, dict[str, Any]], None]


class StopRun(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by an `on_epoch` callback to end the run early (e.g. an Optuna pruner)."""


def train_run(
    cfg: RunConfig,
    out_dir: Path | str,
    *,
    quiet: bool = False,
    on_epoch: OnEpoch | None = None,
    tags: dict[str, Any] | None = None,
) -> dict:
    """Train `cfg` into `out_dir` and return its record (also written to out_dir/record.json,
    with `tags` such as the study and variant). A finished record of the same run is returned
    as it is; a checkpoint is resumed. Ctrl-C propagates and leaves the last epoch's checkpoint."""
    out_dir = Path(out_dir)
    done = load_record(out_dir)
    if done is not None and done.get("status") == "complete" and done.get("run_id") == cfg.run_id:
        return done
    rank, world, local_rank = distributed_env()
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    record: dict[str, Any] = {
        "run_id": cfg.run_id,
        **(tags or {}),
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "status": "running",
        "error": None,
        "device": device_name(device),
        "world_size": world,
        "versions": versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        _fit(cfg, out_dir, record, device, quiet or rank != 0, on_epoch)
    except StopRun as stop:
        record.update(status="pruned", error=str(stop) or "stopped early by a callback")
    except (RunFailed, DataError, ConfigError, DiskError) as err:
        record.update(status="failed", error=str(err))
    except torch.OutOfMemoryError:
        record.update(
            status="failed",
            error=f"out of memory at batch_size={cfg.train.batch_size} on {record['device']}: "
            "lower batch_size or use amp=bf16.",
        )
    except Exception as err:  # anything else still leaves a record that says what happened
        record.update(
            status="failed", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()
        )
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if rank == 0:
        write_record(out_dir, record)
    return record


def load_run_data(cfg: RunConfig, world: int = 1, rank: int = 0) -> DataBundle:
    """The run's data, checked against its model's input shape and classes."""
    t = cfg.train
    if world > 1 and t.batch_size % world:
        raise ConfigError(f"batch_size={t.batch_size} must be divisible by the {world} processes.")
    data = load_data(
        cfg.data.name,
        data_root=cfg.data.root,
        batch_size=t.batch_size // world,
        test_batch_size=cfg.data.test_batch_size,
        workers=cfg.data.workers,
        T=cfg.model.T,
        seed=cfg.seed,
        augment=cfg.data.augment,
        world_size=world,
        rank=rank,
        drop_last=cfg.data.drop_last,
        augment_order=cfg.data.augment_order,
        randaugment_ops=cfg.data.randaugment_ops,
    )
    m = cfg.model
    if (m.num_classes, m.in_channels, m.img_size) != (
        data.num_classes,
        data.in_channels,
        data.img_size,
    ):
        raise ConfigError(
            f"The model expects {m.in_channels}x{m.img_size}x{m.img_size} inputs and "
            f"{m.num_classes} classes but {cfg.data.name} gives {data.in_channels}x"
            f"{data.img_size}x{data.img_size} and {data.num_classes}."
        )
    return data


class _BatchStep:
    """The bundle's batch augmentation (mixup / cutmix, and in the authors' order normalise and
    erase) as the trainer's per-step transform; its draws depend on (seed, epoch, step) only."""

    def __init__(self, cfg: RunConfig, data: DataBundle) -> None:
        t = cfg.train
        self.seed = cfg.seed
        self.augment = data.batch_augment(
            mixup=t.mixup,
            cutmix=t.cutmix,
            prob=t.mixup_prob,
            off_epoch=t.mixup_off_epoch,
            smoothing=t.label_smoothing,
        )

    def __call__(self, x: torch.Tensor, y: torch.Tensor, epoch: int, step: int) -> tuple:
        return self.augment(x, y, epoch=epoch, step=step, seed=self.seed)


def make_scheduler(optimizer: torch.optim.Optimizer, t: TrainConfig) -> CosineLRScheduler:
    """Cosine over `epochs` (warm-up inside it, as the authors' timm setup), then `min_lr` for
    the cooldown epochs."""
    return CosineLRScheduler(
        optimizer,
        t_initial=t.epochs,
        lr_min=t.min_lr,
        warmup_t=t.warmup_epochs,
        warmup_lr_init=t.warmup_lr,
        warmup_prefix=False,
    )


@dataclass
class _Built:
    trainer: Trainer
    scheduler: CosineLRScheduler
    model: torch.nn.Module  # what runs the forward (DDP-wrapped when distributed)


def build(cfg: RunConfig, data: DataBundle, device: torch.device, world: int = 1) -> _Built:
    """Model, optimizer, scheduler, loss and batch augmentation of a run, seeded."""
    t = cfg.train
    seed_everything(cfg.seed)  # fixes the initial weights
    net = Spikformer(cfg.model).to(device)
    model: torch.nn.Module = net
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)
    optimizer = create_optimizer_v2(net, "adamw", lr=t.lr, weight_decay=t.weight_decay)
    scheduler = make_scheduler(optimizer, t)
    hard = torch.nn.CrossEntropyLoss(label_smoothing=t.label_smoothing)
    soft = SoftTargetCrossEntropy()

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (soft if target.dim() == 2 else hard)(logits, target)

    trainer = Trainer(
        net=net,
        forward=torch.compile(model) if t.compile else model,
        optimizer=optimizer,
        scaler=torch.amp.GradScaler(device.type, enabled=t.amp == "fp16"),
        loss=loss,
        batch_transform=_BatchStep(cfg, data),
        train=t,
        device=device,
    )
    return _Built(trainer, scheduler, model)


def _resume(b: _Built, out_dir: Path, cfg: RunConfig, record: dict) -> tuple[list[dict], int]:
    ckpt = load_checkpoint(out_dir / CHECKPOINT, b.trainer.device, cfg.run_id)
    if ckpt is None:
        return [], 0
    b.trainer.net.load_state_dict(ckpt["model"])
    b.trainer.optimizer.load_state_dict(ckpt["optimizer"])
    b.scheduler.load_state_dict(ckpt["scheduler"])
    b.trainer.scaler.load_state_dict(ckpt["scaler"])
    set_rng_state(ckpt["rng"])
    record["resumed_from_epoch"] = ckpt["epoch"]
    return ckpt["history"], ckpt["epoch"]


def _evaluate_epoch(
    b: _Built, data: DataBundle, cfg: RunConfig, quiet: bool, last: bool
) -> tuple[dict, Any]:
    """Validation (for every choice) and test (the result) after one epoch; the energy meter
    watches the final epoch's test pass (its hooks cost 25-60% of an evaluation)."""
    net, device, amp = b.trainer.net, b.trainer.device, cfg.train.amp
    row: dict[str, Any] = {}
    val = getattr(data, "val", None)
    if val is not None:
        v = evaluate(net, val, device, amp, prefix="val", quiet=quiet)
        row.update(val_loss=v["val_loss"], val_acc=v["val_acc"])
    meter = EnergyMeter(net) if last else None
    test = evaluate(net, data.test, device, amp, prefix="test", hooks=meter, quiet=quiet)
    energy = meter.report() if meter is not None else None
    row.update(
        test_loss=test["test_loss"],
        test_acc=test["test_acc"],
        eval_img_per_s=test["eval_img_per_s"],
    )
    if energy is not None:
        row["firing_rates"] = energy.firing_rates
    return row, (test["correct"], energy)


def _fit(
    cfg: RunConfig,
    out_dir: Path,
    record: dict,
    device: torch.device,
    quiet: bool,
    on_epoch: OnEpoch | None,
) -> None:
    rank, world, _ = distributed_env()
    data = load_run_data(cfg, world, rank)
    record["data"] = data.info
    record["protocol"] = {"name": cfg.protocol, "departures": departures(cfg)}
    b = build(cfg, data, device, world)
    record["params"] = count_params(b.trainer.net)
    record["pairing"] = {"init": state_digest(b.trainer.net), "augment": data.info.get("augment")}
    history, start = _resume(b, out_dir, cfg, record)
    total = cfg.train.epochs + cfg.train.cooldown_epochs
    bar = tqdm(
        range(start, total),
        desc=f"run {cfg.run_id}",
        disable=quiet,
        initial=start,
        total=total,
        unit="epoch",
    )
    b.scheduler.step(start)
    log = ScalarLog(cfg.log if rank == 0 else "none", out_dir)
    correct = energy = None
    try:
        for epoch in bar:
            row, (correct, energy) = _one_epoch(b, data, cfg, epoch, quiet, epoch == total - 1)
            history.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{row.get('val_acc', 0):.3f}")
            if rank == 0:
                _save_checkpoint(b, cfg, out_dir, epoch + 1, history)
            log.epoch(row)
            record["curves"] = history
            if on_epoch is not None:
                on_epoch(epoch + 1, row)
    finally:
        log.close()
    if energy is None:  # resumed from the final epoch's checkpoint (its record was lost)
        _, (correct, energy) = _evaluate_epoch(b, data, cfg, quiet, last=True)
    record["correct"] = correct
    energy.source = f"trained weights (epoch {len(history)}), test split, all {len(correct)} images"
    record["energy"] = energy.to_dict()
    record["pairing"].update(combined_digests(history))
    record.update(summarize(history, record))
    record["status"] = "complete"


def _one_epoch(
    b: _Built, data: DataBundle, cfg: RunConfig, epoch: int, quiet: bool, last: bool
) -> tuple[dict, Any]:
    """Train one epoch, step the schedule, evaluate: the epoch's row of the learning curve, and
    the test pass's correctness vector and energy (the energy only on the `last` epoch)."""
    data.set_epoch(epoch)
    started, digests = time.perf_counter(), Digests()
    b.trainer.batch_transform.augment.reset()
    row = {
        "epoch": epoch + 1,
        "lr": b.trainer.optimizer.param_groups[0]["lr"],
        **train_epoch(b.trainer, data.train, epoch, digests, quiet),
    }
    b.scheduler.step(epoch + 1)
    evaluated, test = _evaluate_epoch(b, data, cfg, quiet, last)
    draws = b.trainer.batch_transform.augment.hash
    row.update(
        evaluated,
        epoch_seconds=time.perf_counter() - started,
        digests={**digests.to_dict(), "batch_draws": draws[:16]},
    )
    return row, test


def _save_checkpoint(b: _Built, cfg: RunConfig, out_dir: Path, epoch: int, history: list) -> None:
    save_checkpoint(
        out_dir / CHECKPOINT,
        {
            "run_id": cfg.run_id,
            "epoch": epoch,
            "model": b.trainer.net.state_dict(),
            "optimizer": b.trainer.optimizer.state_dict(),
            "scheduler": b.scheduler.state_dict(),
            "scaler": b.trainer.scaler.state_dict(),
            "rng": rng_state(),
            "history": history,
        },
    )
