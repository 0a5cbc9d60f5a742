"""Descriptive statistics of a runs table: mean, sd and t-interval per group and metric."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bench.stats._frame import check_columns
from bench.stats.paired import t_ci

__all__ = ["summarize"]


def summarize(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    by: Sequence[str] = ("dataset", "variant"),
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per group and metric: n (non-missing values), mean, std (ddof=1), ci_low, ci_high.

    Tidy long format: the ``by`` columns, then metric, n, mean, std, ci_low, ci_high (t-interval
    of the mean at ``confidence``; NaN std/CI when n < 2).
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    by = [by] if isinstance(by, str) else list(by)
    check_columns(runs, metrics, keys=())
    missing = [c for c in by if c not in runs.columns]
    if missing:
        raise ValueError(
            f"cannot group by {', '.join(map(repr, missing))}: no such column in the runs table."
        )
    rows = []
    for key, group in runs.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        for metric in metrics:
            values = pd.to_numeric(group[metric], errors="coerce").dropna().to_numpy(float)
            mean, sd, lo, hi = t_ci(values, confidence)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "metric": metric,
                    "n": len(values),
                    "mean": mean,
                    "std": sd,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows, columns=[*by, "metric", "n", "mean", "std", "ci_low", "ci_high"])
