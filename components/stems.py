"""Patch stems: [T, B, C, H, W] -> [T, B, N, D] tokens (spikes, or membrane inputs when
`spike_output=False`, which membrane-shortcut residuals ask for).

Every stem down-samples by the same factor, 2**pools with pools = min(4, ceil(log2(size / 8))),
so a 32x32 image gives 8x8 tokens, 128x128 gives 8x8 and 224x224 gives 14x14 (the paper's SPS).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from components.layers import ConvBN, MaxPoolTime
from components.neurons import MakeNeuron
from components.registry import STEM


def num_pools(img_size: int) -> int:
    """Max-pools (each halving H and W) the paper's SPS uses for this input size."""
    return max(0, min(4, math.ceil(math.log2(img_size / 8))))


def token_grid(img_size: int) -> int:
    """Side of the token grid after `num_pools` stride-2 pools (padding 1, kernel 3)."""
    side = img_size
    for _ in range(num_pools(img_size)):
        side = (side - 1) // 2 + 1
    return side


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """[T, B, D, H, W] -> [T, B, H*W, D]."""
    return x.flatten(3).transpose(2, 3).contiguous()


class SpikingPatchSplitting(nn.Module):
    """SPS (Spikformer Sec. 3.2): four Conv3x3-BN-LIF blocks of widths D/8, D/4, D/2, D, with
    MaxPool(3, 2, 1) after the LIF of the last `num_pools(img_size)` blocks, then the relative
    position embedding x + LIF(BN(Conv3x3(x))), so the tokens hold values in {0, 1, 2}.

    `pool_first` puts each pool before its LIF (spikingjelly 2.0's own ordering); `rpe=False`
    drops the position embedding. Both are ablations, not the paper. With `spike_output=False`
    (membrane-shortcut models) the last block has no neuron and the embedding is
    x + BN(Conv3x3(LIF(x))), as in the Spike-driven Transformer: the stream stays a membrane input.
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        img_size: int,
        make_neuron: MakeNeuron,
        spike_output: bool = True,
        rpe: bool = True,
        pool_first: bool = False,
    ) -> None:
        super().__init__()
        widths = [in_channels, dim // 8, dim // 4, dim // 2, dim]
        pools = num_pools(img_size)
        layers: list[nn.Module] = []
        for i in range(4):
            pool = [MaxPoolTime()] if i >= 4 - pools else []
            neuron = [make_neuron()] if spike_output or i < 3 else []
            layers.append(ConvBN(widths[i], widths[i + 1]))
            layers += pool + neuron if pool_first else neuron + pool
        self.blocks = nn.Sequential(*layers)
        rpe_layers = (
            [ConvBN(dim, dim), make_neuron()] if spike_output else [make_neuron(), ConvBN(dim, dim)]
        )
        self.rpe = nn.Sequential(*rpe_layers) if rpe else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(x)
        if self.rpe is not None:
            x = x + self.rpe(x)
        return to_tokens(x)


@STEM.register("sps")
def sps(**kwargs) -> SpikingPatchSplitting:
    return SpikingPatchSplitting(**kwargs)


@STEM.register("sps_norpe")
def sps_without_rpe(**kwargs) -> SpikingPatchSplitting:
    return SpikingPatchSplitting(**kwargs, rpe=False)


@STEM.register("sps_pool_first")
def sps_pool_before_neuron(**kwargs) -> SpikingPatchSplitting:
    return SpikingPatchSplitting(**kwargs, pool_first=True)


@STEM.register("conv")
class ConvPatchStem(nn.Module):
    """One patchify Conv (kernel = stride = 2**pools, as ViT) + BN + neuron: same token grid
    as SPS at a fraction of its cost, with no position embedding."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        img_size: int,
        make_neuron: MakeNeuron,
        spike_output: bool = True,
    ) -> None:
        super().__init__()
        patch = 2 ** num_pools(img_size)
        pad = (patch * token_grid(img_size) - img_size + 1) // 2 if patch > 1 else 0
        self.embed = ConvBN(in_channels, dim, kernel=patch, stride=patch, padding=pad)
        self.neuron = make_neuron() if spike_output else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_tokens(self.neuron(self.embed(x)))
