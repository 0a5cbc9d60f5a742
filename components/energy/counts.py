"""Per-image operation counts of a metered model, and their sums per component.

Names follow NeuroBench (Yik et al., Nature Communications 2025) where it has one:
`dense_macs` (Dense), `effective_acs` (Eff_ACs: synaptic operations with a binary input),
`effective_macs` (Eff_MACs: with a non-binary input), `membrane_updates`,
`activation_sparsity`, `params` (parameter count), `footprint_bytes` (parameters and buffers),
`connection_sparsity` (fraction of zero weights). Effective operations count the
(non-zero input, weight) pairs a layer multiplies, exactly as spikingjelly's SynOpCounter
does (border taps of a padded conv included); NeuroBench also skips zero weights, which a
trained fp32 network does not have (its connection sparsity is reported beside).

`sops` is the paper's count, input rate x dense MACs (= rate x T x MACs per step): the same as
the effective count for a Linear, a little more at the borders of a padded conv.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from components.energy.declare import KV_FIRST, QK_FIRST

COMPONENTS = ("stem", "qkv", "attention", "proj", "mlp", "head", "other")
INPUT_KINDS = ("binary", "integer", "analog")  # spikes, small integers (SEW), anything else


@dataclass
class Bucket:
    """Sums over the calls of one weight layer whose input was of one kind."""

    calls: float = 0.0  # calls (per image once scaled)
    dense: float = 0.0  # MACs of a dense implementation (all time steps)
    dense_once: float = 0.0  # dense, with a layer whose input repeats over steps run once
    elements: float = 0.0  # input elements
    nonzero: float = 0.0  # non-zero input elements
    abs_sum: float = 0.0  # sum of |input|
    effective: float = 0.0  # (non-zero input, weight) pairs multiplied
    sops: float = 0.0  # non-zero inputs x mean fan-out (rate x dense MACs)
    weighted: float = 0.0  # |input| x mean fan-out (an integer k counts k times)
    outputs: float = 0.0  # output elements

    def add(self, **values: float) -> None:
        for key, value in values.items():
            setattr(self, key, getattr(self, key) + value)

    def scaled(self, factor: float) -> Bucket:
        return Bucket(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


@dataclass
class LayerCounts:
    """One nn.Linear / nn.Conv layer, per image. `taps`: out channels x kernel taps of a conv
    (0 for a Linear), which an address generator walks once per dense call."""

    name: str
    component: str
    kind: str  # module class name
    steps: int  # time steps it runs (T, or 1 for the head)
    buckets: dict[str, Bucket]
    weight_elements: int
    weight_zeros: int
    bias_elements: int
    taps: int = 0
    in_min: float = 0.0
    in_max: float = 0.0

    def total(self, key: str) -> float:
        return sum(getattr(b, key) for b in self.buckets.values())

    @property
    def params(self) -> int:
        return self.weight_elements + self.bias_elements


@dataclass
class NeuronCounts:
    """One spiking neuron module, per image: `elements` membrane updates (units x steps)."""

    name: str
    component: str
    elements: float
    spikes: float
    steps: int
    leaky: bool


@dataclass
class ProductCounts:
    """One declared attention product, per image (see declare.Product)."""

    name: str
    component: str
    dense: float
    acs: float
    weighted: float
    is_float: bool
    order: str | None
    buffer: int
    steps: int  # time steps the product ran (the model's T)


@dataclass
class Counts:
    """Everything the energy models read. `T` is the model's time steps."""

    layers: list[LayerCounts]
    neurons: list[NeuronCounts]
    products: list[ProductCounts]
    samples: int
    T: int
    params: dict[str, int] = field(default_factory=dict)  # per component
    footprint_bytes: dict[str, int] = field(default_factory=dict)  # per component

    def products_in(self, order: str = QK_FIRST) -> list[ProductCounts]:
        """The products of one evaluation order (plus those common to every order)."""
        return [p for p in self.products if p.order in (None, order)]


def component_of(path: str, attention: dict[str, Any], child_component: Any) -> str:
    """Component of a module path: stem / head by name, children of an attention module by
    its declaration, anything inside an `mlp` by name, else "other"."""
    parts = path.split(".")
    if parts[0] in ("stem", "head"):
        return parts[0]
    for prefix, module in attention.items():
        if path.startswith(prefix + ".") and prefix:
            return child_component(module, path[len(prefix) + 1 :].split(".")[0])
    return "mlp" if "mlp" in parts else "other"


def _empty() -> dict[str, float]:
    keys = (
        "dense_macs",
        "effective_acs",
        "effective_macs",
        "sops",
        "membrane_updates",
        "ann_twin_macs",
        "spikes",
        "neurons_elements",
        "weight_elements",
        "weight_zeros",
    )
    return dict.fromkeys(keys, 0.0)


def component_counts(counts: Counts, order: str = QK_FIRST) -> dict[str, dict[str, Any]]:
    """NeuroBench-named counts per component (and "total"), attention products in `order`,
    plus the attention's figures in both orders under "attention_orders". `ann_twin_macs`:
    the dense MACs of the ANN twin (T = 1) of the same items."""
    acc: dict[str, dict[str, float]] = {}
    for layer in counts.layers:
        c = acc.setdefault(layer.component, _empty())
        c["dense_macs"] += layer.total("dense")
        c["effective_acs"] += layer.buckets["binary"].effective
        c["effective_macs"] += layer.total("effective") - layer.buckets["binary"].effective
        c["sops"] += layer.buckets["binary"].sops + layer.buckets["integer"].sops
        c["ann_twin_macs"] += layer.total("dense") / layer.steps
        c["weight_elements"] += layer.weight_elements
        c["weight_zeros"] += layer.weight_zeros
    for p in counts.products_in(order):
        c = acc.setdefault(p.component, _empty())
        c["dense_macs"] += p.dense
        c["effective_macs" if p.is_float else "effective_acs"] += p.dense if p.is_float else p.acs
        c["sops"] += 0.0 if p.is_float else p.acs
        c["ann_twin_macs"] += p.dense / p.steps
    for n in counts.neurons:
        c = acc.setdefault(n.component, _empty())
        c["membrane_updates"] += n.elements
        c["spikes"] += n.spikes
        c["neurons_elements"] += n.elements
    names = [k for k in COMPONENTS if k in acc or k in counts.params]
    total = _empty()
    for k in names:
        for key in total:
            total[key] += acc.get(k, _empty())[key]
    out = {k: _finish(acc.get(k, _empty()), counts, k) for k in names}
    out["total"] = _finish(total, counts, None)
    out["attention_orders"] = attention_orders(counts)
    return out


def _finish(sums: dict[str, float], counts: Counts, component: str | None) -> dict[str, Any]:
    c = dict(sums)
    spikes, elements = c.pop("spikes"), c.pop("neurons_elements")
    weights, zeros = c.pop("weight_elements"), c.pop("weight_zeros")
    params = counts.params if component is None else {component: counts.params.get(component, 0)}
    foot = counts.footprint_bytes
    foot = foot if component is None else {component: foot.get(component, 0)}
    return {
        **c,
        "activation_sparsity": 1.0 - spikes / elements if elements else None,
        "params": int(sum(params.values())),
        "footprint_bytes": int(sum(foot.values())),
        "connection_sparsity": zeros / weights if weights else None,
    }


def attention_orders(counts: Counts) -> dict[str, dict[str, float]]:
    """Dense MACs and effective ACs/MACs of the attention products in each evaluation order
    (orders an attention does not have carry only its order-free products)."""
    out = {}
    for order in (QK_FIRST, KV_FIRST):
        ps = counts.products_in(order)
        out[order] = {
            "dense_macs": sum(p.dense for p in ps),
            "effective_acs": sum(p.acs for p in ps if not p.is_float),
            "effective_macs": sum(p.dense for p in ps if p.is_float),
        }
    return out


def layer_row(layer: LayerCounts) -> dict[str, Any]:
    """A JSON-ready per-layer row (per image)."""
    b = layer.buckets
    elements = layer.total("elements")
    return {
        "name": layer.name,
        "component": layer.component,
        "type": layer.kind,
        "time_steps": layer.steps,
        "dense_macs": layer.total("dense"),
        "effective_acs": b["binary"].effective,
        "effective_macs": layer.total("effective") - b["binary"].effective,
        "sops": b["binary"].sops + b["integer"].sops,
        "input_rate": layer.total("nonzero") / elements if elements else 0.0,
        "input_mean": layer.total("abs_sum") / elements if elements else 0.0,
        "input_min": layer.in_min,
        "input_max": layer.in_max,
        "input_kinds": [k for k, v in b.items() if v.calls],
        "params": layer.params,
        "buckets": {k: asdict(v) for k, v in b.items() if v.calls},
    }
