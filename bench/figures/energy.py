"""Accuracy against energy per image, with the Pareto front of the variant means."""

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
from bench.figures.common import complete, n_text, palette, present, save, style
from bench.report.metrics import display_unit, metric_label

__all__ = ["ACC", "ENERGY", "pareto_front", "plot_accuracy_energy"]

log = logging.getLogger(__name__)

ACC = "test_acc_pct"
ENERGY = "energy_paper_mj"


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows not dominated when x is minimised and y maximised, sorted by x."""
    pts = points.dropna(subset=[x, y]).sort_values([x, y], ascending=[True, False])
    keep, best_y = [], -math.inf
    for idx, row in pts.iterrows():
        if row[y] > best_y:
            keep.append(idx)
            best_y = row[y]
    return pts.loc[keep]


def _means(df: pd.DataFrame, x: str, y: str, variants: list[str]) -> dict[str, pd.DataFrame]:
    summary = stats.summarize(df, [x, y], by=["variant"])
    return {
        col: summary.pivot(index="variant", columns="metric", values=col).loc[variants]
        for col in ("mean", "ci_low", "ci_high", "n")
    }


def _mean_marker(
    ax: Any, s: dict[str, pd.DataFrame], v: str, xy: tuple[str, str], color: Any, base: bool
) -> None:
    """A variant's mean with its 95% t-CI in both directions (bars once there are 2 seeds)."""

    def err(col: str) -> np.ndarray | None:
        m = s["mean"].loc[v, col]
        e = np.array([[m - s["ci_low"].loc[v, col]], [s["ci_high"].loc[v, col] - m]])
        return None if np.isnan(e).any() else e

    x, y = xy
    ax.errorbar(
        s["mean"].loc[v, x],
        s["mean"].loc[v, y],
        xerr=err(x),
        yerr=err(y),
        fmt="*" if base else "o",
        ms=12 if base else 7,
        color=color,
        capsize=3,
        mec="black",
        mew=0.6,
        label=f"{v} (baseline)" if base else str(v),
    )


def plot_accuracy_energy(
    runs: pd.DataFrame,
    path: Path,
    *,
    baseline: str | None = None,
    variants: Sequence[str] | None = None,
    x: str = ENERGY,
    y: str = ACC,
) -> Path | None:
    """Accuracy vs energy: a point per run, the variant means with 95% t-CI error bars in both
    directions, and the Pareto front of the variant means (more accurate for less energy)."""
    df = complete(runs).dropna(subset=[x, y])
    if df.empty:
        log.info("skipping accuracy vs energy: no finished run has both %s and %s.", x, y)
        return None
    unit = display_unit(x, df[x])
    df = df.assign(**{x: df[x].map(unit)})
    variants = present(variants, df["variant"])
    colors = palette(variants)
    s = _means(df, x, y, variants)
    many = len(variants) > 12  # a search: one run per variant, no legend of every trial

    with style():
        fig = Figure(figsize=(6.4, 4.6), layout="constrained")
        ax = fig.add_subplot()
        for v in variants:
            d = df[df["variant"] == v]
            ax.scatter(d[x], d[y], s=14, alpha=0.35, color="0.4" if many else colors[v], lw=0)
            if not many:
                _mean_marker(ax, s, v, (x, y), colors[v], v == baseline)
        front = pareto_front(s["mean"].reset_index(), x, y)
        ax.plot(
            front[x],
            front[y],
            color="black",
            lw=1,
            ls=":",
            marker="s",
            mfc="none",
            ms=11,
            label="Pareto front" if many else "Pareto front of means",
            zorder=0,
        )
        ax.set_xlabel(metric_label(x, unit))
        ax.set_ylabel(metric_label(y))
        counts = [int(c) for c in s["n"][y]]
        what = (
            f"{len(df)} runs"
            if many
            else (f"small dots: runs; markers: mean and 95% t-CI, {n_text(counts)}")
        )
        ax.set_title(f"accuracy vs energy (up and left is better)\n{what}", fontsize="small")
        ax.legend(fontsize="small")
    return save(fig, path)
