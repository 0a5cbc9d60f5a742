"""Learning curves: per variant the mean over seeds with a 95% t-CI band, per epoch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench import stats
from bench.figures.common import n_text, palette, present, save, style

__all__ = ["plot_curves"]

log = logging.getLogger(__name__)

_PANELS = {
    "val_acc_pct": ("validation accuracy", "validation accuracy (%)"),
    "test_acc_pct": ("test accuracy", "test accuracy (%)"),
    "train_loss": ("training loss", "training loss (per sample)"),
}


def plot_curves(
    curves: pd.DataFrame,
    path: Path,
    *,
    baseline: str | None = None,
    variants: Sequence[str] | None = None,
) -> Path | None:
    """Validation accuracy (when recorded), test accuracy and training loss per epoch. None
    when there are no curves."""
    panels = [m for m in _PANELS if m in set(curves["metric"])]
    if not panels:
        log.info("skipping the learning curves: no finished run has per-epoch curves.")
        return None
    variants = present(variants, curves["variant"])
    colors = palette(variants)
    seeds = curves.groupby("variant")["seed"].nunique()
    with style():
        fig = Figure(figsize=(4.6 * len(panels), 4.0), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, metric in zip(axes, panels, strict=True):
            band = stats.summarize(
                curves[curves["metric"] == metric], ["value"], by=["variant", "epoch"]
            )
            for v in variants:
                b = band[band["variant"] == v].sort_values("epoch")
                ax.plot(
                    b["epoch"],
                    b["mean"],
                    color=colors[v],
                    lw=2.2 if v == baseline else 1.4,
                    ls="-" if v == baseline else "--",
                    label=f"{v} (baseline)" if v == baseline else str(v),
                )
                ok = b["ci_low"].notna()
                ax.fill_between(
                    b["epoch"][ok],
                    b["ci_low"][ok],
                    b["ci_high"][ok],
                    color=colors[v],
                    alpha=0.18,
                    lw=0,
                )
            title, ylabel = _PANELS[metric]
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(ylabel)
            ax.set_title(
                f"{title} per epoch\nmean and 95% t-CI band, {n_text(list(seeds.loc[variants]))}",
                fontsize="small",
            )
        if len(variants) <= 12:  # a search's trials would make a legend taller than the plot
            axes[0].legend(fontsize="small", title="variant", title_fontsize="small")
    return save(fig, path)
