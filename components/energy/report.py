"""EnergyReport: the totals, firing rates and rows that training records store every run.

Totals (per image; record keys, `bench/results.py` reads the first four):
    energy_paper_j, energy_strict_j   the `paper` and `strict` models of the ladder (J)
    sops_paper                        ACs under the paper's convention (SOPs)
    mean_firing_rate                  spikes / neuron outputs over every neuron
    energy_<model>_j                  every model of the ladder (paper_once, value_weighted,
                                      memory, fp16, int8, ann_twin), J per image
    macs_dense                        every counted operation as a dense MAC over all T steps
    ann_energy_j                      E_MAC x macs_dense (dense work over T; the ANN twin, at
                                      T = 1, is energy_ann_twin_j)
    macs_analog                       MACs of the paper's convention (analog inputs, float
                                      attention)
    sops_strict, macs_strict          ACs and MACs of the strict convention
    attention_sops, attention_macs    the attention products' share of sops_paper / MACs
Attention products are counted in the (QK^T)V order here; the ladder can take the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from components.energy.counts import Counts, layer_row
from components.energy.declare import QK_FIRST
from components.energy.ladder import ladder, price
from components.energy.models import E_AC, E_MAC, LADDER, layer_ops, product_ops


@dataclass
class EnergyReport:
    """Per-image averages. `layers`: one row per weight layer and attention product, in call
    order; `firing_rates`: neuron module path -> mean output rate; `counts`: what every energy
    model reads (`ladder()` prices them all)."""

    layers: list[dict[str, Any]]
    firing_rates: dict[str, float]
    totals: dict[str, float]
    samples: int = 0
    T: int = 1
    e_mac: float = E_MAC
    e_ac: float = E_AC
    notes: dict[str, str] = field(default_factory=dict)
    counts: Counts | None = None
    source: str = ""  # what was measured, e.g. "trained weights, test split"

    def ladder(self, source: str | None = None, order: str = QK_FIRST) -> dict[str, Any]:
        """The full ladder (components/energy/ladder.py) of the counts behind this report;
        `source` defaults to the report's own."""
        if self.counts is None:
            raise ValueError("This report holds no counts; build it with EnergyMeter.report().")
        return ladder(self.counts, order=order, source=self.source if source is None else source)

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
            **({"ladder": self.ladder()} if self.counts is not None else {}),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        t = self.totals
        return (
            f"{self.samples} images, T={self.T}: paper {t['energy_paper_j'] * 1e3:.4f} mJ "
            f"({t['sops_paper'] / 1e9:.4f} G SOPs + {t['macs_analog'] / 1e9:.4f} G MACs); "
            f"strict {t['energy_strict_j'] * 1e3:.4f} mJ; memory "
            f"{t['energy_memory_j'] * 1e3:.4f} mJ; ANN twin {t['energy_ann_twin_j'] * 1e3:.4f}"
            f" mJ; mean firing rate {t['mean_firing_rate']:.4f}"
        )


NOTES = {
    "energy_paper_j": "E_MAC x MACs of analog-input layers and float attention + E_AC x SOPs, "
    "SOPs = input fraction non-zero x dense MACs (Spikformer paper); first conv T times.",
    "energy_strict_j": "only binary inputs make ACs (exact weight uses); integer and analog "
    "inputs cost dense MACs (spikingjelly op_counter).",
    "attention": "products declared by each attention class, counted in the (QK^T)V order.",
    "macs_dense": "every counted operation as a dense MAC over all T steps.",
    "energy_ann_twin_j": "same architecture with ReLU, T = 1, dense fp32 MACs.",
}


def _rows(counts: Counts) -> list[dict[str, Any]]:
    rows = []
    for layer in counts.layers:
        row = layer_row(layer)
        for convention in ("paper", "strict"):
            macs, acs = layer_ops(layer, convention)
            row[f"macs_{convention}"], row[f"sops_{convention}"] = macs, acs
        rows.append(row)
    for p in counts.products:
        rows.append(
            {
                "name": p.name,
                "component": p.component,
                "type": "attention_float" if p.is_float else "attention_spike",
                "order": p.order,
                "time_steps": p.steps,
                "dense_macs": p.dense,
                "effective_acs": 0.0 if p.is_float else p.acs,
                "effective_macs": p.dense if p.is_float else 0.0,
                "weighted_acs": p.weighted,
                "macs_paper": p.dense if p.is_float else 0.0,
                "sops_paper": 0.0 if p.is_float else p.acs,
            }
        )
    return rows


def report_from_counts(counts: Counts) -> EnergyReport:
    """The legacy report of one image's counts, with every ladder model in its totals."""
    products = counts.products_in(QK_FIRST)
    totals: dict[str, float] = {}
    for convention in ("paper", "strict"):
        macs = sum(layer_ops(layer, convention)[0] for layer in counts.layers)
        acs = sum(layer_ops(layer, convention)[1] for layer in counts.layers)
        totals[f"macs_{convention}"] = macs + sum(product_ops(p, convention)[0] for p in products)
        totals[f"sops_{convention}"] = acs + sum(product_ops(p, convention)[1] for p in products)
    totals["macs_analog"] = totals.pop("macs_paper")
    dense = sum(layer.total("dense") for layer in counts.layers) + sum(p.dense for p in products)
    totals["macs_dense"] = dense
    totals["ann_energy_j"] = E_MAC * dense
    totals["attention_sops"] = sum(p.acs for p in products if not p.is_float)
    totals["attention_macs"] = sum(p.dense for p in products if p.is_float)
    for name in LADDER:
        totals[f"energy_{name}_j"] = sum(price(counts, name)[0].values()) * 1e-12
    spikes = sum(n.spikes for n in counts.neurons)
    units = sum(n.elements for n in counts.neurons)
    totals["mean_firing_rate"] = spikes / units if units else 0.0
    return EnergyReport(
        layers=_rows(counts),
        firing_rates={n.name: n.spikes / n.elements for n in counts.neurons if n.elements},
        totals=totals,
        samples=counts.samples,
        T=counts.T,
        notes=dict(NOTES),
        counts=counts,
    )
