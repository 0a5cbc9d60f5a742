"""The ladder: every registered energy model applied to one image's counts, per component.

    result = ladder(meter.counts(), source="trained weights, test split")
    result["energy_mj"]["memory"], result["x_ann_twin"]["paper"], result["counts"]["mlp"]

Attention products enter in one evaluation order (`order`, default (QK^T)V: the authors'
CIFAR/DVS code and the paper's count); `counts["attention_orders"]` gives both.
"""

from __future__ import annotations

from typing import Any

from components.energy.counts import COMPONENTS, Counts, component_counts, layer_row
from components.energy.declare import ORDERS, QK_FIRST
from components.energy.models import ENERGY_MODELS, LADDER

_PJ_TO_MJ = 1e-9


def price(counts: Counts, model: str, order: str = QK_FIRST) -> tuple[dict, dict]:
    """(SNN, ANN twin) energy per component in pJ per image under registered `model`."""
    if order not in ORDERS:
        raise ValueError(f"Unknown attention order {order!r}; use one of {', '.join(ORDERS)}.")
    m = ENERGY_MODELS.build(model)
    snn: dict[str, float] = {}
    twin: dict[str, float] = {}

    def add(table: dict[str, float], component: str, value: float) -> None:
        table[component] = table.get(component, 0.0) + value

    for layer in counts.layers:
        add(snn, layer.component, m.layer(layer))
        add(twin, layer.component, m.twin_layer(layer))
    for neuron in counts.neurons:
        add(snn, neuron.component, m.neuron(neuron))
    for p in counts.products_in(order):
        add(snn, p.component, m.product(p))
        add(twin, p.component, m.twin_product(p))
    return _ordered(snn), _ordered(twin)


def _ordered(table: dict[str, float]) -> dict[str, float]:
    return {k: table[k] for k in COMPONENTS if k in table}


def describe(model: str) -> dict[str, Any]:
    """A model's constants, source and one-line description (registry metadata + docstring)."""
    doc = (ENERGY_MODELS.get(model).__doc__ or "").strip()
    return {**ENERGY_MODELS.meta(model), "description": " ".join(doc.split())}


def ladder(
    counts: Counts,
    *,
    order: str = QK_FIRST,
    source: str = "",
    models: tuple[str, ...] = LADDER,
) -> dict[str, Any]:
    """JSON-ready ladder of one image's counts: per-component counts, energy per model (mJ
    per image), its split per component, the ANN twin's energy under each model and the
    ratio SNN / twin (None when the twin costs nothing)."""
    energy, by_component, twin_mj, ratio = {}, {}, {}, {}
    for name in models:
        snn, twin = price(counts, name, order)
        by_component[name] = {k: v * _PJ_TO_MJ for k, v in snn.items()}
        energy[name] = sum(snn.values()) * _PJ_TO_MJ
        twin_mj[name] = sum(twin.values()) * _PJ_TO_MJ
        ratio[name] = energy[name] / twin_mj[name] if twin_mj[name] else None
    return {
        "counts": component_counts(counts, order),
        "energy_mj": energy,
        "energy_mj_by_component": by_component,
        "ann_twin_mj": twin_mj,
        "x_ann_twin": ratio,
        "models": {name: describe(name) for name in models},
        "layers": [layer_row(layer) for layer in counts.layers],
        "per_image": True,
        "samples": counts.samples,
        "T": counts.T,
        "order": order,
        "source": source,
    }


def ladder_lines(result: dict[str, Any], label: str = "") -> list[str]:
    """One line per model: "paper 0.52 mJ per image = 0.31 x its ANN twin (1.70 mJ)"."""
    prefix = f"[{label}] " if label else ""
    lines = []
    for name, mj in result["energy_mj"].items():
        x = result["x_ann_twin"][name]
        vs = f" = {x:.3g} x its ANN twin ({result['ann_twin_mj'][name]:.4g} mJ)" if x else ""
        lines.append(f"{prefix}{name:<15} {mj:10.4g} mJ per image{vs}")
    return lines


def component_table(result: dict[str, Any], label: str = "") -> list[str]:
    """A fixed-width table: one row per component, dense MACs, ACs, MACs, sparsity, energy."""
    prefix = f"[{label}] " if label else ""
    models = list(result["energy_mj"])
    head = f"{'component':<10} {'dense MACs':>11} {'eff ACs':>11} {'eff MACs':>11} {'act.sp':>7}"
    lines = [prefix + head + "".join(f" {m[:10]:>10}" for m in models) + "  (mJ)"]
    for comp, c in result["counts"].items():
        if comp == "attention_orders":
            continue
        sp = c["activation_sparsity"]
        cells = [
            result["energy_mj_by_component"][m].get(comp)
            if comp != "total"
            else result["energy_mj"][m]
            for m in models
        ]
        lines.append(
            prefix
            + f"{comp:<10} {c['dense_macs']:>11.4g} {c['effective_acs']:>11.4g} "
            + f"{c['effective_macs']:>11.4g} {'-' if sp is None else f'{sp:.4f}':>7}"
            + "".join(f" {'-' if v is None else f'{v:.4g}':>10}" for v in cells)
        )
    return lines
