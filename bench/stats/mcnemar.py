"""Per-sample paired test on stored correctness vectors: exact McNemar per seed and pooled.

Each run record carries ``correct``, a 0/1 list over the test samples in a fixed order, so the
runs of two variants on one seed pair up sample by sample. The exact McNemar test is the exact
binomial test of the discordant pairs: with b samples right only under the baseline and c right
only under the variant, under H0 each discordant sample is a fair coin, p = P(|X - N/2| >=
|c - N/2|), X ~ Binomial(N = b + c, 1/2) (two-sided, doubling the smaller tail, capped at 1).

Pooled over seeds: the sum of the discordant counts, B = sum b_s and C = sum c_s, tested as
Binomial(B + C, 1/2). This is the exact stratified test (seeds are strata): under H0 every
discordant pair of every seed is a fair coin, so C given B + C is exactly binomial whatever the
seeds' discordance rates, with no homogeneity assumption for its validity, and it weighs each
seed by its number of discordant samples. It treats the test samples as the random draw; the
same test images recur in every seed, so it does not account for seed-to-seed training
variance: that is what the Wilcoxon test over seeds is for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from bench.stats._frame import check_columns, check_unique, select_dataset
from bench.stats.paired import holm

__all__ = ["MCNEMAR_POOLING", "mcnemar_exact", "paired_correctness"]

MCNEMAR_POOLING = (
    "pooled over seeds by summing the discordant counts (exact stratified test: under H0 every "
    "discordant sample of every seed is a fair coin)"
)

_COLUMNS = [
    "dataset",
    "variant",
    "baseline",
    "scope",
    "seed",
    "n_samples",
    "both_correct",
    "only_baseline",
    "only_variant",
    "both_wrong",
    "acc_baseline",
    "acc_variant",
    "p_mcnemar",
    "p_mcnemar_holm",
]


def mcnemar_exact(only_baseline: int, only_variant: int) -> float:
    """Two-sided exact McNemar p from the two discordant counts (1.0 when both are 0)."""
    b, c = int(only_baseline), int(only_variant)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, not {b} and {c}.")
    if b + c == 0:
        return 1.0
    return float(min(1.0, 2.0 * sps.binom.cdf(min(b, c), b + c, 0.5)))


def _vector(value: Any, where: str) -> np.ndarray:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"{where} has no correctness vector; re-run it to record 'correct'.")
    vec = np.asarray(value, dtype=int)
    if vec.ndim != 1 or not np.isin(vec, (0, 1)).all():
        raise ValueError(f"{where}: 'correct' must be a flat list of 0/1, one per test sample.")
    return vec


def _counts(base: np.ndarray, var: np.ndarray) -> dict[str, int]:
    return {
        "both_correct": int(((base == 1) & (var == 1)).sum()),
        "only_baseline": int(((base == 1) & (var == 0)).sum()),
        "only_variant": int(((base == 0) & (var == 1)).sum()),
        "both_wrong": int(((base == 0) & (var == 0)).sum()),
    }


def _variant_rows(
    df: pd.DataFrame, variant: Any, baseline: Any, column: str, ds: Any
) -> list[dict[str, Any]]:
    by_seed = {v: g.set_index("seed")[column] for v, g in df.groupby("variant", sort=False)}
    seeds = [s for s in by_seed[baseline].index if s in by_seed[variant].index]
    if not seeds:
        raise ValueError(f"variant {variant!r} and baseline {baseline!r} share no seed.")
    rows = []
    for seed in seeds:
        base = _vector(by_seed[baseline][seed], f"baseline {baseline!r} seed {seed}")
        var = _vector(by_seed[variant][seed], f"variant {variant!r} seed {seed}")
        if len(base) != len(var):
            raise ValueError(
                f"seed {seed}: {baseline!r} has {len(base)} test samples and {variant!r} "
                f"{len(var)}; both must be evaluated on the same test split."
            )
        rows.append(
            {
                "seed": seed,
                "n_samples": len(base),
                **_counts(base, var),
                "acc_baseline": float(base.mean()),
                "acc_variant": float(var.mean()),
            }
        )
    frame = pd.DataFrame(rows)
    total = frame[
        ["n_samples", "both_correct", "only_baseline", "only_variant", "both_wrong"]
    ].sum()
    pooled = {
        "seed": pd.NA,
        **{k: int(v) for k, v in total.items()},
        "acc_baseline": (total["both_correct"] + total["only_baseline"]) / total["n_samples"],
        "acc_variant": (total["both_correct"] + total["only_variant"]) / total["n_samples"],
    }
    out = []
    for scope, row in [*(("seed", r) for r in rows), ("pooled", pooled)]:
        p = mcnemar_exact(row["only_baseline"], row["only_variant"])
        out.append(
            {
                "dataset": ds,
                "variant": variant,
                "baseline": baseline,
                "scope": scope,
                **row,
                "p_mcnemar": p,
            }
        )
    return out


def paired_correctness(
    runs: pd.DataFrame,
    baseline: str,
    *,
    column: str = "correct",
    dataset: str | None = None,
) -> pd.DataFrame:
    """Exact McNemar of every variant against the baseline, per seed and pooled (see above).

    runs: one row per run with variant, seed and ``column`` (the 0/1 correctness list). Returns
    one row per (variant, seed) with scope "seed" plus one row per variant with scope "pooled"
    (seed NA): dataset, variant, baseline, scope, seed, n_samples, both_correct,
    only_baseline (b), only_variant (c), both_wrong, acc_baseline, acc_variant, p_mcnemar, and
    p_mcnemar_holm (pooled rows only: Holm over the variants; NaN on per-seed rows).
    """
    check_columns(runs, [column])
    df, ds = select_dataset(runs, dataset)
    check_unique(df, ["variant", "seed"], ds)
    variants = list(pd.unique(df["variant"]))
    if baseline not in variants:
        raise ValueError(
            f"baseline {baseline!r} is not among the variants ({', '.join(map(str, variants))})."
        )
    rows = [
        r for v in variants if v != baseline for r in _variant_rows(df, v, baseline, column, ds)
    ]
    out = pd.DataFrame(rows, columns=[c for c in _COLUMNS if c != "p_mcnemar_holm"])
    pooled = out["scope"] == "pooled"
    out["p_mcnemar_holm"] = np.nan
    out.loc[pooled, "p_mcnemar_holm"] = holm(out.loc[pooled, "p_mcnemar"].to_numpy(float))
    return out[_COLUMNS]
