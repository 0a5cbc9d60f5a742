"""Weight layers with time folded into the batch, as every Spikformer conv/linear/BN does."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TokenLinear(nn.Linear):
    """nn.Linear (same parameters) that runs [..., N, C] token inputs on CPU as a 1x1 convolution
    over the zero-copy channels-last view [prod(...), C, N, 1]: the same product, computed by
    oneDNN instead of the BLAS sgemm, about 2x faster forward + backward on this CPU
    (benchmarks/linear_micro.py). Equal to F.linear up to fp32 summation order (~1e-6 rel.)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.device.type != "cpu":
            return super().forward(x)
        n, k = x.shape[-2:]
        x4 = x.reshape(-1, n, 1, k).permute(0, 3, 1, 2)  # [B', C, N, 1], channels-last strides
        y = F.conv2d(x4, self.weight[:, :, None, None], self.bias)
        return y.permute(0, 2, 3, 1).reshape(*x.shape[:-1], -1)


class LinearBN(nn.Module):
    """Linear then BatchNorm1d on the contiguous [T*B*N, C] view of its output.

    The same function as the reference code's BN on the transposed [T*B, C, N] tensor (BN
    statistics are per channel over all other axes either way), but faster to train on CPU
    because nothing is transposed (benchmarks/profile_step.py profiles a training step).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = TokenLinear(in_features, out_features, bias=bias)
        self.bn = nn.BatchNorm1d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = self.bn(self.linear(x).reshape(-1, self.linear.out_features))
        return y.reshape(*lead, -1)


class ConvBN(nn.Module):
    """Conv2d (no bias) then BatchNorm2d on [T, B, C, H, W] with T folded into the batch."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x4 = x.flatten(0, 1)
        if x4.device.type == "cpu":
            # oneDNN convs are faster channels-last on CPU; the layout then carries through
            # BN, neurons and pooling (a no-op after the first conv), and the final token view
            # [T, B, H*W, C] needs no copy
            x4 = x4.contiguous(memory_format=torch.channels_last)
        y = self.bn(self.conv(x4))
        return y.reshape(*x.shape[:2], *y.shape[1:])


class MaxPoolTime(nn.Module):
    """MaxPool2d(3, 2, 1) on [T, B, C, H, W] (the SPS down-sampling)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x.flatten(0, 1))
        return y.reshape(*x.shape[:2], *y.shape[1:])
