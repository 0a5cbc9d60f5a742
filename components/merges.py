"""Patch merging between the stages of a hierarchical model (QKFormer): tokens [T, B, N, C_in]
of a square grid -> tokens [T, B, N/4, C] (the grid halved, the width changed).

    MERGE.build(name, in_dim=C_in, dim=C, make_neuron=f, spike_output=b)

With `spike_output=False` (membrane-shortcut residuals) the stream holds membrane inputs: the
merge fires them first and returns the sum of its branches' BN outputs, so the next blocks see a
membrane stream again.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from components.layers import ConvBN, MaxPoolTime
from components.neurons import MakeNeuron
from components.registry import Registry
from components.stems import to_tokens

MERGE = Registry("merge")


def to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """[T, B, N, C] tokens of a square grid -> [T, B, C, H, W]."""
    t, b, n, c = tokens.shape
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"Patch merging needs a square token grid, got {n} tokens.")
    return tokens.transpose(2, 3).reshape(t, b, c, side, side)


class DeformedShortcutMerge(nn.Module):
    """QKFormer's patch embedding stage (Zhou et al., NeurIPS 2024, Sec. 3.3): a main path
    Conv3x3-BN-LIF, Conv3x3-BN-LIF with one MaxPool(3, 2, 1) and a "deformed" shortcut
    Conv1x1(stride 2)-BN-LIF, added: y = main(x) + shortcut(x), so the output holds {0, 1, 2}.
    `pool_first`: the pool follows the first conv (the authors' ImageNet code) instead of the
    second (their CIFAR code); either way before that conv's neuron."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        make_neuron: MakeNeuron,
        spike_output: bool = True,
        pool_first: bool = False,
    ) -> None:
        super().__init__()

        def out() -> list[nn.Module]:  # a fresh neuron per path (each keeps its own state)
            return [make_neuron()] if spike_output else []

        first = [ConvBN(in_dim, dim)] + ([MaxPoolTime()] if pool_first else [])
        second = [ConvBN(dim, dim)] + ([] if pool_first else [MaxPoolTime()])
        self.input_neuron = nn.Identity() if spike_output else make_neuron()
        self.main = nn.Sequential(*first, make_neuron(), *second, *out())
        self.shortcut = nn.Sequential(ConvBN(in_dim, dim, kernel=1, stride=2, padding=0), *out())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_neuron(to_grid(x))
        return to_tokens(self.main(x) + self.shortcut(x))


@MERGE.register("qkformer")
def qkformer_merge(**kwargs) -> DeformedShortcutMerge:
    """QKFormer's CIFAR stage embedding (pool after the second conv)."""
    return DeformedShortcutMerge(**kwargs)


@MERGE.register("qkformer_pool_first")
def qkformer_merge_pool_first(**kwargs) -> DeformedShortcutMerge:
    """QKFormer's ImageNet stage embedding (pool after the first conv)."""
    return DeformedShortcutMerge(**kwargs, pool_first=True)
