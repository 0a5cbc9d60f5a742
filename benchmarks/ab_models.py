"""Side-by-side training-step timing of model variants (A B C A B C ..., median ratio vs the
first). `python -m benchmarks.ab_models [rounds] [batch] [variant ...]`

Variants: sj (spikingjelly's spikformer_cifar10), ours (default neurons), ours_sjlif (our model
with spikingjelly's LIFNode), fast (make_fast). Step = forward, loss, backward (no optimizer).
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
import torch.nn.functional as F

from bench.throughput import build_sj
from bench.timing import Runner
from components import create_model
from components.fastpath import make_fast

PRESET = "cifar10-4-384"


def build(name: str) -> Runner:
    if name == "sj":
        return Runner("sj", build_sj(PRESET), reset=True, mean_t=True)
    if name == "ours_sjlif":
        return Runner(name, create_model(PRESET, neuron="lif_sj"))
    if name == "fast":
        return Runner(name, make_fast(create_model(PRESET)))
    return Runner(name, create_model(PRESET))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    names = sys.argv[3:] or ["sj", "ours", "ours_sjlif"]
    torch.manual_seed(0)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    runners = [build(n) for n in names]

    def step(r: Runner) -> None:
        r.model.train()
        r.model.zero_grad(set_to_none=True)
        F.cross_entropy(r.forward(x), y).backward()

    for r in runners:
        step(r)
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for r in runners:
            t0 = time.perf_counter()
            step(r)
            times[r.name].append(time.perf_counter() - t0)
    base = times[names[0]]
    for n in names:
        ratio = statistics.median(a / b for a, b in zip(base, times[n], strict=True))
        print(
            f"{n:<12} {batch / statistics.median(times[n]):7.2f} img/s  "
            f"x{ratio:.2f} vs {names[0]}  times {[round(t, 2) for t in times[n]]}"
        )


if __name__ == "__main__":
    main()
