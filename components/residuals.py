"""Residual styles: how a branch (attention or MLP body) joins the residual stream.

A branch body maps [T, B, N, D] -> [T, B, N, D] pre-activations (BN outputs); the style adds
the neuron that makes the branch spiking and says what the head reads.
"""

from __future__ import annotations

from collections.abc import Callable

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


class PooledNeuron(nn.Module):
    """Fires the token mean: LIF(mean over tokens of x), [T, B, N, D] -> [T, B, 1, D]; the head
    then averages over T (the Spike-driven Transformer's head LIF)."""

    def __init__(self, make_neuron: MakeNeuron) -> None:
        super().__init__()
        self.neuron = make_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(x.mean(dim=2, keepdim=True))


Readout = Callable[[MakeNeuron], nn.Module]


class ResidualStyle:
    """`membrane_stream`: the residual stream carries membrane inputs, not spikes, so the stem
    ends without a neuron and (by default) a neuron sits before the head. `readout`, when
    given, builds what sits between the last block and the head's mean pooling instead."""

    def __init__(
        self, branch: type[nn.Module], membrane_stream: bool, readout: Readout | None = None
    ) -> None:
        self.branch = branch
        self.membrane_stream = membrane_stream
        self._readout = readout

    def readout(self, make_neuron: MakeNeuron) -> nn.Module:
        """What sits between the last block and the head's mean pooling."""
        if self._readout is not None:
            return self._readout(make_neuron)
        return make_neuron() if self.membrane_stream else nn.Identity()


RESIDUAL.register("sew")(lambda: ResidualStyle(SEWBranch, membrane_stream=False))
RESIDUAL.register("ms")(lambda: ResidualStyle(MembraneShortcutBranch, membrane_stream=True))


@RESIDUAL.register("ms_pooled")
def membrane_shortcut_pooled_readout() -> ResidualStyle:
    """Membrane shortcut with the Spike-driven Transformer's head (Yao et al. NeurIPS 2023,
    authors' code): the membrane stream is averaged over tokens, then fired, then classified."""
    return ResidualStyle(MembraneShortcutBranch, membrane_stream=True, readout=PooledNeuron)


@RESIDUAL.register("ms_analog")
def membrane_shortcut_analog_readout() -> ResidualStyle:
    """Membrane shortcut with Spikingformer's head (Zhou et al. 2023, authors' code): no neuron
    before the head, which classifies the mean membrane stream (analog, so the head costs MACs).
    """
    return ResidualStyle(MembraneShortcutBranch, membrane_stream=True, readout=_identity)


def _identity(make_neuron: MakeNeuron) -> nn.Module:
    return nn.Identity()
