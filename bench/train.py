"""Train and evaluate ONE resolved configuration and return its run record.

The only training loop of the suite (ablations and searches call `train_run`). Plain by design:
seed, build, loop over epochs (train, evaluate, checkpoint), write the record. It knows nothing
of Optuna or statistics; an `on_epoch` callback may raise `StopRun` (pruning).

    python -m bench.train [key=value ...] [--out DIR] [--quiet]
    torchrun --nproc_per_node=N -m bench.train [key=value ...]      # DDP, one record by rank 0
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from tqdm.auto import tqdm

from bench.config import ConfigError, RunConfig, parse_overrides, resolve
from bench.data import DataBundle, DataError, load_data
from components.energy import EnergyMeter
from components.model import Spikformer, count_params

RECORD = "record.json"
CHECKPOINT = "checkpoint.pt"


class RunFailed(RuntimeError):
    """The run cannot go on (NaN loss, out of memory, ...); the message says why."""


class StopRun(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by an `on_epoch` callback to end the run early (e.g. an Optuna pruner)."""


# ----------------------------------------------------------------------------------------------
# Environment: device, distributed, versions
# ----------------------------------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device={name} was asked for but no CUDA GPU is visible: "
            "use device=cpu or device=auto."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"device={name!r} is not a device: use auto, cpu, cuda or cuda:N."
        ) from None


def distributed_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def versions() -> dict[str, str]:
    import optuna
    import spikingjelly
    import timm

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "spikingjelly": getattr(spikingjelly, "__version__", "2.0"),
        "optuna": optuna.__version__,
        "timm": timm.__version__,
        "numpy": np.__version__,
        "git_commit": (commit + ("+dirty" if dirty else "")) or "unknown",
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


# ----------------------------------------------------------------------------------------------
# Files: atomic JSON and checkpoints
# ----------------------------------------------------------------------------------------------


def atomic_save(obj: Any, path: Path, *, as_json: bool = False) -> None:
    """Write next to the target, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w" if as_json else "wb") as f:
            if as_json:
                json.dump(obj, f, indent=1)
            else:
                torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_record(out_dir: Path) -> dict | None:
    path = Path(out_dir) / RECORD
    if not path.exists():
        return None
    return json.loads(path.read_text())


def rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": [version, list(state), gauss],
    }


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    kind, keys, pos, has_gauss, cached = s["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, state, gauss = s["python"]
    random.setstate((version, tuple(state), gauss))


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------


def autocast(device: torch.device, amp: str):
    if amp == "none":
        return contextlib.nullcontext()
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("amp=fp16 needs a CUDA GPU: use amp=bf16 (opt-in on CPU) or amp=none.")
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def step_seed(seed: int, epoch: int, step: int) -> int:
    """Mixup's draws depend only on (seed, epoch, step), never on the model being trained."""
    return (seed * 1_000_003 + epoch * 10_007 + step) % 2**32


def all_reduce(values: list[float], device: torch.device) -> list[float]:
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def gather_correct(correct: list[int], device: torch.device) -> list[int]:
    """Re-interleave the test shards (rank r holds samples r, r+W, ...) into test order."""
    if not (dist.is_available() and dist.is_initialized()):
        return correct
    parts: list[list[int]] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(parts, correct)
    world = len(parts)
    return [parts[i % world][i // world] for i in range(sum(map(len, parts)))]


def evaluate(
    model: torch.nn.Module,
    data: DataBundle,
    device: torch.device,
    amp: str,
    meter: EnergyMeter | None = None,
    quiet: bool = True,
) -> dict:
    model.eval()
    loss_sum, n, correct = 0.0, 0, []
    start = time.perf_counter()
    meter_ctx = meter if meter is not None else contextlib.nullcontext()
    with torch.no_grad(), meter_ctx, autocast(device, amp):
        for x, y in tqdm(data.test, desc="  test", leave=False, disable=quiet):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = model(x).float()
            loss_sum += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).int().tolist()
            n += len(y)
    seconds = time.perf_counter() - start
    loss_sum, n_all, hits = all_reduce([loss_sum, float(n), float(sum(correct))], device)
    return {
        "test_loss": loss_sum / n_all,
        "test_acc": hits / n_all,
        "eval_img_per_s": n / seconds,
        "correct": gather_correct(correct, device),
    }


def train_run(
    cfg: RunConfig,
    out_dir: Path | str,
    *,
    quiet: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
    stop_after_epochs: int | None = None,
) -> dict:
    """Train `cfg` to the end (or resume it) and return its record, also written to
    `out_dir/record.json`. A finished record is returned as it is; a checkpoint is resumed.
    `stop_after_epochs` ends the process's work early (as a crash would), for tests."""
    out_dir = Path(out_dir)
    done = load_record(out_dir)
    if done is not None and done.get("status") == "complete" and done["run_id"] == cfg.run_id:
        return done
    rank, world, local_rank = distributed_env()
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    record: dict[str, Any] = {
        "run_id": cfg.run_id,
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
        _fit(cfg, out_dir, record, device, rank, world, quiet, on_epoch, stop_after_epochs)
    except StopRun as stop:
        record.update(status="pruned", error=str(stop) or "stopped early by a callback")
    except (RunFailed, DataError, ConfigError) as err:
        record.update(status="failed", error=str(err))
    except torch.OutOfMemoryError:
        record.update(
            status="failed",
            error=(
                f"out of memory at batch_size={cfg.train.batch_size} on {record['device']}: "
                "lower batch_size or use amp=bf16."
            ),
        )
    except Exception as err:  # anything else still leaves a record that says what happened
        record.update(
            status="failed", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()
        )
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if rank == 0 and record["status"] != "interrupted":
        atomic_save(record, out_dir / RECORD, as_json=True)
    return record


def _fit(
    cfg: RunConfig,
    out_dir: Path,
    record: dict,
    device: torch.device,
    rank: int,
    world: int,
    quiet: bool,
    on_epoch,
    stop_after_epochs,
) -> None:
    t = cfg.train
    quiet = quiet or rank != 0
    if world > 1 and cfg.train.batch_size % world:
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
    )
    record["data"] = data.info
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

    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    torch.manual_seed(cfg.seed)  # fixes the initial weights
    net = Spikformer(cfg.model).to(device)
    record["params"] = count_params(net)
    model: torch.nn.Module = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    forward = torch.compile(model) if t.compile else model

    optimizer = create_optimizer_v2(net, "adamw", lr=t.lr, weight_decay=t.weight_decay)
    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=t.epochs,
        lr_min=t.min_lr,
        warmup_t=t.warmup_epochs,
        warmup_lr_init=t.warmup_lr,
        warmup_prefix=False,
    )
    scaler = torch.amp.GradScaler(device.type, enabled=t.amp == "fp16")
    mixup = None
    if t.mixup > 0 or t.cutmix > 0:
        mixup = Mixup(
            mixup_alpha=t.mixup,
            cutmix_alpha=t.cutmix,
            prob=t.mixup_prob,
            label_smoothing=t.label_smoothing,
            num_classes=cfg.model.num_classes,
        )
    hard_loss = torch.nn.CrossEntropyLoss(label_smoothing=t.label_smoothing)
    soft_loss = SoftTargetCrossEntropy()

    history: list[dict] = []
    start_epoch = 0
    ckpt_path = out_dir / CHECKPOINT
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ckpt["run_id"] == cfg.run_id:
            net.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            scaler.load_state_dict(ckpt["scaler"])
            set_rng_state(ckpt["rng"])
            history, start_epoch = ckpt["history"], ckpt["epoch"]
            record["resumed_from_epoch"] = start_epoch

    total_epochs = t.epochs + t.cooldown_epochs
    epochs_bar = tqdm(
        range(start_epoch, total_epochs),
        desc=f"run {cfg.run_id}",
        disable=quiet,
        initial=start_epoch,
        total=total_epochs,
        unit="epoch",
    )
    scheduler.step(start_epoch)
    for epoch in epochs_bar:
        data.set_epoch(epoch)
        model.train()
        use_mixup = mixup is not None and (t.mixup_off_epoch is None or epoch < t.mixup_off_epoch)
        loss_sum, hits, n = 0.0, 0.0, 0
        start = time.perf_counter()
        batches = tqdm(
            data.train,
            desc=f"  epoch {epoch + 1}/{total_epochs}",
            leave=False,
            disable=quiet,
            unit="batch",
        )
        for step, (x, y) in enumerate(batches):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            target = y
            if use_mixup and len(x) % 2 == 0:  # timm's batch mixup pairs samples: needs even B
                np.random.seed(step_seed(cfg.seed, epoch, step))
                x, target = mixup(x, y)
            with autocast(device, t.amp):
                logits = forward(x)
                loss = (soft_loss if target.dim() == 2 else hard_loss)(logits.float(), target)
            if not torch.isfinite(loss):
                raise RunFailed(
                    f"the training loss became {loss.item()} at epoch {epoch + 1}, "
                    f"batch {step + 1}: lower lr (now {t.lr:g}) or set clip_grad=1.0."
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if t.clip_grad:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(net.parameters(), t.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.item() * len(y)
            hits += (logits.argmax(1) == y).sum().item()
            n += len(y)
            batches.set_postfix(loss=f"{loss_sum / n:.3f}", acc=f"{hits / n:.3f}")
        train_seconds = time.perf_counter() - start
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(epoch + 1)
        loss_sum, hits, n_all = all_reduce([loss_sum, hits, float(n)], device)

        last = epoch == total_epochs - 1
        meter = EnergyMeter(net)
        ev = evaluate(net, data, device, t.amp, meter, quiet)
        energy = meter.report()
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": loss_sum / n_all,
            "train_acc": hits / n_all,
            "test_loss": ev["test_loss"],
            "test_acc": ev["test_acc"],
            "epoch_seconds": time.perf_counter() - start,
            "train_img_per_s": n / train_seconds,
            "eval_img_per_s": ev["eval_img_per_s"],
            "firing_rates": energy.firing_rates,
        }
        history.append(row)
        epochs_bar.set_postfix(loss=f"{row['train_loss']:.3f}", test_acc=f"{row['test_acc']:.3f}")
        if last:
            record["correct"] = ev["correct"]
            record["energy"] = energy.to_dict()
        if rank == 0:
            atomic_save(
                {
                    "run_id": cfg.run_id,
                    "epoch": epoch + 1,
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "rng": rng_state(),
                    "history": history,
                },
                out_dir / CHECKPOINT,
            )
        record["curves"] = history
        if on_epoch is not None:
            on_epoch(epoch + 1, row)
        if stop_after_epochs is not None and epoch + 1 >= stop_after_epochs and not last:
            record["status"] = "interrupted"
            return
    record.update(summarize(history, record))
    record["status"] = "complete"


def summarize(history: list[dict], record: dict) -> dict:
    """Final numbers of a finished run. The result is the LAST epoch's test accuracy; the best
    epoch is kept under a name that says it was picked on the test set."""
    final = history[-1]
    best = max(history, key=lambda r: r["test_acc"])
    energy = record.get("energy", {}).get("totals", {})
    return {
        "metrics": {
            "test_acc": final["test_acc"],
            "test_loss": final["test_loss"],
            "train_acc": final["train_acc"],
            "train_loss": final["train_loss"],
            "best_test_acc_over_epochs_optimistic": best["test_acc"],
            "best_epoch": best["epoch"],
            "epochs": final["epoch"],
            "train_img_per_s": float(np.median([r["train_img_per_s"] for r in history])),
            "eval_img_per_s": float(np.median([r["eval_img_per_s"] for r in history])),
            "params": record["params"],
            **{k: v for k, v in energy.items() if isinstance(v, int | float) and math.isfinite(v)},
        }
    }


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="key=value settings, e.g. attention=vsa")
    parser.add_argument("--out", help="run folder (default: runs/<run id>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (workers)")
    args = parser.parse_args(argv)
    try:
        parsed = parse_overrides(args.overrides)
        sweeps = [k for k, v in parsed.items() if len(v) > 1 or k == "seeds"]
        if sweeps:
            raise ConfigError(
                f"bench.train runs one configuration; {sweeps[0]} has several "
                "values: use python -m bench.ablate for sweeps."
            )
        cfg = resolve({k: v[0] for k, v in parsed.items()})
        resolve_device(cfg.device)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rank, world, _ = distributed_env()
    if world > 1:
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    out = Path(args.out) if args.out else Path("runs") / cfg.run_id
    if rank == 0:
        print(
            f"Training {cfg.preset} on {cfg.data.name} ({cfg.train.epochs} epochs, seed "
            f"{cfg.seed}, {world} process{'es' if world > 1 else ''}) -> {out}"
        )
    try:
        record = train_run(cfg, out, quiet=args.quiet)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the last finished epoch is saved in {out}; rerun to resume.",
            file=sys.stderr,
        )
        return 130
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    if rank == 0:
        if record["status"] == "complete":
            mt = record["metrics"]
            print(f"final test accuracy {mt['test_acc']:.4f} (last epoch) | record: {out / RECORD}")
        else:
            print(f"run {record['status']}: {record['error']} | record: {out / RECORD}")
    return 0 if record["status"] == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
