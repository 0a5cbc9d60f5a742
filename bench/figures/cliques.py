"""Wilcoxon-Holm cliques over mean ranks, drawn from bench.stats.wilcoxon_holm_cliques.

Variants sit at their Friedman mean rank (1 = best) on one axis; a bar joins the members of a
maximal group in which no pair differs (exact Wilcoxon, Holm over all pairs of the metric: the
family of the report's tables). Tied ranks keep one label each, on their own row, with their
leader lines pulled apart; a group whose span also covers a variant outside it is drawn dashed,
with that variant crossed out on the bar.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench.figures.common import save

__all__ = ["plot_cliques"]

_ROW = 0.32  # height of a label row
_BAR = 0.2  # spacing of clique bars
_TIE_OFFSET = 0.05  # leader lines of tied variants are pulled apart by this much


def _offsets(order: list[Any], ranks: dict[Any, float]) -> dict[Any, float]:
    """x of each variant's leader line: its rank, spread a little within a tie."""
    groups: dict[float, list[Any]] = {}
    for v in order:
        groups.setdefault(ranks[v], []).append(v)
    out = {}
    for r, members in groups.items():
        for i, v in enumerate(members):
            out[v] = r + _TIE_OFFSET * (i - (len(members) - 1) / 2)
    return out


def _axis(ax: Any, k: int) -> None:
    ax.plot([1, k], [0, 0], color="black", lw=1)
    for t in range(1, k + 1):
        ax.plot([t, t], [0, 0.08], color="black", lw=1)
        ax.text(t, 0.12, str(t), ha="center", va="bottom", fontsize="small")
    ax.text((1 + k) / 2, 0.42, "mean rank (1 = best)", ha="center", va="bottom", fontsize="small")


def _bars(ax: Any, cliques: list[dict[str, Any]], ranks: dict[Any, float]) -> float:
    """Draw one bar per clique below the axis; returns the lowest y used."""
    y = -0.1
    for c in cliques:
        y -= _BAR
        solid = c["contiguous"]
        ax.plot(
            [c["rank_low"] - 0.04, c["rank_high"] + 0.04],
            [y, y],
            lw=4 if solid else 2,
            color="black" if solid else "0.45",
            ls="-" if solid else "--",
            solid_capstyle="round",
        )
        ax.scatter(
            [ranks[v] for v in c["members"]], [y] * len(c["members"]), s=14, color="black", zorder=3
        )
        if c["covers"]:
            ax.scatter(
                [ranks[v] for v in c["covers"]],
                [y] * len(c["covers"]),
                s=40,
                marker="x",
                color="tab:red",
                zorder=3,
            )
    return y


def _labels(ax: Any, cl: dict[str, Any], top: float, k: int) -> float:
    """Leader lines and labels: the better half to the left, the rest to the right."""
    order, ranks = cl["order"], cl["mean_ranks"]
    tied = {v for t in cl["ties"] for v in t}
    xs = _offsets(order, ranks)
    half = math.ceil(len(order) / 2)
    sides = [(order[:half], 1 - 0.35, "right"), (list(reversed(order[half:])), k + 0.35, "left")]
    low = top
    for members, x_text, ha in sides:
        for i, v in enumerate(members):
            y = top - _ROW * (i + 1)
            ax.plot([xs[v], xs[v], x_text], [0, y, y], color="0.35", lw=0.8)
            text = f"{v} ({ranks[v]:.3g}{', tied' if v in tied else ''})"
            ax.text(
                x_text + (-0.05 if ha == "right" else 0.05),
                y,
                text,
                ha=ha,
                va="center",
                fontsize="small",
            )
            low = min(low, y)
    return low


def plot_cliques(cl: dict[str, Any], path: Path) -> Path:
    """The diagram of one metric from a wilcoxon_holm_cliques result."""
    k = len(cl["order"])
    n_rows = math.ceil(k / 2)
    height = 1.3 + _ROW * n_rows + _BAR * len(cl["cliques"])
    fig = Figure(figsize=(7.5, height), layout="constrained")
    ax = fig.add_subplot()  # no seaborn grid: vertical grid lines would read as bars
    _axis(ax, k)
    bottom = _bars(ax, cl["cliques"], cl["mean_ranks"])
    low = _labels(ax, cl, bottom - 0.05, k)
    ax.set_xlim(0.6, k + 0.4)
    ax.set_ylim(low - _ROW / 2, 0.75)
    ax.axis("off")
    where = f" on {cl['dataset']}" if cl.get("dataset") else ""
    dashed = any(not c["contiguous"] for c in cl["cliques"])
    ax.set_title(
        f"{cl['metric']}{where}: Wilcoxon-Holm cliques over mean ranks\nFriedman p = "
        f"{cl['friedman_p']:.3g}, n = {cl['n_blocks']} seeds; a bar joins variants no pair of "
        f"which differs (exact Wilcoxon, Holm over {cl['family_size']} pairs, p >= "
        f"{cl['alpha']:g})"
        + (
            "\ndashed bar: its span also covers the crossed-out variants, which are not in it"
            if dashed
            else ""
        ),
        fontsize="small",
    )
    return save(fig, path)
