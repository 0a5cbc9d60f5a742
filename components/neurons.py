"""Spiking neurons (spikingjelly 2.0, multi-step) and their surrogate gradients.

Every neuron maps [T, ...] membrane inputs to [T, ...] spikes in one call (step_mode="m").
Paper default (spec): LIF, tau 2.0, decay_input, hard reset to 0, detach_reset, sigmoid
surrogate with alpha 4; threshold 1.0 except the neuron after the attention product (0.5).
Registry metadata per neuron: `leaky` (tau must be > 1), `binary` (spikes in {0, 1}), `needs_T`
(built with the model's T). More neurons (CLIF, KLIF, GLIF, PSN, integer LIF, EIF, Izhikevich)
live in components/neurons_zoo.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from spikingjelly.activation_based.neuron.base_node import BaseNode
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


class _MultiStepLIF(torch.autograd.Function):
    """Multi-step LIF with decay_input, hard reset, detach_reset and the sigmoid surrogate.

    The same arithmetic, op for op, as spikingjelly 2.0's CPU kernels (`_ops/lif/cpu.py`), so
    spikes and gradients are bit-identical; but one loop forward and one backward with no
    autograd graph, no input copy and only H (the charged potential) saved for backward.
    """

    @staticmethod
    def forward(ctx, x_seq, v, tau: float, v_threshold: float, v_reset: float, alpha: float):
        # empty_like keeps x's memory layout (e.g. channels-last conv outputs) as spikingjelly does,
        # so the layers around the neuron see the same strides and round the same way
        spikes = torch.empty_like(x_seq)
        keep_h = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        h_seq = torch.empty_like(spikes) if keep_h else None
        for t in range(x_seq.shape[0]):
            h = h_seq[t] if h_seq is not None else torch.empty_like(spikes[t])
            # H = V + (X - (V - V_reset)) / tau, in spikingjelly's order of operations
            torch.sub(x_seq[t], v if v_reset == 0.0 else v - v_reset, out=h)
            h.div_(tau).add_(v)
            torch.ge(h, v_threshold, out=spikes[t])
            # V = S * V_reset + (1 - S) * H as H - H * S (+ S * V_reset): exact for S in {0, 1}
            v = torch.addcmul(h, h, spikes[t], value=-1.0)
            if v_reset != 0.0:
                v.add_(spikes[t], alpha=v_reset)
        if keep_h:
            ctx.save_for_backward(h_seq, spikes)
        ctx.constants = (tau, v_threshold, alpha)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_spikes, grad_v):
        h_seq, spikes = ctx.saved_tensors
        tau, v_threshold, alpha = ctx.constants
        # layout of the incoming gradient, as spikingjelly returns it (same strides downstream)
        grad_x = torch.empty_like(h_seq if grad_spikes is None else grad_spikes)
        carry = grad_v if grad_v is not None else torch.zeros_like(h_seq[0])
        for t in range(h_seq.shape[0] - 1, -1, -1):
            s = torch.sub(h_seq[t], v_threshold).mul_(alpha).sigmoid_()
            sg = torch.rsub(s, 1).mul_(s).mul_(alpha)  # (1 - s) * s * alpha
            # dL/dH = dL/dS * sg + dL/dV * (1 - S) (detach_reset: no gradient through the reset)
            gh = torch.addcmul(carry, carry, spikes[t], value=-1.0)
            if grad_spikes is not None:
                gh.add_(sg.mul_(grad_spikes[t]))
            torch.div(gh, tau, out=grad_x[t])
            carry = gh.sub_(grad_x[t])  # dL/dV[t-1] = dL/dH - dL/dH / tau
        return grad_x, carry, None, None, None, None


class LIFNode(sj_neuron.LIFNode):
    """spikingjelly's LIFNode with a faster CPU multi-step path for the paper's setting
    (decay_input, hard reset, detach_reset, sigmoid surrogate, fp32): `_MultiStepLIF` above. Any
    other setting, dtype, device or state falls back to spikingjelly's own code, so the module is
    a drop-in LIFNode (same class name, so code that looks for "LIFNode" still finds it)."""

    def _fused_ok(self, x_seq: torch.Tensor) -> bool:
        sg = self.surrogate_function
        return (
            type(sg) is sj_surrogate.Sigmoid
            and getattr(sg, "spiking", True)
            and isinstance(sg.alpha, (int, float))
            and self.decay_input
            and self.detach_reset
            and self.v_reset is not None
            and not self.store_v_seq
            and self._neuron_precision is None
            and x_seq.dtype == torch.float32
            and x_seq.device.type == "cpu"  # on GPUs spikingjelly's own CUDA/Triton kernels win
        )

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        if args or kwargs or not self._fused_ok(x_seq):
            return super().multi_step_forward(x_seq, *args, **kwargs)
        (v,) = self.materialize_states((x_seq,), tuple(self._memories.values()), "m")
        spikes, v = _MultiStepLIF.apply(
            x_seq,
            v,
            float(self.tau),
            float(self.v_threshold),
            float(self.v_reset),
            float(self.surrogate_function.alpha),
        )
        self._memories["v"] = v
        self.v_seq = None
        return spikes


FusedLIFNode = LIFNode  # the name benchmarks and tests use for the fused variant


def _common(v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool) -> dict:
    """Arguments every spikingjelly neuron takes, multi-step."""
    return dict(
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate_function=surrogate,
        detach_reset=detach_reset,
        step_mode="m",
    )


@NEURON.register("lif", leaky=True, binary=True)
def lif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """Leaky integrate-and-fire: H = V + (X - V) / tau, S = H >= V_th, hard or soft reset.

    Built as FusedLIFNode: bit-identical spikes and gradients to spikingjelly's LIFNode, about
    2-4x faster on CPU in the paper's setting (benchmarks/lif_micro.py); falls back otherwise.
    """
    common = _common(v_threshold, v_reset, surrogate, detach_reset)
    return FusedLIFNode(tau=float(tau), decay_input=True, **common)


@NEURON.register("lif_sj", leaky=True, binary=True)
def lif_spikingjelly(
    tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool
):
    """The same LIF as `lif`, run by spikingjelly's own LIFNode (for comparisons)."""
    common = _common(v_threshold, v_reset, surrogate, detach_reset)
    return sj_neuron.LIFNode(tau=float(tau), decay_input=True, **common)


@NEURON.register("plif", leaky=True, binary=True)
def plif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """Parametric LIF (Fang et al. 2021): LIF whose 1/tau is learned per layer, starting at tau."""
    common = _common(v_threshold, v_reset, surrogate, detach_reset)
    return sj_neuron.ParametricLIFNode(init_tau=float(tau), decay_input=True, **common)


@NEURON.register("if", leaky=False, binary=True)
def integrate_and_fire(
    tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool
):
    """Integrate-and-fire, no leak: H = V + X (tau is ignored)."""
    return sj_neuron.IFNode(**_common(v_threshold, v_reset, surrogate, detach_reset))


def leaky_neurons() -> tuple[str, ...]:
    """Neurons with a time constant (tau is a setting and must be > 1), read from the registry
    metadata now, so parts registered by plugins count."""
    return tuple(NEURON.where(leaky=True))


def needs_steps(kind: str) -> bool:
    """Whether the neuron has per-step parameters and is built with the model's T."""
    return bool(NEURON.meta(kind).get("needs_T", False))


def __getattr__(name: str) -> tuple[str, ...]:
    # LEAKY is computed when it is first imported (after every built-in part registered), not
    # frozen while this module is half-loaded.
    if name == "LEAKY":
        return leaky_neurons()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    T: int | None = None  # time steps, for neurons with per-step parameters (needs_steps)

    def __post_init__(self) -> None:
        NEURON.check(self.kind)
        SURROGATE.check(self.surrogate)
        if NEURON.meta(self.kind).get("leaky") and not self.tau > 1.0:
            raise ValueError(f"Neuron tau must be > 1.0 for {self.kind}, got {self.tau}.")
        if needs_steps(self.kind) and self.T is None:
            raise ValueError(
                f"Neuron {self.kind} has one parameter per time step: give NeuronSettings(T=...) "
                "(a ModelConfig passes its T)."
            )

    def factory(self) -> NeuronFactory:
        return NeuronFactory(self)


class NeuronFactory:
    """Callable that builds a fresh neuron module; `threshold=` overrides the site's V_th."""

    def __init__(self, settings: NeuronSettings) -> None:
        self.settings = settings

    def __call__(self, threshold: float | None = None) -> nn.Module:
        s = self.settings
        steps = {"T": s.T} if needs_steps(s.kind) else {}
        neuron = NEURON.build(
            s.kind,
            tau=s.tau,
            v_threshold=s.v_threshold if threshold is None else float(threshold),
            v_reset=s.v_reset,
            surrogate=SURROGATE.build(s.surrogate, alpha=s.surrogate_alpha),
            detach_reset=s.detach_reset,
            **steps,
        )
        neuron.spiking_neuron = True  # is_neuron() finds it, whatever its class (plugins too)
        return neuron


def is_neuron(module: nn.Module) -> bool:
    """Whether a module is a spiking neuron: built by a NeuronFactory (any registered kind, a
    plugin's too) or a spikingjelly neuron (BaseNode, and PSN / GatedLIFNode, which are not)."""
    return getattr(module, "spiking_neuron", False) or isinstance(
        module, (BaseNode, sj_neuron.PSN, sj_neuron.GatedLIFNode)
    )


MakeNeuron = Callable[..., nn.Module]
