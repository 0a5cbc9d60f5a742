"""Profile one training step of ours vs spikingjelly's Spikformer (torch.profiler, CPU)."""

from __future__ import annotations

import sys

import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.model.spikformer import spikformer_cifar10
from torch.profiler import ProfilerActivity, profile

from components import create_model


def step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, sj: bool) -> None:
    if sj:
        functional.reset_net(model)
    out = model(x)
    loss = torch.nn.functional.cross_entropy(out.mean(0) if sj else out, y)
    loss.backward()


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "ours"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    torch.manual_seed(0)
    sj = which == "sj"
    model = spikformer_cifar10() if sj else create_model("cifar10-4-384")
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    step(model, x, y, sj)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(model, x, y, sj)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()
