"""Where do the fast path's spike flips come from? `python -m benchmarks.bf16_flips [preset]`

Emulates bf16 matrix products in fp32 to separate the two roundings: the weights rounded to bf16
(inputs are spikes, exact), and the product's output rounded to bf16. Prints the fraction of
neuron outputs that differ from fp32 for each, at the same weights, one train-mode forward.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from components import create_model
from components.fastpath import neuron_outputs
from components.layers import TokenLinear


def _round(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.bfloat16).float()


def patch(model: nn.Module, round_w: bool, round_out: bool) -> None:
    first_conv = next(m for m in model.stem.modules() if isinstance(m, nn.Conv2d))
    for m in model.modules():
        if m is first_conv or m is model.head or type(m) not in (nn.Linear, nn.Conv2d):
            continue

        def fwd(x: torch.Tensor, m: nn.Module = m) -> torch.Tensor:
            w = _round(m.weight) if round_w else m.weight
            b = None if m.bias is None else (_round(m.bias) if round_w else m.bias)
            if isinstance(m, nn.Linear):
                y = F.linear(x, w, b)
            else:
                y = m._conv_forward(x, w, b)
            return _round(y) if round_out else y

        m.forward = fwd


def main() -> None:
    preset = sys.argv[1] if len(sys.argv) > 1 else "cifar10-4-384"
    torch.manual_seed(0)
    ref = create_model(preset)
    cfg = ref.cfg
    x = torch.randn(8, cfg.in_channels, cfg.img_size, cfg.img_size)
    base = neuron_outputs(ref, x)
    # fp32 only: TokenLinear (oneDNN) vs plain nn.Linear (BLAS), i.e. summation order alone
    plain = create_model(preset)
    plain.load_state_dict(ref.state_dict())
    for m in plain.modules():
        if type(m) is TokenLinear:
            m.__class__ = nn.Linear
    outs = neuron_outputs(plain, x)
    flips = sum(int((a != b).sum()) for a, b in zip(base, outs, strict=True))
    total = sum(a.numel() for a in base)
    print(f"fp32, nn.Linear instead of TokenLinear: flips {100 * flips / total:.3f}%")
    for round_w, round_out in ((True, False), (False, True), (True, True)):
        m = create_model(preset)
        m.load_state_dict(ref.state_dict())
        patch(m, round_w, round_out)
        outs = neuron_outputs(m, x)
        flips = sum(int((a != b).sum()) for a, b in zip(base, outs, strict=True))
        total = sum(a.numel() for a in base)
        print(
            f"weights bf16={round_w!s:<5} output bf16={round_out!s:<5} "
            f"flips {100 * flips / total:.3f}%"
        )


if __name__ == "__main__":
    main()
