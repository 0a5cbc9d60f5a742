"""Residual styles: how a branch (attention or MLP body) joins the residual stream.

A branch body maps [T, B, N, D] -> [T, B, N, D] pre-activations (BN outputs); the style adds
the neuron that makes the branch spiking and says what the head reads.
"""

from __future__ import annotations

import torch
from torch import nn

from components.neurons import MakeNeuron
from components.registry import RESIDUAL


class SEWBranch(nn.Module):
    """x + LIF(body(x)): spikes are added, so the stream holds small integers (paper)."""

    def __init__(self, body: nn.Module, make_neuron: MakeNeuron) -> None:
        super().__init__()
        self.body, self.neuron = body, make_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.neuron(self.body(x))


class MembraneShortcutBranch(nn.Module):
    """x + body(LIF(x)): membrane inputs are added and every weight layer sees binary spikes
    (Spike-driven Transformer, Yao et al. NeurIPS 2023; Spikingformer)."""

    def __init__(self, body: nn.Module, make_neuron: MakeNeuron) -> None:
        super().__init__()
        self.neuron, self.body = make_neuron(), body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(self.neuron(x))


class ResidualStyle:
    """`membrane_stream`: the residual stream carries membrane inputs, not spikes, so the stem
    ends without a neuron and a neuron sits before the head."""

    def __init__(self, branch: type[nn.Module], membrane_stream: bool) -> None:
        self.branch = branch
        self.membrane_stream = membrane_stream

    def readout(self, make_neuron: MakeNeuron) -> nn.Module:
        """What sits between the last block and the head's mean pooling."""
        return make_neuron() if self.membrane_stream else nn.Identity()


RESIDUAL.register("sew")(lambda: ResidualStyle(SEWBranch, membrane_stream=False))
RESIDUAL.register("ms")(lambda: ResidualStyle(MembraneShortcutBranch, membrane_stream=True))
