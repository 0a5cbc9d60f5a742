"""Energy figures for the report: where each variant spends its energy, per component.

    frame = energy_frame(study.records)          # tidy: variant, seed, model, component, mJ
    plot_energy_components(frame, out / "energy_components.png", model="memory")

A record's ladder is `record["energy"]["ladder"]` (EnergyReport.to_dict) or
`record["energy_ladder"]` (components/energy.measure_ladder); records without one are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from bench.results import ladder_of
from components.energy import COMPONENTS

__all__ = ["energy_frame", "plot_energy_components"]

DPI = 150
COLUMNS = ["variant", "seed", "model", "component", "energy_mj"]


def energy_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (record, energy model, component): energy in mJ per image. The variant is
    the record's "variant" (set by bench.results for a study), else its run id."""
    rows = []
    for rec in records:
        lad = ladder_of(rec)
        if lad is None:
            continue
        variant = str(rec.get("variant") or rec.get("run_id", "?"))
        for model, parts in lad["energy_mj_by_component"].items():
            for component, mj in parts.items():
                rows.append((variant, rec.get("seed", 0), model, component, float(mj)))
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_energy_components(frame: pd.DataFrame, out: Path, model: str = "paper") -> Path:
    """Stacked bar per variant of its mean energy per component (over seeds) under `model`."""
    sub = frame[frame["model"] == model]
    if sub.empty:
        have = ", ".join(sorted(frame["model"].unique())) or "none"
        raise ValueError(f"No energy for model '{model}' in the frame; models present: {have}.")
    per_seed = sub.groupby(["variant", "seed", "component"], sort=False)["energy_mj"].sum()
    mean = per_seed.groupby(["variant", "component"], sort=False).mean().unstack(fill_value=0.0)
    mean = mean[[c for c in COMPONENTS if c in mean.columns]]
    seeds = sub.groupby("variant", sort=False)["seed"].nunique()
    fig = Figure(figsize=(max(4.0, 1.1 * len(mean) + 2.0), 3.8), dpi=DPI)
    ax = fig.add_subplot()
    bottom = pd.Series(0.0, index=mean.index)
    for component in mean.columns:
        ax.bar(mean.index, mean[component], bottom=bottom, label=component)
        bottom = bottom + mean[component]
    ax.set_xticks(range(len(mean)), [f"{v}\n(n={seeds[v]})" for v in mean.index], fontsize=8)
    ax.set_ylabel(f"energy per image, {model} model (mJ)")
    ax.set_title(f"energy per component (mean over seeds), model: {model}", fontsize="small")
    ax.legend(fontsize="x-small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
