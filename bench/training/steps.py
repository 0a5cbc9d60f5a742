"""One training epoch and one evaluation pass: the two loops of a run."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from bench.config import ConfigError, TrainConfig
from bench.training.state import tensor_digest

__all__ = ["Digests", "RunFailed", "autocast", "evaluate", "train_epoch"]

BatchTransform = Callable[[torch.Tensor, torch.Tensor, int, int], tuple[torch.Tensor, torch.Tensor]]


INPUT_DIGEST_STEPS = 2  # batches per epoch whose inputs are hashed (pairing evidence)


class RunFailed(RuntimeError):
    """The run cannot go on (NaN loss, out of memory, ...); the message says why."""


@dataclass
class Digests:
    """Pairing evidence of a run: hashes of the labels in batch order (every batch) and of the
    inputs the model was fed after augmentation and mixup (the first batches of each epoch).
    Two variants of one seed must share both (their data order and augmentation draws do not
    depend on the model)."""

    order: Any = field(default_factory=hashlib.sha1)
    inputs: Any = field(default_factory=hashlib.sha1)

    def to_dict(self) -> dict[str, str]:
        return {"batch_order": self.order.hexdigest()[:16], "inputs": self.inputs.hexdigest()[:16]}


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    if amp == "none":
        return contextlib.nullcontext()
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("amp=fp16 needs a CUDA GPU: use amp=bf16 (opt-in on CPU) or amp=none.")
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def all_reduce(values: list[float], device: torch.device) -> list[float]:
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def gather_correct(correct: list[int]) -> list[int]:
    """Re-interleave the evaluation shards (rank r holds samples r, r+W, ...) into order."""
    if not (dist.is_available() and dist.is_initialized()):
        return correct
    parts: list[list[int]] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(parts, correct)
    world = len(parts)
    return [parts[i % world][i // world] for i in range(sum(map(len, parts)))]


@dataclass
class Trainer:
    """What one optimisation step needs; built once per run by `bench.training.run`."""

    net: torch.nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    batch_transform: BatchTransform
    train: TrainConfig
    device: torch.device


def train_step(tr: Trainer, x: torch.Tensor, target: torch.Tensor, where: str) -> tuple[float, Any]:
    with autocast(tr.device, tr.train.amp):
        logits = tr.forward(x)
        loss = tr.loss(logits.float(), target)
    if not torch.isfinite(loss):
        raise RunFailed(
            f"the training loss became {loss.item()} at {where}: lower lr (now "
            f"{tr.train.lr:g}) or set clip_grad=1.0."
        )
    tr.optimizer.zero_grad(set_to_none=True)
    tr.scaler.scale(loss).backward()
    if tr.train.clip_grad:
        tr.scaler.unscale_(tr.optimizer)
        torch.nn.utils.clip_grad_norm_(tr.net.parameters(), tr.train.clip_grad)
    tr.scaler.step(tr.optimizer)
    tr.scaler.update()
    return loss.item(), logits


def train_epoch(
    tr: Trainer, batches: Iterable, epoch: int, digests: Digests, quiet: bool
) -> dict[str, float]:
    """One pass over the training loader; returns loss, accuracy and throughput."""
    tr.net.train()
    loss_sum, hits, n = 0.0, 0.0, 0
    start = time.perf_counter()
    bar = tqdm(batches, desc=f"  epoch {epoch + 1}", leave=False, disable=quiet, unit="batch")
    for step, (x, y) in enumerate(bar):
        x, y = x.to(tr.device, non_blocking=True), y.to(tr.device, non_blocking=True)
        x, target = tr.batch_transform(x, y, epoch, step)
        tensor_digest(digests.order, y)
        if step < INPUT_DIGEST_STEPS:  # bit-exact inputs of the first batches: cheap on a GPU
            tensor_digest(digests.inputs, x)
        loss, logits = train_step(tr, x, target, f"epoch {epoch + 1}, batch {step + 1}")
        loss_sum += loss * len(y)
        hits += (logits.argmax(1) == y).sum().item()
        n += len(y)
        bar.set_postfix(loss=f"{loss_sum / n:.3f}", acc=f"{hits / n:.3f}")
    seconds = time.perf_counter() - start
    loss_sum, hits, n_all = all_reduce([loss_sum, hits, float(n)], tr.device)
    return {
        "train_loss": loss_sum / n_all,
        "train_acc": hits / n_all,
        "train_img_per_s": n / seconds,
    }


def evaluate(
    model: torch.nn.Module,
    loader: Iterable,
    device: torch.device,
    amp: str,
    *,
    prefix: str,
    hooks: contextlib.AbstractContextManager | None = None,
    quiet: bool = True,
) -> dict[str, Any]:
    """Loss, accuracy, throughput and the per-sample correctness vector on one split; `hooks`
    (an energy meter) is active during the pass."""
    model.eval()
    loss_sum, n, correct = 0.0, 0, []
    start = time.perf_counter()
    with torch.no_grad(), hooks or contextlib.nullcontext(), autocast(device, amp):
        for x, y in tqdm(loader, desc=f"  {prefix}", leave=False, disable=quiet):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = model(x).float()
            loss_sum += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).int().tolist()
            n += len(y)
    seconds = time.perf_counter() - start
    loss_sum, n_all, hits = all_reduce([loss_sum, float(n), float(sum(correct))], device)
    return {
        f"{prefix}_loss": loss_sum / n_all,
        f"{prefix}_acc": hits / n_all,
        "eval_img_per_s": n / seconds,
        "correct": gather_correct(correct),
    }
