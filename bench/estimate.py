"""How long a study will take, said before it starts: from the study's own finished runs when
it has some, else from a short calibration (a few timed training steps of the first config)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from bench.config import RunConfig
from bench.training import load_record, resolve_device
from components.model import Spikformer

__all__ = ["LONG_CPU_HOURS", "calibrate_step", "estimate_hours", "format_hours"]

LONG_CPU_HOURS = 3.0  # a CPU study above this asks for --yes and names a GPU as the fix


def calibrate_step(cfg: RunConfig, steps: int = 3) -> float:
    """Seconds of one forward+backward training step of `cfg` at its batch size on its device
    (median of `steps` after one warm-up step, random inputs of the data's shape)."""
    device = resolve_device(cfg.device)
    m, t = cfg.model, cfg.train
    torch.manual_seed(0)
    net = Spikformer(m).to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=t.lr)
    x = torch.randn(t.batch_size, m.in_channels, m.img_size, m.img_size, device=device)
    y = torch.randint(0, m.num_classes, (t.batch_size,), device=device)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _epoch_seconds_so_far(study_dir: Path) -> float | None:
    seconds = []
    for path in sorted(study_dir.glob("runs/*")):
        record = load_record(path)
        for row in (record or {}).get("curves") or []:
            if "epoch_seconds" in row:
                seconds.append(row["epoch_seconds"])
    return statistics.median(seconds) if seconds else None


def estimate_hours(
    cfg: RunConfig, runs_left: int, workers: int, train_size: int, study_dir: Path
) -> tuple[float, str]:
    """(hours, how it was estimated) for `runs_left` runs like `cfg` on `workers` workers."""
    epochs = cfg.train.epochs + cfg.train.cooldown_epochs
    prior = _epoch_seconds_so_far(study_dir)
    if prior is not None:
        how = "from this study's finished epochs"
        per_epoch = prior
    else:
        how = "from a 3-step calibration on this machine"
        # evaluation passes (validation and test) cost about a third of a training pass
        per_epoch = calibrate_step(cfg) * -(-train_size // cfg.train.batch_size) * 1.35
    return runs_left * epochs * per_epoch / max(1, workers) / 3600, how


def format_hours(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1.5 else f"{hours:.1f} h"
