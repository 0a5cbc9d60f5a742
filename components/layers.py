"""Weight layers with time folded into the batch, as every Spikformer conv/linear/BN does."""

from __future__ import annotations

import torch
from torch import nn


class LinearBN(nn.Module):
    """Linear then BatchNorm1d on the contiguous [T*B*N, C] view of its output.

    The same function as the reference code's BN on the transposed [T*B, C, N] tensor (BN
    statistics are per channel over all other axes either way), but about 1.5x faster to train
    on CPU because nothing is transposed (shared/notes/performance.md).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.bn = nn.BatchNorm1d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = self.bn(self.linear(x.reshape(-1, x.shape[-1])))
        return y.reshape(*lead, -1)


class ConvBN(nn.Module):
    """Conv2d (no bias) then BatchNorm2d on [T, B, C, H, W] with T folded into the batch."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x.flatten(0, 1)))
        return y.reshape(*x.shape[:2], *y.shape[1:])


class MaxPoolTime(nn.Module):
    """MaxPool2d(3, 2, 1) on [T, B, C, H, W] (the SPS down-sampling)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x.flatten(0, 1))
        return y.reshape(*x.shape[:2], *y.shape[1:])
