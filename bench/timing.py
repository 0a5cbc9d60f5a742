"""Controlled timing of training and evaluation steps: one process, the same input, warm-up,
then rounds that time every model once, back to back (A B A B ...), so that load from other
processes falls on every model alike; FLOPs and memory of one step. Used by
`python -m bench.throughput` and by a study's controlled speed pass (bench.speed).

Memory: on CUDA, torch.cuda.max_memory_allocated growth during one training step. On CPU torch
has no allocator statistics, so two figures are given: the bytes of tensors autograd saves for
backward (distinct storages, exact), and the growth of the process's peak resident set (VmHWM,
reset through /proc/self/clear_refs) during one training step, which also counts temporaries and
allocator slack and is approximate.
"""

from __future__ import annotations

import ctypes
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["Runner", "instrumented_step", "peak_step_bytes", "timed", "timed_rounds"]


@dataclass
class Runner:
    """One path: a model, its optimizer, and whether it needs an explicit neuron reset."""

    name: str
    model: nn.Module
    reset: bool = False  # SJ's model keeps state between calls; ours resets in forward
    mean_t: bool = False  # SJ's model returns [T, B, classes]; the prediction is the mean over T
    opt: torch.optim.Optimizer = field(init=False)

    def __post_init__(self) -> None:
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=5e-4, weight_decay=0.06)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reset:
            functional.reset_net(self.model)
        out = self.model(x)
        return out.mean(0) if self.mean_t else out

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        F.cross_entropy(self.forward(x), y).backward()
        self.opt.step()

    def eval_step(self, x: torch.Tensor) -> None:
        self.model.eval()
        with torch.no_grad():
            self.forward(x)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], None], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# FLOPs and memory


def instrumented_step(runner: Runner, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, int]:
    """One full training step (it also serves as warm-up) that counts (forward, forward+backward)
    FLOPs per image, matrix products and convs only, and the bytes of distinct storages autograd
    saves for backward (exact, independent of the allocator; parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in runner.model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    runner.model.train()
    runner.opt.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as fwd:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = runner.forward(x)
    with FlopCounterMode(display=False) as bwd:
        F.cross_entropy(out, y).backward()
    runner.opt.step()
    fwd_flops = fwd.get_total_flops()
    return fwd_flops / len(x), (fwd_flops + bwd.get_total_flops()) / len(x), sum(seen.values())


def _vm_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    gc.collect()
    try:  # give freed heap pages back so the next peak starts from what is really live
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_step_bytes(runner: Runner, x: torch.Tensor, y: torch.Tensor) -> int | None:
    """Peak memory growth during one training step. CUDA: allocator peak; CPU: VmHWM growth after
    resetting it via /proc/self/clear_refs (None where that is not possible)."""
    device = x.device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        runner.train_step(x, y)
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    _trim_heap()  # the caller has run one step: optimizer state exists already
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        return None
    base = _vm_kb("VmRSS")
    runner.train_step(x, y)
    peak = _vm_kb("VmHWM")
    if base is None or peak is None:
        return None
    return (peak - base) * 1024


def timed_rounds(
    runners: list[Runner], x: torch.Tensor, y: torch.Tensor, rounds: int, dev: torch.device
) -> dict[str, dict[str, list[float]]]:
    """A B A B: each round times every path once, back to back, so load cancels in ratios."""
    times: dict[str, dict[str, list[float]]] = {r.name: {"train": [], "eval": []} for r in runners}
    for _ in range(rounds):
        for r in runners:
            times[r.name]["train"].append(timed(lambda r=r: r.train_step(x, y), dev))
        for r in runners:
            times[r.name]["eval"].append(timed(lambda r=r: r.eval_step(x), dev))
    return times
