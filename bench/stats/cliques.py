"""Wilcoxon-Holm cliques over Friedman mean ranks: the groups a rank diagram draws bars over.

Variants are nodes; an edge joins two variants whose pairwise exact Wilcoxon test is not
significant after Holm over all pairs of the metric (the same family as the pairwise and
baseline tables). A bar belongs over each maximal clique of two or more variants: a group in
which no pair differs significantly, not contained in a larger such group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bench.stats.compare import pairwise_wilcoxon_holm
from bench.stats.ranks import friedman_test

__all__ = ["critical_difference_diagram", "maximal_cliques", "wilcoxon_holm_cliques"]


def maximal_cliques(nodes: Sequence[Any], edges: set[frozenset[Any]]) -> list[list[Any]]:
    """Every maximal clique of an undirected graph (Bron-Kerbosch with pivoting), each in the
    order of `nodes`; isolated nodes are cliques of one."""
    adj = {v: {u for u in nodes if u != v and frozenset((u, v)) in edges} for v in nodes}
    found: list[set[Any]] = []

    def expand(r: set[Any], p: set[Any], x: set[Any]) -> None:
        if not p and not x:
            found.append(r)
            return
        pivot = max(p | x, key=lambda u: len(adj[u] & p))
        for v in list(p - adj[pivot]):
            expand(r | {v}, p & adj[v], x & adj[v])
            p = p - {v}
            x = x | {v}

    expand(set(), set(nodes), set())
    position = {v: i for i, v in enumerate(nodes)}
    cliques = [sorted(c, key=position.__getitem__) for c in found]
    return sorted(cliques, key=lambda c: (position[c[0]], -len(c)))


def _p_matrix(pairs: pd.DataFrame, variants: Sequence[Any], col: str) -> pd.DataFrame:
    """Symmetric variant x variant matrix of a pairwise p-value column, 1 on the diagonal."""
    mat = pd.DataFrame(1.0, index=list(variants), columns=list(variants))
    for a, b, p in pairs[["variant_a", "variant_b", col]].itertuples(index=False):
        mat.loc[a, b] = mat.loc[b, a] = p
    return mat


def _clique_rows(
    order: list[Any], ranks: Mapping[Any, float], edges: set[frozenset[Any]]
) -> list[dict[str, Any]]:
    rows = []
    for members in maximal_cliques(order, edges):
        if len(members) < 2:
            continue
        low, high = min(ranks[v] for v in members), max(ranks[v] for v in members)
        covered = [v for v in order if v not in members and low <= ranks[v] <= high]
        # A bar from low to high would also cover `covered` (ranked inside the span, tied
        # ranks included) although it differs from some member: draw such a clique apart.
        rows.append(
            {
                "members": members,
                "rank_low": low,
                "rank_high": high,
                "contiguous": not covered,
                "covers": covered,
            }
        )
    return rows


def wilcoxon_holm_cliques(
    runs: pd.DataFrame,
    metric: str,
    *,
    dataset: str | None = None,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
    baseline: str | None = None,
    margin: float | None = None,
    unit: str | None = None,
) -> dict[str, Any]:
    """Friedman mean ranks (1 = best) and the Wilcoxon-Holm cliques for a rank diagram.

    Returns a dict: dataset, metric, alpha, n_blocks, friedman_p, family_size, order
    (variants by mean rank; tied ranks keep their order of appearance and stay separate
    entries), mean_ranks (variant -> rank, in that order), ties (lists of variants sharing a
    mean rank), cliques (maximal cliques of >= 2 variants, each a dict: members in rank order,
    rank_low, rank_high, contiguous, covers: non-members ranked inside the span), and p_holm
    (variant x variant Wilcoxon-Holm p).
    """
    fr = friedman_test(runs, metric, dataset=dataset, higher_is_better=higher_is_better)
    pairs = pairwise_wilcoxon_holm(
        runs,
        metric,
        dataset=fr["dataset"],
        alpha=alpha,
        zero_method=zero_method,
        higher_is_better=higher_is_better,
        baseline=baseline,
        margin=margin,
        unit=unit,
    )
    ranks = fr["mean_ranks"]
    order = sorted(fr["variants"], key=lambda v: ranks[v])  # stable: ties keep appearance
    edges = {
        frozenset((a, b))
        for a, b, sig in pairs[["variant_a", "variant_b", "significant"]].itertuples(index=False)
        if not sig
    }
    by_rank: dict[float, list[Any]] = {}
    for v in order:
        by_rank.setdefault(ranks[v], []).append(v)
    return {
        "dataset": fr["dataset"],
        "metric": metric,
        "alpha": alpha,
        "n_blocks": fr["n_blocks"],
        "friedman_p": fr["p"],
        "family_size": len(pairs),
        "order": order,
        "mean_ranks": {v: ranks[v] for v in order},
        "ties": [g for g in by_rank.values() if len(g) > 1],
        "cliques": _clique_rows(order, ranks, edges),
        "p_holm": _p_matrix(pairs, order, "p_wilcoxon_holm"),
    }


def critical_difference_diagram(
    runs: pd.DataFrame,
    metric: str,
    ax: Any = None,
    *,
    dataset: str | None = None,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
) -> tuple[Any, Any]:
    """Rank diagram: Friedman mean ranks (1 = best) on an axis, bars over the Wilcoxon-Holm
    cliques (Benavoli et al. 2016 instead of the Nemenyi CD), drawn by scikit-posthocs.

    Returns (figure, axes); a new figure is made (without pyplot) when ax is None.
    """
    import scikit_posthocs as sp  # optional plotting stack, only for drawing
    from matplotlib.figure import Figure

    cl = wilcoxon_holm_cliques(
        runs,
        metric,
        dataset=dataset,
        higher_is_better=higher_is_better,
        alpha=alpha,
        zero_method=zero_method,
    )
    k = len(cl["order"])
    if ax is None:
        fig = Figure(figsize=(6, 0.6 * k + 1.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    sp.critical_difference_diagram(
        pd.Series(cl["mean_ranks"]),
        cl["p_holm"],
        ax=ax,
        alpha=alpha,
        # scikit-posthocs' default .2g would print a mean rank of 1.25 as 1.2.
        label_fmt_left="{label} ({rank:.3g})",
        label_fmt_right="({rank:.3g}) {label}",
    )
    ax.set_xlim(1, k)  # the conventional axis spans every possible mean rank, 1 .. k
    where = f" on {cl['dataset']}" if cl["dataset"] is not None else ""
    ax.set_title(
        f"{metric}{where}: Wilcoxon-Holm cliques over mean ranks (1 = best), Friedman p = "
        f"{cl['friedman_p']:.3g}, n = {cl['n_blocks']} seeds\nbars join variants with "
        f"Wilcoxon-Holm p >= {alpha:g}",
        fontsize="small",
    )
    return fig, ax
