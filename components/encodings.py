"""Input encodings of static images: [B, C, H, W] -> [T, B, C, H, W].

    ENCODING.build(name, T=T)  ->  module; metadata `binary` says whether its output is spikes

- direct: the image repeated T times (the paper's "direct coding"); the first conv sees analog
  values, so it costs MACs.
- rate, ttfs, phase: binary spike trains, so the first conv is spike-driven (ACs). The energy
  meter (components/energy.py) reads every layer's input, so it counts that conv as ACs by
  itself; `binary` lets a caller know without running the model.

The three spike codes read each image as intensities in [0, 1] by a per-sample min-max rescale,
which is invariant to the dataset's mean/std normalisation (any per-channel-equal affine map).
"""

from __future__ import annotations

import torch
from torch import nn

from components.registry import Registry

ENCODING = Registry("encoding")


def unit_intensity(x: torch.Tensor) -> torch.Tensor:
    """Each sample rescaled to [0, 1] by its own min and max (a constant image becomes 0)."""
    flat = x.flatten(1)
    lo = flat.min(dim=1).values.view(-1, *[1] * (x.dim() - 1))
    span = flat.max(dim=1).values.view_as(lo) - lo
    return (x - lo) / torch.where(span > 0, span, torch.ones_like(span))


class Encoding(nn.Module):
    """Base: `encode(x)` maps [B, C, H, W] to [T, B, C, H, W]; no parameters."""

    def __init__(self, T: int) -> None:
        super().__init__()
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"T={self.T}"


@ENCODING.register("direct", binary=False)
class DirectEncoding(Encoding):
    """Direct coding: S[t] = x for every t (analog input, the spec's default)."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.T, *x.shape)


@ENCODING.register("rate", binary=True)
class RateEncoding(Encoding):
    """Rate (Poisson/Bernoulli) coding: S[t] ~ Bernoulli(u) independently per step, u the unit
    intensity; draws from torch's global generator, so seed it for reproducible runs."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        u = unit_intensity(x)
        return (torch.rand((self.T, *u.shape), dtype=u.dtype, device=u.device) < u).to(x.dtype)


@ENCODING.register("ttfs", binary=True)
class TTFSEncoding(Encoding):
    """Time-to-first-spike (latency) coding: one spike per pixel at step floor((1 - u) T), so
    brighter pixels fire earlier; a pixel at the sample's minimum (u = 0) never fires."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        u = unit_intensity(x)
        fire_at = torch.floor((1 - u) * self.T).clamp(max=self.T - 1)
        fire_at = torch.where(u > 0, fire_at, torch.full_like(fire_at, self.T))  # never
        steps = torch.arange(self.T, dtype=u.dtype, device=u.device).view(-1, *[1] * u.dim())
        return (steps == fire_at.unsqueeze(0)).to(x.dtype)


@ENCODING.register("phase", binary=True)
class PhaseEncoding(Encoding):
    """Phase coding (Kim et al., Neurocomputing 2018, "Deep neural networks with weighted
    spikes"): u quantised to T bits, most significant first; S[t] is bit t, whose weight in the
    paper is 2^-(t+1). The weights are not applied here, so the first layer sees binary spikes
    and learns their importance itself."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        levels = torch.round(unit_intensity(x) * (2**self.T - 1)).long()
        shifts = torch.arange(self.T - 1, -1, -1, device=x.device).view(-1, *[1] * x.dim())
        return ((levels.unsqueeze(0) >> shifts) & 1).to(x.dtype)
