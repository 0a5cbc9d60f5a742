"""Theoretical operation energy of a spiking model, by the paper's convention and a strict one.

    with EnergyMeter(model) as meter:
        for x, _ in loader:
            model(x)
    report = meter.report()          # per-image averages over every sample seen
    report.totals["energy_paper_j"], report.firing_rates["stem.blocks.1"], report.to_dict()

What is counted (spec "Energy estimate"; shared/notes/performance.md "Energy accounting"):

- Every nn.Linear and nn.Conv1d/2d/3d (time folded into the batch): its dense MACs, and the
  statistics of its INPUT tensor: fraction non-zero (firing rate), mean, min, max, whether every
  value is an integer and whether every value is in {0, 1} (binary). Biases are not counted.
- Paper convention: a layer whose input is not integer-valued (the first conv on an analog image,
  the head on time-averaged rates, a projection of a float attention output) costs its MACs at
  E_MAC; any other layer costs SOPs = input firing rate x its dense MACs (= rate x T x MACs per
  step) at E_AC. SEW residual streams hold small integers (0, 1, 2, ...): they still count as
  SOPs via the fraction non-zero, as the paper does.
- Strict convention (spikingjelly 2.0's op_counter): only a binary input makes ACs; an integer
  input that is not binary costs its dense MACs, like an analog one.
- Attention products, one rule per attention class (`ATTENTION_RULES`), with spikes read from the
  attention's own neuron submodules by forward hooks. Spike x spike products count the products
  that are actually non-zero (both operands 1, as spikingjelly's AC counter does); spike x
  integer products count one addition per spike and per element it adds; float x anything costs
  dense MACs (spec: "a float (VSA) attention costs MACs"). The same counts are used by both
  conventions because every non-float product has a binary operand, so it needs no multiplier.
  Per head and time step:
    ssa   k^T v        dense N d^2, ACs = sum_n |K_n| |V_n|   (|.| = spikes of token n in the head)
          q (k^T v)    dense N d^2, ACs = nnz(Q) x d          (each Q spike adds a row of K^T V)
          (the code evaluates Q (K^T V), so that is what is counted, not (Q K^T) V)
    vsa*  q k^T, a v   dense N^2 d MACs each                  (float maps: softmax/identity/...)
    sdsa  sum_n k*v    dense N D,  ACs = nnz(K * V)           (per-channel dot product over tokens)
          q * mask     dense N D,  ACs = nnz(Q)               (one gate per Q spike; an upper bound)
    qk    sum q        dense N D,  ACs = nnz(Q)               (over channels, or over tokens)
          mask * k     dense N D,  ACs = nnz(K)               (one gate per K spike; an upper bound)
  The scale s of SSA and of float maps is not counted: it folds into a threshold or into BN.
- Not counted, as is customary: BatchNorm (folded into the preceding layer), neuron dynamics,
  pooling, residual additions, softmax.
- Firing rate of every spikingjelly neuron (BaseNode): mean of its output over T, batch and
  units, named by module path; `mean_firing_rate` pools all neuron outputs (unit-weighted).

E_MAC = 4.6 pJ and E_AC = 0.9 pJ (45 nm, Horowitz 2014). `macs_dense` is every counted operation
as a dense MAC over all T steps (an ANN doing the same work), `ann_energy_j` = E_MAC x macs_dense.

Cost: no activation is copied or kept. Each weight layer reduces its input in three passes
(count_nonzero, sum, aminmax; a fourth, frac, only for inputs that are not binary) and reads the
four numbers back (one host sync per layer call); neuron and attention counts stay on the device
until `report()`. Measured on 2 busy CPU cores (cifar10-4-384, batch 8, eval): 15-25% of the
forward time is spent in the hooks. Meter the eager module, not a torch.compile wrapper: every
hook would break the compiled graph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from spikingjelly.activation_based.neuron.base_node import BaseNode
from torch import nn

from components.attention import (
    FloatMapAttention,
    QKAttention,
    SpikeDrivenSelfAttention,
    SpikingSelfAttention,
)

E_MAC = 4.6e-12  # joules per multiply-accumulate (32-bit float, 45 nm)
E_AC = 0.9e-12  # joules per accumulate

_F64 = torch.float64

# Per-image sums kept per weight layer (Python floats: one host sync per layer call).
_LAYER_FIELDS = ("nonzero", "sum", "sops_paper", "macs_paper", "sops_strict", "macs_strict")


def _count(x: torch.Tensor) -> torch.Tensor:
    return torch.count_nonzero(x).to(_F64)


# --------------------------------------------------------------------------------------------
# Attention rules


@dataclass(frozen=True)
class AttentionOp:
    """One product inside an attention module, for one forward call (all T, batch, heads)."""

    name: str
    dense: int  # multiply-accumulates a dense implementation performs
    acs: torch.Tensor | float  # accumulates an event-driven implementation performs
    is_float: bool = False  # float x float/spike product: costs `dense` MACs, no ACs


@dataclass(frozen=True)
class AttentionRule:
    """`captures`: submodules whose outputs `ops` reads (spike tensors [T, B, N, D]);
    `ops(module, x, captured)`, with x the attention's input, returns the products of one call."""

    captures: tuple[str, ...]
    ops: Callable[[nn.Module, torch.Tensor, dict[str, torch.Tensor]], list[AttentionOp]]


def _ssa_ops(m: nn.Module, x: torch.Tensor, s: dict[str, torch.Tensor]) -> list[AttentionOp]:
    q, k, v = s["q_neuron"], s["k_neuron"], s["v_neuron"]
    t, b, n, dim = q.shape
    h = m.heads
    d = dim // h

    def per_token(z: torch.Tensor) -> torch.Tensor:  # spikes of each token within each head
        return z.reshape(t, b, n, h, d).sum(-1, dtype=_F64)

    dense = t * b * h * n * d * d
    return [
        # (K^T V)[i, j] = sum_n K[n, i] V[n, j]: token n contributes |K_n| x |V_n| non-zero terms.
        AttentionOp("k^T v", dense, (per_token(k) * per_token(v)).sum()),
        AttentionOp("q (k^T v)", dense, _count(q) * d),
    ]


def _float_map_ops(m: nn.Module, x: torch.Tensor, s: dict[str, torch.Tensor]) -> list[AttentionOp]:
    t, b, n, dim = x.shape
    h = m.heads
    dense = t * b * h * n * n * (dim // h)
    return [AttentionOp("q k^T", dense, 0.0, True), AttentionOp("a v", dense, 0.0, True)]


def _sdsa_ops(m: nn.Module, x: torch.Tensor, s: dict[str, torch.Tensor]) -> list[AttentionOp]:
    q, k, v = s["q_neuron"], s["k_neuron"], s["v_neuron"]
    dense = q.numel()  # T B N D: one product or gate per element
    return [
        AttentionOp("sum_n k*v", dense, _count(k * v)),
        AttentionOp("q * mask", dense, _count(q)),
    ]


def _qk_ops(m: nn.Module, x: torch.Tensor, s: dict[str, torch.Tensor]) -> list[AttentionOp]:
    q, k = s["q_neuron"], s["k_neuron"]
    # Token variant sums Q over each head's channels, channel variant over tokens: N D adds both.
    return [
        AttentionOp("sum q", q.numel(), _count(q)),
        AttentionOp("mask * k", k.numel(), _count(k)),
    ]


# Looked up along the module's MRO, so subclasses inherit their parent's rule.
ATTENTION_RULES: dict[type[nn.Module], AttentionRule] = {
    SpikingSelfAttention: AttentionRule(("q_neuron", "k_neuron", "v_neuron"), _ssa_ops),
    FloatMapAttention: AttentionRule((), _float_map_ops),
    SpikeDrivenSelfAttention: AttentionRule(("q_neuron", "k_neuron", "v_neuron"), _sdsa_ops),
    QKAttention: AttentionRule(("q_neuron", "k_neuron"), _qk_ops),
}


def attention_rule(module: nn.Module) -> AttentionRule | None:
    for cls in type(module).__mro__:
        if cls in ATTENTION_RULES:
            return ATTENTION_RULES[cls]
    return None


# --------------------------------------------------------------------------------------------
# Accumulators


def _layer_macs(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> tuple[int, int]:
    """(dense MACs of this call, rows = input positions that each see the full fan-in)."""
    if isinstance(module, nn.Linear):
        rows = x.numel() // module.in_features
        return rows * module.in_features * module.out_features, rows
    # Conv: every output element is a dot product of (in / groups) x kernel taps.
    fan_in = module.in_channels // module.groups * math.prod(module.kernel_size)
    return out.numel() * fan_in, x.shape[0]


class _WeightLayer:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.v = dict.fromkeys(_LAYER_FIELDS, 0.0)
        self.lo, self.hi = math.inf, -math.inf
        self.integer = True  # every input seen so far was integer-valued
        self.elements = 0
        self.macs = 0
        self.steps = 1

    def add(self, x: torch.Tensor, macs: int) -> None:
        n = x.numel()
        if n == 0:
            return
        # Three reductions and one host sync per call; a fourth pass (frac) only for inputs that
        # are not binary. Values in [0, 1] whose sum equals their count are all 0 or 1. The sum
        # is in x's dtype (a float64 sum costs a conversion pass): exact for spikes, and an
        # input only passes for binary wrongly if its fractional deficit is below the sum's
        # rounding error (~1e-6 x count), i.e. a binary tensor but for a few values near 1.
        lo_t, hi_t = torch.aminmax(x)
        nonzero, total, lo, hi = torch.stack(
            [_count(x), x.sum().to(_F64), lo_t.to(_F64), hi_t.to(_F64)]
        ).tolist()
        binary = lo >= 0 and hi <= 1 and total == nonzero
        integer = binary or not x.is_floating_point() or not torch.frac(x).any().item()
        sops = nonzero * (macs / n)  # input rate x dense MACs
        v = self.v
        v["nonzero"] += nonzero
        v["sum"] += total
        v["sops_paper" if integer else "macs_paper"] += sops if integer else macs
        v["sops_strict" if binary else "macs_strict"] += sops if binary else macs
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        self.integer = self.integer and integer
        self.elements += n
        self.macs += macs

    def row(self, samples: int, e_mac: float, e_ac: float) -> dict[str, Any]:
        v, per = self.v, 1.0 / max(samples, 1)
        elements = max(self.elements, 1)
        seen = self.elements > 0
        macs = self.macs * per
        return {
            "name": self.name,
            "type": self.kind,
            "macs": macs,
            "time_steps": self.steps,
            "macs_per_step": macs / self.steps,
            "input_rate": v["nonzero"] / elements,
            "input_mean": v["sum"] / elements,
            "input_min": self.lo if seen else 0.0,
            "input_max": self.hi if seen else 0.0,
            "integer": seen and self.integer,
            "binary": seen and self.integer and self.lo >= 0 and self.hi <= 1,
            "sops_paper": v["sops_paper"] * per,
            "macs_paper": v["macs_paper"] * per,
            "sops_strict": v["sops_strict"] * per,
            "macs_strict": v["macs_strict"] * per,
            "energy_paper_j": (e_mac * v["macs_paper"] + e_ac * v["sops_paper"]) * per,
            "energy_strict_j": (e_mac * v["macs_strict"] + e_ac * v["sops_strict"]) * per,
        }


class _AttentionProduct:
    def __init__(self, name: str, is_float: bool) -> None:
        self.name, self.is_float = name, is_float
        self.dense = 0
        self.acs: torch.Tensor | float = 0.0

    def row(self, samples: int, e_mac: float, e_ac: float, steps: int) -> dict[str, Any]:
        per = 1.0 / max(samples, 1)
        acs = float(self.acs) * per
        macs = self.dense * per if self.is_float else 0.0
        dense = self.dense * per
        energy = e_mac * macs + e_ac * acs
        return {
            "name": self.name,
            "type": "attention_float" if self.is_float else "attention_spike",
            "macs": dense,
            "time_steps": steps,
            "macs_per_step": dense / steps,
            # spike products: the fraction of dense products that are performed as ACs
            "input_rate": acs / dense if dense and not self.is_float else None,
            "input_mean": None,
            "input_min": None,
            "input_max": None,
            "integer": None,
            "binary": None,
            "sops_paper": acs,
            "macs_paper": macs,
            "sops_strict": acs,
            "macs_strict": macs,
            "energy_paper_j": energy,
            "energy_strict_j": energy,
        }


class _Rate:
    def __init__(self) -> None:
        self.spikes: torch.Tensor | None = None
        self.elements = 0

    def add(self, out: torch.Tensor) -> None:
        s = _count(out.detach())  # spikes are 0/1: the count is the sum, exact and cheap
        self.spikes = s if self.spikes is None else self.spikes + s
        self.elements += out.numel()


# --------------------------------------------------------------------------------------------
# Report and meter


@dataclass
class EnergyReport:
    """Per-image averages. `layers`: one dict per weight layer and attention product, in call
    order; `firing_rates`: neuron module path -> mean output rate; `totals`: see EnergyMeter."""

    layers: list[dict[str, Any]]
    firing_rates: dict[str, float]
    totals: dict[str, float]
    samples: int = 0
    T: int = 1
    e_mac: float = E_MAC
    e_ac: float = E_AC
    notes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "T": self.T,
            "e_mac_j": self.e_mac,
            "e_ac_j": self.e_ac,
            "totals": dict(self.totals),
            "firing_rates": dict(self.firing_rates),
            "layers": [dict(r) for r in self.layers],
            "notes": dict(self.notes),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        t = self.totals
        return (
            f"{self.samples} images, T={self.T}: paper {t['energy_paper_j'] * 1e3:.4f} mJ "
            f"({t['sops_paper'] / 1e9:.4f} G SOPs + {t['macs_analog'] / 1e9:.4f} G MACs); "
            f"strict {t['energy_strict_j'] * 1e3:.4f} mJ; ANN {t['ann_energy_j'] * 1e3:.4f} mJ "
            f"({t['macs_dense'] / 1e9:.4f} G MACs); mean firing rate {t['mean_firing_rate']:.4f}"
        )


NOTES = {
    "energy_paper_j": "E_MAC x MACs of non-integer-input layers and float attention + "
    "E_AC x SOPs, SOPs = input fraction non-zero x dense MACs (Spikformer paper).",
    "energy_strict_j": "as paper, but a layer whose input is not binary costs dense MACs "
    "(spikingjelly op_counter).",
    "attention_sops": "spike x spike: non-zero products; spike x integer: nnz(spike) x row "
    "length; gates: one per spike of the gated tensor.",
    "macs_dense": "every counted operation as a dense MAC over all T steps (ANN equivalent).",
}


class EnergyMeter:
    """Hooks a model; accumulates operation counts over any number of forward passes.

    `T` (time steps) only labels `macs_per_step`; it defaults to `model.cfg.T` when the model
    has one. The number of images is read from the first dimension of the model's first input.
    Use as a context manager, or call `close()` to remove the hooks.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        T: int | None = None,
        e_mac: float = E_MAC,
        e_ac: float = E_AC,
    ) -> None:
        self.model = model
        self.T = T if T is not None else int(getattr(getattr(model, "cfg", None), "T", 1))
        self.e_mac, self.e_ac = e_mac, e_ac
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._layers: dict[str, _WeightLayer] = {}
        self._rates: dict[str, _Rate] = {}
        self._products: dict[str, _AttentionProduct] = {}
        self._order: list[str] = []  # first-call order of layers and attention products
        self._batch = 0
        self.samples = 0
        self._hook_model()

    # -- hooks ---------------------------------------------------------------------------------

    def _hook_model(self) -> None:
        self._handles.append(self.model.register_forward_pre_hook(self._count_samples))
        for name, module in self.model.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                layer = _WeightLayer(name, type(module).__name__)
                self._handles.append(module.register_forward_hook(self._layer_hook(layer)))
            elif isinstance(module, BaseNode):
                self._rates[name] = _Rate()
                self._handles.append(module.register_forward_hook(self._rate_hook(name)))
            rule = attention_rule(module)
            if rule is not None:
                self._hook_attention(name, module, rule)

    def _count_samples(self, module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() > 0:
            self._batch = args[0].shape[0]
            self.samples += self._batch

    def _layer_hook(self, layer: _WeightLayer) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            x = inputs[0]
            macs, rows = _layer_macs(module, x, output)
            if layer.name not in self._layers:
                self._layers[layer.name] = layer
                self._order.append(layer.name)
            # A layer whose rows are a multiple of T x batch runs once per time step (the head,
            # which sees time-averaged features, runs once).
            if self._batch and self.T > 1:
                layer.steps = self.T if rows % (self.T * self._batch) == 0 else 1
            with torch.no_grad():
                layer.add(x.detach(), macs)

        return hook

    def _rate_hook(self, name: str) -> Callable:
        rate = self._rates[name]

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            with torch.no_grad():
                rate.add(output)

        return hook

    def _hook_attention(self, name: str, module: nn.Module, rule: AttentionRule) -> None:
        captured: dict[str, torch.Tensor] = {}
        for sub in rule.captures:
            child = getattr(module, sub, None)
            if not isinstance(child, nn.Module):
                raise TypeError(
                    f"Energy rule for {type(module).__name__} reads submodule '{sub}', "
                    f"which {name or 'the model'} does not have; update ATTENTION_RULES."
                )

            def keep(m: nn.Module, i: tuple, out: torch.Tensor, sub: str = sub) -> None:
                captured[sub] = out.detach()  # a reference, not a copy; dropped after the call

            self._handles.append(child.register_forward_hook(keep))

        def count(m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            missing = [s for s in rule.captures if s not in captured]
            if missing:
                raise RuntimeError(
                    f"{type(m).__name__} at '{name}' ran without calling {missing}; the energy "
                    "rule cannot see its spikes (update ATTENTION_RULES)."
                )
            with torch.no_grad():
                ops = rule.ops(m, inputs[0], captured)
            captured.clear()
            for op in ops:
                key = f"{name}[{op.name}]"
                product = self._products.get(key)
                if product is None:
                    product = self._products[key] = _AttentionProduct(key, op.is_float)
                    self._order.append(key)
                product.dense += op.dense
                product.acs = product.acs + op.acs

        self._handles.append(module.register_forward_hook(count))

    # -- public --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything counted so far (hooks stay)."""
        self._layers.clear()
        self._products.clear()
        self._order.clear()
        for name in self._rates:
            self._rates[name] = _Rate()
        self.samples = 0

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> EnergyMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def report(self) -> EnergyReport:
        """Per-image averages over every sample seen since construction or `reset()`.

        totals: macs_dense, ann_energy_j, sops_paper, macs_analog (MACs of layers whose input is
        not integer-valued, e.g. the first conv, plus float attention products), energy_paper_j,
        sops_strict, macs_strict, energy_strict_j, attention_sops, attention_macs,
        mean_firing_rate.
        """
        rows = []
        for key in self._order:
            if key in self._layers:
                rows.append(self._layers[key].row(self.samples, self.e_mac, self.e_ac))
            else:
                product = self._products[key]
                rows.append(product.row(self.samples, self.e_mac, self.e_ac, self.T))

        def total(k: str, only: Callable[[dict], bool] = lambda r: True) -> float:
            return float(sum(r[k] for r in rows if only(r)))

        def is_attention(r: dict) -> bool:
            return r["type"].startswith("attention")

        spikes = sum(float(r.spikes) for r in self._rates.values() if r.spikes is not None)
        units = sum(r.elements for r in self._rates.values())
        rates = {
            name: float(r.spikes) / r.elements
            for name, r in self._rates.items()
            if r.spikes is not None and r.elements
        }
        macs_dense = total("macs")
        totals = {
            "macs_dense": macs_dense,
            "ann_energy_j": self.e_mac * macs_dense,
            "sops_paper": total("sops_paper"),
            "macs_analog": total("macs_paper"),
            "energy_paper_j": total("energy_paper_j"),
            "sops_strict": total("sops_strict"),
            "macs_strict": total("macs_strict"),
            "energy_strict_j": total("energy_strict_j"),
            "attention_sops": total("sops_paper", is_attention),
            "attention_macs": total("macs_paper", is_attention),
            "mean_firing_rate": spikes / units if units else 0.0,
        }
        return EnergyReport(
            layers=rows,
            firing_rates=rates,
            totals=totals,
            samples=self.samples,
            T=self.T,
            e_mac=self.e_mac,
            e_ac=self.e_ac,
            notes=dict(NOTES),
        )


def measure_energy(model: nn.Module, x: torch.Tensor, *, T: int | None = None) -> EnergyReport:
    """Energy report of one batch, in eval mode without gradients (the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        with EnergyMeter(model, T=T) as meter, torch.no_grad():
            model(x)
        return meter.report()
    finally:
        model.train(was_training)


def calibrate_bn(model: nn.Module, batches: list[torch.Tensor]) -> None:
    """Set every BatchNorm's running statistics to the cumulative average over `batches`
    (train-mode forwards, no gradients). An untrained model's BN buffers (mean 0, var 1) leave
    it almost silent, so energy "at initialisation" is measured both with and without this."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    try:
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)


def main(argv: list[str] | None = None) -> None:
    """`python -m components.energy [preset] [--batch 8] [--json]`: energy of a preset at
    initialisation on random normalised images (torch.manual_seed(0), eval mode)."""
    import argparse

    from components.presets import create_model, get_preset

    parser = argparse.ArgumentParser(prog="python -m components.energy", description=main.__doc__)
    parser.add_argument("preset", nargs="?", default="cifar10-4-384")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--calibrate-bn",
        type=int,
        default=0,
        metavar="K",
        help="first set BN statistics from K other random batches",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cfg = get_preset(args.preset).model
    torch.manual_seed(0)
    model = create_model(args.preset)
    x = torch.randn(args.batch, cfg.in_channels, cfg.img_size, cfg.img_size)
    if args.calibrate_bn:
        calibrate_bn(model, [torch.randn_like(x) for _ in range(args.calibrate_bn)])
    report = measure_energy(model, x)
    if args.json:
        print(report.to_json(indent=2))
        return
    print(report.summary())
    print(f"{'layer':<40} {'type':<16} {'MACs':>12} {'rate':>7} {'SOPs':>12} {'E paper uJ':>10}")
    for r in report.layers:
        rate = "-" if r["input_rate"] is None else f"{r['input_rate']:.4f}"
        print(
            f"{r['name']:<40} {r['type']:<16} {r['macs']:>12.4g} {rate:>7} "
            f"{r['sops_paper']:>12.4g} {r['energy_paper_j'] * 1e6:>10.3f}"
        )


if __name__ == "__main__":
    main()
