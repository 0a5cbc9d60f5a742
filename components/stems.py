"""Patch stems: [T, B, C, H, W] -> [T, B, N, D] tokens (spikes, or membrane inputs when
`spike_output=False`, which membrane-shortcut residuals ask for).

Every stem down-samples by the same factor, 2**pools with pools = min(4, ceil(log2(size / 8))),
so a 32x32 image gives 8x8 tokens, 128x128 gives 8x8 and 224x224 gives 14x14 (the paper's SPS).
A hierarchical model (QKFormer) passes `pools=` (fewer halvings: its merges do the rest), so a
stem used there takes that keyword.
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


def pooled_side(img_size: int, pools: int) -> int:
    """Side of the grid after `pools` stride-2 pools (kernel 3, padding 1)."""
    side = img_size
    for _ in range(pools):
        side = (side - 1) // 2 + 1
    return side


def token_grid(img_size: int) -> int:
    """Side of the token grid after `num_pools` stride-2 pools (padding 1, kernel 3)."""
    return pooled_side(img_size, num_pools(img_size))


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
        pools: int | None = None,
    ) -> None:
        super().__init__()
        widths = [in_channels, dim // 8, dim // 4, dim // 2, dim]
        pools = num_pools(img_size) if pools is None else pools
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
        pools: int | None = None,
    ) -> None:
        super().__init__()
        pools = num_pools(img_size) if pools is None else pools
        patch = 2**pools
        pad = (patch * pooled_side(img_size, pools) - img_size + 1) // 2 if patch > 1 else 0
        self.embed = ConvBN(in_channels, dim, kernel=patch, stride=patch, padding=pad)
        self.neuron = make_neuron() if spike_output else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_tokens(self.neuron(self.embed(x)))


@STEM.register("spikingformer")
class SpikingTokenizer(nn.Module):
    """Spikingformer's tokenizer (Zhou et al. 2023, arXiv 2304.11954, Sec. 4.1), pre-activation:
    Conv3x3-BN, then four blocks LIF -> [MaxPool(3, 2, 1)] -> Conv3x3-BN of widths D/4, D/2, D,
    D, pooled in the last `pools` blocks; no position embedding. Its output is a BN output (a
    membrane input for the first block's neuron); `spike_output=True` adds a final neuron."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        img_size: int,
        make_neuron: MakeNeuron,
        spike_output: bool = True,
        pools: int | None = None,
    ) -> None:
        super().__init__()
        widths = [in_channels, dim // 8, dim // 4, dim // 2, dim, dim]
        pools = num_pools(img_size) if pools is None else pools
        layers: list[nn.Module] = [ConvBN(widths[0], widths[1])]
        for i in range(1, 5):
            layers += [make_neuron()] + ([MaxPoolTime()] if i > 4 - pools else [])
            layers.append(ConvBN(widths[i], widths[i + 1]))
        self.blocks = nn.Sequential(*layers, *([make_neuron()] if spike_output else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_tokens(self.blocks(x))


class DeformedShortcutStem(nn.Module):
    """QKFormer's first patch embedding (Zhou et al., NeurIPS 2024, Sec. 3.3), at width D of the
    first stage: Conv3x3-BN-LIF to D/2 (the spikes s), then a main path from s and a 1x1-conv
    "deformed" shortcut from s, each ending BN-LIF, added (values in {0, 1, 2}).

    Shallow (the authors' CIFAR code): main = Conv3x3(D/2 -> D)-BN-LIF, shortcut stride 1;
    `pools` pools (0 there) follow the first conv. Deep (their ImageNet code): a pool after
    the first conv and after the main path's first conv, main = Conv3x3-BN-pool-LIF,
    Conv3x3(D -> D)-BN-LIF, shortcut stride 2 (pools = 2; more pools go after the first conv).
    Every pool comes before its conv's neuron. `spike_output=False` drops the two final neurons.
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        img_size: int,
        make_neuron: MakeNeuron,
        spike_output: bool = True,
        pools: int | None = None,
        deep: bool = False,
    ) -> None:
        super().__init__()
        pools = num_pools(img_size) if pools is None else pools
        stride = 2 if deep and pools else 1
        early = pools - (stride - 1)  # pools after the first conv

        def out() -> list[nn.Module]:  # a fresh neuron per path (each keeps its own state)
            return [make_neuron()] if spike_output else []

        self.first = nn.Sequential(
            ConvBN(in_channels, dim // 2), *[MaxPoolTime() for _ in range(early)], make_neuron()
        )
        main: list[nn.Module] = [ConvBN(dim // 2, dim)]
        if deep:
            main += ([MaxPoolTime()] if stride == 2 else []) + [make_neuron(), ConvBN(dim, dim)]
        self.main = nn.Sequential(*main, *out())
        self.shortcut = nn.Sequential(
            ConvBN(dim // 2, dim, kernel=1, stride=stride, padding=0), *out()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.first(x)
        return to_tokens(self.main(s) + self.shortcut(s))


@STEM.register("qkformer")
def qkformer_stem(**kwargs) -> DeformedShortcutStem:
    """QKFormer's first patch embedding, CIFAR layout (two convs, 1x1 shortcut)."""
    return DeformedShortcutStem(**kwargs)


@STEM.register("qkformer_deep")
def qkformer_stem_deep(**kwargs) -> DeformedShortcutStem:
    """QKFormer's first patch embedding, ImageNet layout (three convs, strided shortcut)."""
    return DeformedShortcutStem(**kwargs, deep=True)
