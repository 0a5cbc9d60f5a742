"""The opt-in fast path of a Spikformer: bf16 matrix products with fp32 outputs, and how many
spikes it flips against fp32 (measured by `python -m bench.throughput --fast`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

from components.layers import TokenLinear
from components.model import Spikformer
from components.presets import create_model

__all__ = [
    "BF16Conv2d",
    "BF16Linear",
    "BF16TokenLinear",
    "make_fast",
    "neuron_outputs",
    "spike_flip_fraction",
]


class BF16Linear(nn.Linear):
    """nn.Linear whose product runs in bf16; the output is cast back to fp32 at once, so the BN
    and the neuron after it see fp32 (weights stay fp32 masters; grads arrive fp32)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(torch.bfloat16)
        return F.linear(x.to(torch.bfloat16), self.weight.to(torch.bfloat16), bias).float()


class BF16TokenLinear(TokenLinear):
    """TokenLinear (oneDNN 1x1 conv on the channels-last token view) in bf16, fp32 output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.device.type != "cpu":
            return BF16Linear.forward(self, x)
        n, k = x.shape[-2:]
        x4 = x.to(torch.bfloat16).reshape(-1, n, 1, k).permute(0, 3, 1, 2)
        w = self.weight.to(torch.bfloat16)[:, :, None, None]
        bias = None if self.bias is None else self.bias.to(torch.bfloat16)
        y = F.conv2d(x4, w, bias).float()
        return y.permute(0, 2, 3, 1).reshape(*x.shape[:-1], -1)


class BF16Conv2d(nn.Conv2d):
    """nn.Conv2d computed in bf16 with an fp32 output (see BF16Linear)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(torch.bfloat16)
        w = self.weight.to(torch.bfloat16)
        return self._conv_forward(x.to(torch.bfloat16), w, bias).float()


def make_fast(model: Spikformer, compile: bool = False) -> nn.Module:
    """Opt-in fast path, in place: every Linear and Conv2d whose input is spikes (or the small
    integers of the SEW stream, exact in bf16) computes in bf16 with an fp32 output. The first
    conv (analog image input), the classifier head and the attention products stay fp32.
    Parameters, state_dict keys and parameter counts are unchanged. With `compile=True` the
    result is also wrapped in torch.compile (slow first step on CPU)."""
    first_conv = next(m for m in model.stem.modules() if isinstance(m, nn.Conv2d))
    for m in model.modules():
        if m is first_conv or m is model.head:
            continue
        if type(m) is TokenLinear:
            m.__class__ = BF16TokenLinear
        elif type(m) is nn.Linear:
            m.__class__ = BF16Linear
        elif type(m) is nn.Conv2d:
            m.__class__ = BF16Conv2d
    return torch.compile(model) if compile else model


def neuron_outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, o: outs.append(o.detach()))
        for m in model.modules()
        if isinstance(m, sj_neuron.BaseNode)
    ]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return outs


def spike_flip_fraction(preset: str, x: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Fraction of all neuron outputs (every neuron, time step, position) that differ between
    the fp32 model and `make_fast` of a copy with the same weights, one forward in train mode;
    plus the relative L2 difference of the logits."""
    torch.manual_seed(seed)
    ref = create_model(preset).to(x.device)
    fast = create_model(preset).to(x.device)
    fast.load_state_dict(ref.state_dict())
    make_fast(fast)
    a, b = neuron_outputs(ref, x), neuron_outputs(fast, x)
    flips = sum(int((p != q).sum()) for p, q in zip(a, b, strict=True))
    total = sum(p.numel() for p in a)
    with torch.no_grad():
        ref.train(), fast.train()
        la, lb = ref(x), fast(x)
    return {
        "flip_fraction": flips / total,
        "firing_rate": sum(float(p.sum()) for p in a) / total,
        "logit_rel_diff": float((la - lb).norm() / la.norm()),
    }
