"""Interaction plot of a factorial study: cell means with 95% t-CI, the first swept key on the
x axis, one line per level of the second, one panel per combination of any further keys."""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from bench.figures.common import palette, save, style
from bench.report.fmt import p_text
from bench.report.metrics import display_unit, metric_label

__all__ = ["plot_interaction"]


def _interaction_p(fa: dict[str, Any]) -> str:
    effect = ":".join(fa["factors"][:2])
    an = fa["anova"].set_index("effect")
    art = fa["art"].set_index("effect")
    if effect not in an.index:
        return ""
    return (
        f"{' x '.join(fa['factors'][:2])} interaction: RM-ANOVA p = "
        f"{p_text(an.loc[effect, 'p'])}, ART p = {p_text(art.loc[effect, 'p'])}"
    )


def _panel(ax: Any, cells: pd.DataFrame, fa: dict[str, Any], unit: Any) -> None:
    first, second = fa["factors"][:2]
    xs = list(fa["levels"][first])
    lines = list(fa["levels"][second])
    colors = palette(lines)
    for j, level in enumerate(lines):
        c = cells[cells[second] == level].set_index(first).reindex(xs)
        dx = 0.08 * (j - (len(lines) - 1) / 2)  # dodge: error bars of one x do not overlap
        pos = [i + dx for i in range(len(xs))]
        mean = c["mean"].map(unit)
        err = [mean - c["ci_low"].map(unit), c["ci_high"].map(unit) - mean]
        ax.errorbar(
            pos,
            mean,
            yerr=None if c["ci_low"].isna().any() else err,
            marker="o",
            capsize=3,
            color=colors[level],
            label=f"{second}={level}",
        )
    ax.set_xticks(range(len(xs)), [f"{first}={x}" for x in xs])
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.legend(fontsize="small")


def plot_interaction(fa: dict[str, Any], runs: pd.DataFrame, path: Path) -> Path:
    """fa: one bench.stats.factorial_analysis result (its cell_means and tests)."""
    metric = fa["metric"]
    unit = display_unit(metric, runs[metric])
    cells = fa["cell_means"]
    rest = fa["factors"][2:]
    combos = list(product(*(fa["levels"][k] for k in rest))) or [()]
    with style():
        fig = Figure(figsize=(4.8 * len(combos), 4.0), layout="constrained")
        axes = fig.subplots(1, len(combos), squeeze=False, sharey=True)[0]
        for ax, combo in zip(axes, combos, strict=True):
            sub = cells
            for key, level in zip(rest, combo, strict=True):
                sub = sub[sub[key] == level]
            _panel(ax, sub, fa, unit)
            if combo:
                ax.set_title(
                    " ".join(f"{k}={v}" for k, v in zip(rest, combo, strict=True)), fontsize="small"
                )
        axes[0].set_ylabel(metric_label(metric, unit))
        fig.suptitle(
            f"{metric}: cell means and 95% t-CI over n = {len(fa['subjects'])} seeds "
            f"(non-parallel lines = interaction)\n{_interaction_p(fa)}",
            fontsize="small",
        )
    return save(fig, path)
