"""How long a study will take, said before it starts: from the study's own finished runs when
it has some, else from a short calibration (a few timed training steps of the first config)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from bench.config import RunConfig
from bench.training import load_record, resolve_device
from bench.training.run import build, load_run_data
from bench.training.steps import train_step

__all__ = ["LONG_CPU_HOURS", "calibrate_step", "estimate_hours", "format_hours"]

LONG_CPU_HOURS = 3.0  # a CPU study above this asks for --yes and names a GPU as the fix


def calibrate_step(cfg: RunConfig, steps: int = 5, threads: int | None = None) -> float:
    """Seconds of one training step of `cfg` through the real loop (its data, model, optimizer
    and batch augmentation), median of `steps` after two warm-up steps, on the device and the
    thread count a worker will use."""
    device = resolve_device(cfg.device)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        data = load_run_data(cfg)
        tr = build(cfg, data, device).trainer
        tr.net.train()
        times = []
        for step, (x, y) in enumerate(data.train):
            if step >= steps + 2:
                break
            start = time.perf_counter()
            x, target = tr.batch_transform(x.to(device), y.to(device), 0, step)
            train_step(tr, x, target, "calibration")
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return statistics.median(times[2:] or times)


def _epoch_seconds_so_far(study_dir: Path) -> float | None:
    seconds = []
    for path in sorted(study_dir.glob("runs/*")):
        record = load_record(path)
        for row in (record or {}).get("curves") or []:
            if "epoch_seconds" in row:
                seconds.append(row["epoch_seconds"])
    return statistics.median(seconds) if seconds else None


def estimate_hours(
    cfg: RunConfig,
    runs_left: int,
    workers: int,
    train_size: int,
    study_dir: Path,
    threads: int | None = None,
) -> tuple[float, str]:
    """(hours, how it was estimated) for `runs_left` runs like `cfg` on `workers` workers."""
    epochs = cfg.train.epochs + cfg.train.cooldown_epochs
    prior = _epoch_seconds_so_far(study_dir)
    if prior is not None:
        how = "from this study's finished epochs"
        per_epoch = prior
    else:
        how = "from a 5-step calibration on this machine"
        # evaluation passes (validation and test) cost about a sixth of a training pass
        steps = -(-train_size // cfg.train.batch_size)
        per_epoch = calibrate_step(cfg, threads=threads) * steps * 1.15
    return runs_left * epochs * per_epoch / max(1, workers) / 3600, how


def format_hours(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1.5 else f"{hours:.1f} h"
