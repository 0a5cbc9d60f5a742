"""Per-seed figures of an ablation: the paired differences with the baseline (the answer, the
first figure of a report) and every seed's value per variant."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench import stats
from bench.figures.common import (
    BASELINE_COLOR,
    complete,
    n_text,
    palette,
    present,
    save,
    set_variant_ticks,
    style,
)
from bench.report.metrics import Unit, display_unit, metric_label

__all__ = ["plot_paired_differences", "plot_seeds"]

log = logging.getLogger(__name__)

_VERDICT_COLORS = {"better": "tab:green", "worse": "tab:red", "equivalent": "tab:blue"}


def _seed_points(
    ax: Any, df: pd.DataFrame, variants: list[Any], summary: pd.DataFrame, baseline: Any
) -> None:
    """Seeds joined across variants, jittered seed dots, mean and CI beside them."""
    x = {v: i for i, v in enumerate(variants)}
    colors = palette(variants)
    for _, grp in df.groupby("seed"):  # paired seeds: do the variants move together?
        grp = grp.assign(_x=grp["variant"].map(x)).sort_values("_x")
        ax.plot(grp["_x"], grp["_y"], color="0.75", lw=0.7, zorder=1)
    rng = np.random.default_rng(0)  # fixed jitter: regenerated plots are identical
    for v in variants:
        vals = df.loc[df["variant"] == v, "_y"].to_numpy(float)
        ax.scatter(
            x[v] + rng.uniform(-0.06, 0.06, len(vals)),
            vals,
            s=22,
            color=colors[v],
            alpha=0.8,
            zorder=2,
            edgecolor="white",
            linewidth=0.5,
        )
        s = summary.loc[v]
        err = np.array([[s["mean"] - s["ci_low"]], [s["ci_high"] - s["mean"]]])
        ax.errorbar(
            x[v] + 0.22,
            s["mean"],
            yerr=None if np.isnan(err).any() else err,
            fmt="D" if v == baseline else "o",
            color="black",
            ms=6,
            capsize=4,
            zorder=3,
        )
    if baseline in x:
        ax.axvspan(x[baseline] - 0.4, x[baseline] + 0.4, color="0.92", zorder=0)
        ax.axhline(summary.loc[baseline, "mean"], color=BASELINE_COLOR, lw=0.8, ls="--", zorder=0)


def plot_seeds(
    runs: pd.DataFrame,
    metric: str,
    path: Path,
    *,
    baseline: str | None = None,
    variants: Sequence[str] | None = None,
) -> Path | None:
    """Every seed as a point per variant, the same seed joined across variants by a thin grey
    line, and the variant mean with its 95% t-CI. None when no run has the metric."""
    df = complete(runs).dropna(subset=[metric])
    if df.empty:
        log.info("skipping the %s seed plot: no finished run has a value.", metric)
        return None
    unit = display_unit(metric, df[metric])
    df = df.assign(_y=df[metric].map(unit))
    variants = present(variants, df["variant"])
    summary = stats.summarize(df, ["_y"], by=["variant"]).set_index("variant")
    with style():
        fig = Figure(figsize=(max(4.0, 1.1 * len(variants) + 2), 4.2), layout="constrained")
        ax = fig.add_subplot()
        _seed_points(ax, df, variants, summary, baseline)
        set_variant_ticks(ax, variants, baseline)
        ax.set_xlim(-0.6, len(variants) - 0.4)
        ax.set_ylabel(metric_label(metric, unit))
        counts = [int(summary.loc[v, "n"]) for v in variants]
        ax.set_title(
            f"{metric_label(metric, unit)}\ndots: seeds ({n_text(counts)}), grey lines "
            "join a seed; black: mean and 95% t-CI",
            fontsize="small",
        )
    return save(fig, path)


def _differences(runs: pd.DataFrame, metric: str, baseline: str) -> pd.DataFrame:
    """Seed x variant table of variant - baseline on the seeds both finished."""
    df = complete(runs).dropna(subset=[metric])
    wide = df.pivot_table(index="seed", columns="variant", values=metric, aggfunc="first")
    if baseline not in wide:
        return pd.DataFrame()
    return wide.drop(columns=baseline).sub(wide[baseline], axis=0)


def _diff_panel(ax: Any, diffs: pd.DataFrame, rows: pd.DataFrame, unit: Unit, label: str) -> None:
    """One metric: dots per seed, mean and CI of the family's row, the equivalence band."""
    variants = list(rows["variant"])
    margin = float(rows["margin"].iloc[0])
    if math.isfinite(margin):
        ax.axhspan(
            -unit(margin),
            unit(margin),
            color="tab:blue",
            alpha=0.12,
            lw=0,
            label=f"equivalence band ±{unit(margin):.3g}",
        )
    ax.axhline(0, color=BASELINE_COLOR, lw=0.9, ls="--", zorder=1)
    rng = np.random.default_rng(0)
    for i, (_, r) in enumerate(rows.iterrows()):
        vals = diffs[r["variant"]].dropna().map(unit).to_numpy(float)
        ax.scatter(
            i + rng.uniform(-0.07, 0.07, len(vals)),
            vals,
            s=20,
            color="0.45",
            alpha=0.8,
            zorder=2,
            edgecolor="white",
            linewidth=0.5,
        )
        lo, hi, mean = unit(r["ci_low"]), unit(r["ci_high"]), unit(r["diff"])
        err = None if not (math.isfinite(lo) and math.isfinite(hi)) else [[mean - lo], [hi - mean]]
        color = _VERDICT_COLORS.get(r["verdict_class"], "black")
        ax.errorbar(i + 0.25, mean, yerr=err, fmt="o", color=color, ms=6, capsize=4, zorder=3)
        ax.annotate(
            r["verdict_class"],
            (i + 0.25, 1.0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize="x-small",
            color=color,
        )
    set_variant_ticks(ax, variants)
    ax.set_xlim(-0.6, len(variants) - 0.4)
    ax.set_ylabel(f"variant - baseline\n{label}", fontsize="small")
    if math.isfinite(margin):
        ax.legend(fontsize="x-small", loc="lower right")


def plot_paired_differences(
    runs: pd.DataFrame, table: pd.DataFrame, baseline: str, path: Path
) -> Path | None:
    """Variant - baseline on each seed (grey dots), the mean difference with its 95% t-CI
    coloured by the verdict (from the Holm family's rows in `table`, i.e. stats.csv), and the
    equivalence band +-margin: one panel per tested metric. None without tested metrics."""
    metrics = [m for m in dict.fromkeys(table["metric"]) if m in runs.columns] if len(table) else []
    if not metrics:
        log.info("skipping the paired differences: no metric was tested.")
        return None
    with style():
        fig = Figure(
            figsize=(max(5.0, 1.2 * table["variant"].nunique() + 2.5), 3.0 * len(metrics)),
            layout="constrained",
        )
        axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
        for ax, metric in zip(axes, metrics, strict=True):
            unit = display_unit(metric, runs[metric])
            rows = table[table["metric"] == metric]
            _diff_panel(
                ax, _differences(runs, metric, baseline), rows, unit, metric_label(metric, unit)
            )
        fig.suptitle(
            f"paired differences with the baseline ({baseline}): grey dots = seeds "
            f"({n_text(list(table['n']), 'pairs')}); mean and 95% t-CI coloured by verdict",
            fontsize="small",
        )
    return save(fig, path)
