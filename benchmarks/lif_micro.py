"""Micro-benchmark and equality check: FusedLIFNode vs spikingjelly's LIFNode (CPU, fp32).

`python -m benchmarks.lif_micro [rounds]`: for a few Spikformer neuron shapes, times forward +
backward of both (alternating A B A B, median ratio) and checks spikes and input gradients are
bit-identical.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate

from components.neurons import FusedLIFNode

SHAPES = {
    "stem 48x32x32": (4, 32, 48, 32, 32),
    "mlp hidden": (4, 32, 64, 1536),
    "q (chunk view)": (4, 32, 64, 384),
}


def run(node: torch.nn.Module, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
    functional.reset_net(node)
    x = x.detach().requires_grad_(True)
    s = node(x)
    s.backward(g)
    return s, x.grad


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    kw = dict(
        tau=2.0,
        decay_input=True,
        v_threshold=1.0,
        v_reset=0.0,
        detach_reset=True,
        surrogate_function=sj_surrogate.Sigmoid(alpha=4.0),
        step_mode="m",
    )
    sj, fused = sj_neuron.LIFNode(**kw), FusedLIFNode(**kw)
    torch.manual_seed(0)
    for name, shape in SHAPES.items():
        if name.startswith("q"):
            x = torch.randn(*shape[:-1], 3 * shape[-1]).chunk(3, dim=-1)[0] * 1.5 + 0.5
        else:
            x = torch.randn(shape) * 1.5 + 0.5
        g = torch.randn(x.shape)
        a, b = run(sj, x, g), run(fused, x, g)
        same = all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
        ratios = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            run(sj, x, g)
            t1 = time.perf_counter()
            run(fused, x, g)
            t2 = time.perf_counter()
            ratios.append((t1 - t0) / (t2 - t1))
        print(f"{name:<16} identical={same} fused speed-up x{statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
