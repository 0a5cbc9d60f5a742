"""nn.Linear (BLAS sgemm) vs TokenLinear (oneDNN 1x1 conv on the channels-last token view) and vs
spikingjelly's Conv1d(k=1) on [T*B, C, N], forward + backward, fp32, Spikformer-4-384 shapes at
batch 32. `python -m benchmarks.linear_micro [rounds]`: median speed-up (A B A B) vs nn.Linear
and the max relative difference of output and gradients."""

from __future__ import annotations

import statistics
import sys
import time

import torch
import torch.nn.functional as F

from components.layers import TokenLinear

TB, N = 128, 64  # T*B, tokens


def token_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return TokenLinear.forward(_Params(w, b), x)


class _Params(torch.nn.Module):
    def __init__(self, w: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = w, b


def sj_conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    xc = x.reshape(TB, N, -1).transpose(1, 2).contiguous()  # SJ keeps [T*B, C, N] throughout
    return F.conv1d(xc, w[:, :, None], b).transpose(1, 2).reshape(TB, N, -1)


def run(fn, x, w, b, g):
    x, w, b = (t.detach().requires_grad_(True) for t in (x, w, b))
    y = fn(x, w, b)
    y.backward(g)
    return y.detach(), x.grad, w.grad, b.grad


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for k, n in ((384, 1152), (384, 1536), (1536, 384)):
        x = (torch.rand(TB, N, k) < 0.1).float()
        w, b, g = torch.randn(n, k) * 0.02, torch.zeros(n), torch.randn(TB, N, n)
        ref = run(F.linear, x, w, b, g)
        for name, fn in (("TokenLinear", token_linear), ("SJ Conv1d", sj_conv1d)):
            new = run(fn, x, w, b, g)
            pairs = zip(new, ref, strict=True)
            diff = max(float((p - q).abs().max() / q.abs().max()) for p, q in pairs)
            ratios = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                run(F.linear, x, w, b, g)
                t1 = time.perf_counter()
                run(fn, x, w, b, g)
                t2 = time.perf_counter()
                ratios.append((t1 - t0) / (t2 - t1))
            print(
                f"K={k:<5} N={n:<5} {name:<12} speed-up x{statistics.median(ratios):.2f} "
                f"vs nn.Linear, max rel diff {diff:.1e}"
            )


if __name__ == "__main__":
    main()
