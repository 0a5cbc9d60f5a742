"""The ladder of energy models: each a registered part with its constants and source.

    model = ENERGY_MODELS.build("memory"); ENERGY_MODELS.meta("memory")  # constants, source

A model prices one image's counts (components/energy/counts.py) item by item, in pJ: a weight
layer, a neuron, an attention product; and prices the same items for the model's ANN twin
(the same architecture with ReLU instead of spiking neurons, T = 1, every operation a dense
MAC, float attention, softmax where the variant has one), so every figure comes with
"x times the energy of its ANN twin" under the same constants.

Input kinds of a weight layer (decided per call): binary (spikes), integer (SEW streams
0, 1, 2, ...), analog (images, time-averaged rates, float attention outputs).

    paper          binary and integer inputs: SOPs = rate x dense MACs at E_AC; analog: MACs at
                   E_MAC. The first conv runs T times on the repeated image (as the code runs).
    paper_once     as paper, but a layer whose input is the same at every step (the first conv
                   under direct coding) is counted once: its T-1 repeats would give the same
                   current. Event input (DVS frames) differs per step and is counted T times.
    strict         only binary inputs make ACs, counted exactly (spikingjelly's SynOpCounter,
                   NeuroBench Eff_ACs); integer and analog inputs cost their dense MACs
                   (spikingjelly's MACCounter).
    value_weighted as paper, but an integer input k costs k ACs (k coincident spikes).
    memory         Lemaire et al. 2022 style: operations, address generation and SRAM accesses
                   (weights, membrane potentials, input and output spikes) whose cost per
                   access grows with the buffer they are read from.
    fp16, int8     the paper convention with Horowitz 2014's fp16 / int8 adder and multiplier.
    ann_twin       the ANN twin at fp32 (E_MAC per dense MAC); its own twin ratio is 1.

Constants are taken from spikingjelly 2.0's op_counter configs (SimpleEnergyCostConfig
presets, LemaireEnergyCostConfig), which cite the same sources. spikingjelly's profilers are
not run here: they price whole forward passes with no per-component split, do not see the
products inside attention (their bmm rule covers Q(K^T V) of binary operands but not
(QK^T)V, masks or value weighting) and count the SEW stream only as MACs; the quantities both
define are tested equal in tests/test_energy.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from spikingjelly.activation_based.op_counter import (
    LemaireEnergyConfig,
    LemaireEnergyCostConfig,
    SimpleEnergyCostConfig,
)

from components.energy.counts import LayerCounts, NeuronCounts, ProductCounts
from components.registry import Registry

ENERGY_MODELS = Registry("energy model")
LADDER = ("paper", "paper_once", "strict", "value_weighted", "memory", "fp16", "int8", "ann_twin")

_FP32, _FP16, _INT8 = (
    SimpleEnergyCostConfig.fp32(),
    SimpleEnergyCostConfig.fp16(),
    SimpleEnergyCostConfig.int8(),
)
E_MAC = _FP32.e_mac_pj * 1e-12  # joules per fp32 multiply-accumulate, 45 nm (4.6 pJ)
E_AC = _FP32.e_ac_pj * 1e-12  # joules per fp32 accumulate (0.9 pJ)
HOROWITZ = "Horowitz, ISSCC 2014, 45 nm (as in spikingjelly 2.0 SimpleEnergyCostConfig)"
LEMAIRE = (
    "Lemaire et al., ICONIP 2022 (arXiv:2210.13107); constants as in spikingjelly 2.0 "
    "LemaireEnergyCostConfig / LemaireEnergyConfig"
)


class EnergyModel(Protocol):
    """Prices of one image's items in pJ, for the SNN and for its ANN twin."""

    def layer(self, layer: LayerCounts) -> float: ...
    def neuron(self, neuron: NeuronCounts) -> float: ...
    def product(self, product: ProductCounts) -> float: ...
    def twin_layer(self, layer: LayerCounts) -> float: ...
    def twin_product(self, product: ProductCounts) -> float: ...


def layer_ops(layer: LayerCounts, convention: str, once: bool = False) -> tuple[float, float]:
    """(MACs, ACs) of a weight layer under a compute convention: paper, strict, value_weighted.
    `once`: a layer whose input repeats over the steps is counted once."""
    b = layer.buckets
    analog = b["analog"].dense_once if once else b["analog"].dense
    if convention == "strict":
        return b["integer"].dense + analog, b["binary"].effective
    integer = b["integer"].weighted if convention == "value_weighted" else b["integer"].sops
    return analog, b["binary"].sops + integer


def product_ops(p: ProductCounts, convention: str) -> tuple[float, float]:
    """(MACs, ACs) of an attention product: float products are dense MACs; spike products are
    ACs, value-weighted where an integer operand k counts k."""
    if p.is_float:
        return p.dense, 0.0
    return 0.0, p.weighted if convention == "value_weighted" else p.acs


@dataclass(frozen=True)
class ComputeModel:
    """E = E_MAC x MACs + E_AC x ACs; neurons, BN, pooling and residual adds cost nothing."""

    e_mac_pj: float
    e_ac_pj: float
    convention: str = "paper"
    once: bool = False

    def layer(self, layer: LayerCounts) -> float:
        macs, acs = layer_ops(layer, self.convention, self.once)
        return self.e_mac_pj * macs + self.e_ac_pj * acs

    def neuron(self, neuron: NeuronCounts) -> float:
        return 0.0

    def product(self, product: ProductCounts) -> float:
        macs, acs = product_ops(product, self.convention)
        return self.e_mac_pj * macs + self.e_ac_pj * acs

    def twin_layer(self, layer: LayerCounts) -> float:
        return self.e_mac_pj * layer.total("dense") / layer.steps

    def twin_product(self, product: ProductCounts) -> float:
        return self.e_mac_pj * product.dense / product.steps


@dataclass(frozen=True)
class TwinModel:
    """The ANN twin priced by `base`: its items are the twin's, so its own ratio is 1."""

    base: ComputeModel

    def layer(self, layer: LayerCounts) -> float:
        return self.base.twin_layer(layer)

    def neuron(self, neuron: NeuronCounts) -> float:
        return 0.0

    def product(self, product: ProductCounts) -> float:
        return self.base.twin_product(product)

    def twin_layer(self, layer: LayerCounts) -> float:
        return self.base.twin_layer(layer)

    def twin_product(self, product: ProductCounts) -> float:
        return self.base.twin_product(product)


_WORD = 4  # bytes per access: 32-bit words throughout, as Lemaire et al.


@dataclass(frozen=True)
class MemoryModel:
    """Lemaire et al. 2022 in spirit, per item and per image (W = 4-byte word, c(S) = SRAM
    energy per byte of a buffer of S bytes, piecewise linear through 10 / 20 / 100 pJ per
    32-bit access at 8 KiB / 32 KiB / 1 MiB; add 0.1 pJ, mult 3.1 pJ, 32-bit integers).

    Weight layer, binary input (event-driven; e events, s = e x fan-out synaptic ops):
        ops s x add; addresses s x add (+ 2e x (mult + add) for a conv's 2-D address);
        reads e x W of input events (c of a 1000-word FIFO), s x W of weights (c of the
        layer's parameters), s x W read + s x W write of membrane potentials (c of the
        layer's output for one step and image).
    Weight layer, integer or analog input (dense; n inputs, o outputs, M MACs):
        ops M x (mult + add); addresses (n + o + conv taps per call) x add; reads of inputs
        (n x W for a Linear, M x W for a conv: no reuse), M x W of weights.
    Bias: o x add and o x W of reads. Neuron (u updates, s spikes): u x W read + u x W write
        of potentials (c of one step's units), s x W spike writes (FIFO), s x add, and for a
        leaky neuron u x (mult + add).
    Attention products (not in Lemaire; our extension): a spike product costs per AC one add,
        one address add and three accesses (operand read, accumulator read and write) at c of
        its buffer; a float product per MAC mult + add and two operand reads.
    ANN twin: the dense rule for every layer at T = 1, plus o x W output writes (c of the
        output); ReLU is free; products as float products. The first layer, as in Lemaire's
        SNN, is dense and runs as the code runs it.
    """

    cost: LemaireEnergyCostConfig
    fifo_words: int

    def _c(self, buffer_bytes: float) -> float:
        return self.cost.memory_cost_pj(buffer_bytes)

    def _dense(self, layer: LayerCounts, macs: float, n: float, o: float, calls: float) -> float:
        add, mac = self.cost.e_add_pj, self.cost.e_mul_pj + self.cost.e_add_pj
        in_cap = layer.total("elements") / layer.steps * _WORD
        reads = (macs if layer.taps else n) * self._c(in_cap) + macs * self._c(layer.params * _WORD)
        return macs * mac + (n + o + layer.taps * calls) * add + _WORD * reads

    def _bias(self, layer: LayerCounts, outputs: float) -> float:
        if not layer.bias_elements:
            return 0.0
        return outputs * (self.cost.e_add_pj + _WORD * self._c(layer.params * _WORD))

    def layer(self, layer: LayerCounts) -> float:
        add, mac = self.cost.e_add_pj, self.cost.e_mul_pj + self.cost.e_add_pj
        ev = layer.buckets["binary"]
        out_cap = layer.total("outputs") / layer.steps * _WORD
        energy = 2 * ev.sops * add + (2 * ev.nonzero * mac if layer.taps else 0.0)
        energy += _WORD * (
            ev.nonzero * self._c(self.fifo_words * _WORD)
            + ev.sops * self._c(layer.params * _WORD)
            + 2 * ev.sops * self._c(out_cap)
        )
        for kind in ("integer", "analog"):
            b = layer.buckets[kind]
            energy += self._dense(layer, b.dense, b.elements, b.outputs, b.calls)
        return energy + self._bias(layer, layer.total("outputs"))

    def neuron(self, neuron: NeuronCounts) -> float:
        add, mac = self.cost.e_add_pj, self.cost.e_mul_pj + self.cost.e_add_pj
        units = neuron.elements / neuron.steps * _WORD
        memory = 2 * neuron.elements * self._c(units) + neuron.spikes * self._c(
            self.fifo_words * _WORD
        )
        ops = neuron.spikes * add + (neuron.elements * mac if neuron.leaky else 0.0)
        return ops + _WORD * memory

    def product(self, product: ProductCounts) -> float:
        add, mac = self.cost.e_add_pj, self.cost.e_mul_pj + self.cost.e_add_pj
        c = self._c(product.buffer * _WORD)
        if product.is_float:
            return product.dense * (mac + 2 * _WORD * c)
        return product.acs * (2 * add + 3 * _WORD * c)

    def twin_layer(self, layer: LayerCounts) -> float:
        s = layer.steps
        n, o = layer.total("elements") / s, layer.total("outputs") / s
        write = _WORD * o * self._c(o * _WORD)
        dense = self._dense(layer, layer.total("dense") / s, n, o, layer.total("calls"))
        return dense + write + self._bias(layer, o)

    def twin_product(self, product: ProductCounts) -> float:
        mac = self.cost.e_mul_pj + self.cost.e_add_pj
        return product.dense / product.steps * (mac + 2 * _WORD * self._c(product.buffer * _WORD))


def _compute(**kw: object) -> dict[str, object]:
    return {"unit": "pJ", **kw}


@ENERGY_MODELS.register(
    "paper",
    **_compute(
        e_mac_pj=_FP32.e_mac_pj,
        e_ac_pj=_FP32.e_ac_pj,
        first_layer="T times (as run)",
        source=HOROWITZ + "; Spikformer's SOPs",
    ),
)
def paper() -> ComputeModel:
    """Spikformer's convention: SOPs = input rate x T x MACs at 0.9 pJ, analog inputs as MACs
    at 4.6 pJ (45 nm fp32); integer (SEW) inputs as SOPs; the first conv T times."""
    return ComputeModel(_FP32.e_mac_pj, _FP32.e_ac_pj, "paper")


@ENERGY_MODELS.register(
    "paper_once",
    **_compute(
        e_mac_pj=_FP32.e_mac_pj,
        e_ac_pj=_FP32.e_ac_pj,
        first_layer="once (input repeats over steps)",
        source=HOROWITZ,
    ),
)
def paper_once() -> ComputeModel:
    """The paper's convention with a repeated-input layer (the first conv) counted once."""
    return ComputeModel(_FP32.e_mac_pj, _FP32.e_ac_pj, "paper", once=True)


@ENERGY_MODELS.register(
    "strict",
    **_compute(
        e_mac_pj=_FP32.e_mac_pj,
        e_ac_pj=_FP32.e_ac_pj,
        first_layer="T times (as run)",
        source=HOROWITZ + "; spikingjelly 2.0 SynOpCounter / MACCounter rules",
    ),
)
def strict() -> ComputeModel:
    """Only binary inputs make ACs (exact weight uses); integer and analog inputs are MACs."""
    return ComputeModel(_FP32.e_mac_pj, _FP32.e_ac_pj, "strict")


@ENERGY_MODELS.register(
    "value_weighted",
    **_compute(
        e_mac_pj=_FP32.e_mac_pj,
        e_ac_pj=_FP32.e_ac_pj,
        first_layer="T times (as run)",
        source=HOROWITZ,
    ),
)
def value_weighted() -> ComputeModel:
    """The paper's convention, but an integer input (or integer attention operand) k costs k
    ACs, as k coincident spikes would."""
    return ComputeModel(_FP32.e_mac_pj, _FP32.e_ac_pj, "value_weighted")


@ENERGY_MODELS.register(
    "fp16",
    **_compute(
        e_mac_pj=_FP16.e_mac_pj,
        e_ac_pj=_FP16.e_ac_pj,
        first_layer="T times (as run)",
        source=HOROWITZ + ": fp16 mult 1.1 pJ + add 0.4 pJ",
    ),
)
def fp16() -> ComputeModel:
    """The paper's convention at 45 nm fp16 (MAC 1.5 pJ, AC 0.4 pJ)."""
    return ComputeModel(_FP16.e_mac_pj, _FP16.e_ac_pj, "paper")


@ENERGY_MODELS.register(
    "int8",
    **_compute(
        e_mac_pj=_INT8.e_mac_pj,
        e_ac_pj=_INT8.e_ac_pj,
        first_layer="T times (as run)",
        source=HOROWITZ + ": int8 mult 0.2 pJ + add 0.03 pJ",
    ),
)
def int8() -> ComputeModel:
    """The paper's convention at 45 nm int8 (MAC 0.23 pJ, AC 0.03 pJ)."""
    return ComputeModel(_INT8.e_mac_pj, _INT8.e_ac_pj, "paper")


_LEMAIRE_COST, _LEMAIRE_CFG = LemaireEnergyCostConfig(), LemaireEnergyConfig()


@ENERGY_MODELS.register(
    "memory",
    unit="pJ",
    e_add_pj=_LEMAIRE_COST.e_add_pj,
    e_mul_pj=_LEMAIRE_COST.e_mul_pj,
    sram_pj_per_32bit_access={"8KiB": 10.0, "32KiB": 20.0, "1MiB": 100.0},
    fifo_words=_LEMAIRE_CFG.snn_fifo_capacity_elements,
    word_bytes=_WORD,
    first_layer="T times (as run)",
    source=LEMAIRE,
)
def memory() -> MemoryModel:
    """Operations, addressing and SRAM accesses of weights, potentials and spikes."""
    return MemoryModel(_LEMAIRE_COST, _LEMAIRE_CFG.snn_fifo_capacity_elements)


@ENERGY_MODELS.register(
    "ann_twin",
    **_compute(
        e_mac_pj=_FP32.e_mac_pj, first_layer="once (T = 1)", source=HOROWITZ + ": fp32 MAC 4.6 pJ"
    ),
)
def ann_twin() -> TwinModel:
    """The ANN twin (ReLU, T = 1, dense MACs, float attention) at fp32."""
    return TwinModel(ComputeModel(_FP32.e_mac_pj, _FP32.e_ac_pj, "paper"))
