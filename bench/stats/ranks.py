"""Friedman test and within-seed mean ranks over k > 2 variants."""

from __future__ import annotations

from typing import Any

import pandas as pd
from scipy import stats as sps

from bench.stats._frame import complete_blocks

__all__ = ["friedman_or_none", "friedman_test"]


def friedman_test(
    runs: pd.DataFrame,
    metric: str,
    *,
    dataset: str | None = None,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """Friedman test over k > 2 variants, blocks = seeds that have a value for every variant.

    Returns a dict: dataset, metric, statistic, p, n_blocks, k, variants, mean_ranks
    (variant -> mean within-seed rank, 1 = best given higher_is_better; ties get mid-ranks)
    and dropped_seeds (seeds missing some variant).
    """
    blocks, ds, dropped = complete_blocks(runs, metric, dataset)
    k = blocks.shape[1]
    if k < 3:
        raise ValueError(
            f"the Friedman test needs at least 3 variants but dataset {ds!r} has {k}; "
            f"use compare_to_baseline for two."
        )
    if len(blocks) < 2:
        raise ValueError(
            f"only {len(blocks)} seed(s) of dataset {ds!r} have a {metric} value for all {k} "
            f"variants; the Friedman test needs at least 2 complete seeds."
        )
    res = sps.friedmanchisquare(*(blocks[c].to_numpy(float) for c in blocks.columns))
    sign = -1.0 if higher_is_better else 1.0
    ranks = sps.rankdata(sign * blocks.to_numpy(float), axis=1)
    return {
        "dataset": ds,
        "metric": metric,
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
        "n_blocks": int(len(blocks)),
        "k": int(k),
        "variants": list(blocks.columns),
        "mean_ranks": dict(zip(blocks.columns, ranks.mean(axis=0).tolist(), strict=True)),
        "dropped_seeds": dropped,
    }


def friedman_or_none(
    runs: pd.DataFrame, metric: str, dataset: str | None, higher_is_better: bool
) -> dict[str, Any] | None:
    """friedman_test where it applies (k > 2, 2 complete seeds), else None."""
    blocks, _, _ = complete_blocks(runs, metric, dataset)
    if blocks.shape[1] < 3 or len(blocks) < 2:
        return None
    return friedman_test(runs, metric, dataset=dataset, higher_is_better=higher_is_better)
