"""The energy ladder of each variant: mean energy per image under every model of
components/energy (trained weights, real test split), and how many times its ANN twin's."""

from __future__ import annotations

import statistics
from typing import Any

from bench.report.fmt import markdown_table, variant_name
from bench.results import Study, ladder_of

__all__ = ["section_ladder"]


def _energy(mj: float) -> str:
    return f"{mj * 1e3:.3g} uJ" if mj < 0.1 else f"{mj:.3g} mJ"


def section_ladder(study: Study) -> str | None:
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for rec in study.records:
        ladder = ladder_of(rec) if rec.get("status") == "complete" else None
        if ladder is not None:
            by_variant.setdefault(str(rec.get("variant")), []).append(ladder)
    if not by_variant or study.kind == "search":
        return None
    models = list(next(iter(by_variant.values()))[0]["energy_mj"])
    rows = []
    for variant in [v for v in study.variants if v in by_variant]:
        ladders = by_variant[variant]
        row: list[Any] = [variant_name(variant, study.baseline), len(ladders)]
        for m in models:
            mj = statistics.mean(lad["energy_mj"][m] for lad in ladders)
            twin = statistics.mean(lad["x_ann_twin"][m] for lad in ladders)
            row.append(_energy(mj) if m == "ann_twin" else f"{_energy(mj)} ({twin:.2g}x)")
        rows.append(row)
    source = next(iter(by_variant.values()))[0].get("source") or "trained weights, test split"
    return "\n".join(
        [
            "## Energy ladder",
            "",
            f"Theoretical energy per image, mean over seeds, from {source}; in brackets the "
            "ratio to the same architecture as an ANN (ReLU, dense MACs) under the same model. "
            "None of these is a hardware measurement: `paper` is the Spikformer convention "
            "(45 nm, 4.6 pJ/MAC, 0.9 pJ/AC), `paper_once` counts the first layer once, `strict` "
            "prices non-binary inputs as MACs, `value_weighted` an integer k as k ACs, `memory` "
            "adds SRAM reads and writes (Lemaire et al. 2022), `fp16`/`int8` use Horowitz's "
            "operation costs. Compare any entry with `--compare energy_<model>_mj`.",
            "",
            markdown_table(["variant", "n", *models], rows),
        ]
    )
