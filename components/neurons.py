"""Spiking neurons (spikingjelly 2.0, multi-step) and their surrogate gradients.

Every neuron maps [T, ...] membrane inputs to [T, ...] spikes in one call (step_mode="m").
Paper default (spec): LIF, tau 2.0, decay_input, hard reset to 0, detach_reset, sigmoid
surrogate with alpha 4; threshold 1.0 except the neuron after the attention product (0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from components.registry import NEURON, SURROGATE


@SURROGATE.register("sigmoid")
def sigmoid_surrogate(alpha: float | None = None) -> sj_surrogate.SurrogateFunctionBase:
    """d/dx sigmoid(alpha x); the paper's choice with alpha = 4."""
    return sj_surrogate.Sigmoid(alpha=4.0 if alpha is None else float(alpha))


@SURROGATE.register("atan")
def atan_surrogate(alpha: float | None = None) -> sj_surrogate.SurrogateFunctionBase:
    """d/dx (1/pi) arctan(pi/2 alpha x) + 1/2; spikingjelly's default alpha = 2."""
    return sj_surrogate.ATan(alpha=2.0 if alpha is None else float(alpha))


@NEURON.register("lif")
def lif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """Leaky integrate-and-fire: H = V + (X - V) / tau, S = H >= V_th, hard or soft reset."""
    return sj_neuron.LIFNode(
        tau=float(tau),
        decay_input=True,
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )


@NEURON.register("plif")
def plif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """Parametric LIF (Fang et al. 2021): LIF whose 1/tau is learned per layer, starting at tau."""
    return sj_neuron.ParametricLIFNode(
        init_tau=float(tau),
        decay_input=True,
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )


@NEURON.register("if")
def integrate_and_fire(
    tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool
):
    """Integrate-and-fire, no leak: H = V + X (tau is ignored)."""
    return sj_neuron.IFNode(
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )


@dataclass(frozen=True)
class NeuronSettings:
    """What every neuron of a model shares; the threshold can differ per site."""

    kind: str = "lif"
    tau: float = 2.0
    v_threshold: float = 1.0
    v_reset: float | None = 0.0  # None = soft reset (subtract the threshold)
    surrogate: str = "sigmoid"
    surrogate_alpha: float | None = None  # None = the surrogate's own default (sigmoid 4, atan 2)
    detach_reset: bool = True

    def __post_init__(self) -> None:
        NEURON.check(self.kind)
        SURROGATE.check(self.surrogate)
        if self.kind in ("lif", "plif") and not self.tau > 1.0:
            raise ValueError(f"Neuron tau must be > 1.0 for {self.kind}, got {self.tau}.")

    def factory(self) -> NeuronFactory:
        return NeuronFactory(self)


class NeuronFactory:
    """Callable that builds a fresh neuron module; `threshold=` overrides the site's V_th."""

    def __init__(self, settings: NeuronSettings) -> None:
        self.settings = settings

    def __call__(self, threshold: float | None = None) -> nn.Module:
        s = self.settings
        return NEURON.build(
            s.kind,
            tau=s.tau,
            v_threshold=s.v_threshold if threshold is None else float(threshold),
            v_reset=s.v_reset,
            surrogate=SURROGATE.build(s.surrogate, alpha=s.surrogate_alpha),
            detach_reset=s.detach_reset,
        )


MakeNeuron = Callable[..., nn.Module]
