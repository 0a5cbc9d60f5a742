"""More spiking neurons from spikingjelly 2.0, behind the common factory signature.

    NEURON.build(name, tau=, v_threshold=, v_reset=, surrogate=, detach_reset=[, T=])

Every neuron maps [T, ...] inputs to [T, ...] outputs in one call. Registry metadata says what a
caller needs without building one: `leaky` (tau is a setting and must be > 1), `binary` (outputs
are in {0, 1}; False for the integer LIF), `needs_T` (the neuron has per-step parameters and is
built with the model's T; `NeuronFactory` passes it). Settings a neuron has no use for are
ignored, as its docstring says.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from components.neurons import _common
from components.registry import NEURON


@NEURON.register("clif", leaky=True, binary=True)
def clif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """Complementary LIF (Huang et al., ICML 2024, "CLIF: Complementary Leaky Integrate-and-Fire
    Neuron for Spiking Neural Networks"): a second, complementary potential M raises the reset
    amount of neurons that fired recently: H = (1 - 1/tau) V + X, S = H >= V_th,
    M = M sigmoid(H / tau) + S, V = H - S (V_th + sigmoid(M)). Soft reset by construction, so
    v_reset and detach_reset are ignored."""
    return sj_neuron.ComplementaryLIFNode(
        tau=float(tau), v_threshold=v_threshold, surrogate_function=surrogate, step_mode="m"
    )


@NEURON.register("klif", leaky=True, binary=True)
def klif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """K-based LIF (Jiang & Zhang, ICASSP 2023, "KLIF: An optimized spiking neuron unit for
    tuning surrogate gradient slope and membrane potential"): LIF charge, then a learnable
    per-layer k rescales the potential before firing: F = ReLU(k H), S = F >= V_th."""
    common = _common(v_threshold, v_reset, surrogate, detach_reset)
    return sj_neuron.KLIFNode(tau=float(tau), decay_input=True, **common)


class GatedLIF(sj_neuron.GatedLIFNode):
    """spikingjelly's GatedLIFNode on inputs of any shape: its per-layer parameters are viewed
    as [1, C, 1, 1], which only broadcasts against 4-D steps, so every step is flattened to
    [M, 1, 1, 1] (layer-wise parameters make the layout irrelevant) and restored after."""

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        y = super().forward(x_seq.reshape(x_seq.shape[0], -1, 1, 1, 1))
        return y.reshape(x_seq.shape)


@NEURON.register("glif", leaky=False, binary=True, needs_T=True)
def gated_lif(
    tau: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate,
    detach_reset: bool,
    T: int,
):
    """Gated LIF (Yao et al., NeurIPS 2022, "GLIF: A Unified Gated Leaky Integrate-and-Fire
    Neuron for Spiking Neural Networks"): learnable gates mix leak, integration and reset
    styles; every membrane parameter is learned (layer-wise), one conductance per time step, so
    it needs T. Its parameters live in (0, 1) behind a sigmoid: the initial threshold is
    v_threshold / 2 (0.5 at the spec's V_th = 1, GLIF's own default), tau, v_reset and
    detach_reset are learned or fixed by GLIF and ignored here."""
    if not 0.0 < v_threshold < 2.0:
        raise ValueError(
            f"glif starts its threshold at v_threshold / 2, which must lie in (0, 1); "
            f"got v_threshold={v_threshold}: use a threshold between 0 and 2."
        )
    return GatedLIF(T=int(T), init_v_threshold=v_threshold / 2, surrogate_function=surrogate)


class ParallelSpikingNeuron(sj_neuron.PSN):
    """spikingjelly's PSN with its learnable threshold B started at V_th (H = W X - B)."""

    def __init__(self, T: int, v_threshold: float, surrogate) -> None:
        super().__init__(T=T, surrogate_function=surrogate)
        nn.init.constant_(self.bias, -float(v_threshold))


@NEURON.register("psn", leaky=False, binary=True, needs_T=True)
def psn(
    tau: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate,
    detach_reset: bool,
    T: int,
):
    """Parallel spiking neuron (Fang et al., NeurIPS 2023, "Parallel Spiking Neurons with High
    Efficiency and Long-term Dependencies Learning Ability"): no reset, so all steps are one
    matrix product: H = W X with a learnable T x T matrix W, S = H >= B with learnable
    thresholds B (started at v_threshold). tau, v_reset and detach_reset are ignored."""
    return ParallelSpikingNeuron(T=int(T), v_threshold=v_threshold, surrogate=surrogate)


@NEURON.register("ilif", leaky=True, binary=False)
def integer_lif(
    tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool
):
    """Integer-valued LIF (Luo et al., ECCV 2024, "Integer-Valued Training and Spike-Driven
    Inference Spiking Neural Network for High-performance and Energy-efficient Object
    Detection"): H = (1 - 1/tau) V + X, C = round(clip(H / V_th, 0, 4)), V = H - C V_th.
    Emits integer counts 0..4, NOT binary spikes (metadata binary=False): a weight layer after
    it does integer MACs unless each count is expanded into unit events. Soft reset by
    construction (v_reset ignored); its surrogate is spikingjelly's rectangular
    MultiLevelSpikeCount(4), so `surrogate` is ignored."""
    return sj_neuron.ILIFNode(
        tau=float(tau),
        v_threshold=v_threshold,
        surrogate_function=sj_surrogate.MultiLevelSpikeCount(4),
        detach_reset=detach_reset,
        step_mode="m",
    )


@NEURON.register("eif", leaky=True, binary=True)
def eif(tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool):
    """Exponential integrate-and-fire (Fourcaud-Trocme et al., J. Neurosci. 2003, "How spike
    generation mechanisms determine the neuronal response to fluctuating inputs"):
    H = V + (X - (V - V_rest) + dT exp((V - theta_rh) / dT)) / tau. dT = 0.1 V_th and
    theta_rh = 0.8 V_th, V_rest = 0 (spikingjelly's defaults dT = 1, theta_rh = 0.8 make a
    silent input fire on its own at V_th = 1)."""
    common = _common(v_threshold, v_reset, surrogate, detach_reset)
    return sj_neuron.EIFNode(
        tau=float(tau), delta_T=0.1 * v_threshold, theta_rh=0.8 * v_threshold, v_rest=0.0, **common
    )


@NEURON.register("izhikevich", leaky=True, binary=True)
def izhikevich(
    tau: float, v_threshold: float, v_reset: float | None, surrogate, detach_reset: bool
):
    """Izhikevich neuron (Izhikevich, IEEE TNN 2003, "Simple model of spiking neurons") in
    spikingjelly's form: quadratic charge H = V + (X + a0 (V - V_rest)(V - v_c) - W) / tau
    (a0 = 1, V_rest = -0.1, v_c = 0.8) and a recovery current W <- W + (a (H - V_rest) - W) /
    tau_w + b S with tau_w = 2, a = 0 and b = 0.2: each spike raises W (spike frequency
    adaptation; spikingjelly's default b = 0 would leave no recovery at all)."""
    common = _common(v_threshold, v_reset, surrogate, detach_reset)
    return sj_neuron.IzhikevichNode(tau=float(tau), tau_w=2.0, a=0.0, b=0.2, **common)
