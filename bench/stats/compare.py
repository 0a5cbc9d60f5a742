"""Baseline and pairwise tables of a study: views of one Holm family per (dataset, metric)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bench.stats._frame import (
    check_columns,
    complete_blocks,
    datasets,
    direction,
    select_dataset,
    wide,
)
from bench.stats.family import FAMILY_COLUMNS, build_family, family_pairs
from bench.stats.paired import equivalence_margin
from bench.stats.ranks import friedman_or_none

__all__ = [
    "COMPARE_COLUMNS",
    "PAIRWISE_COLUMNS",
    "analyse",
    "analyse_pairwise",
    "compare_to_baseline",
    "pairwise_wilcoxon_holm",
]

_BASELINE_NAMES = {"reference": "baseline", "mean_reference": "mean_baseline"}
_PAIR_NAMES = {
    "variant": "variant_a",
    "reference": "variant_b",
    "mean_variant": "mean_a",
    "mean_reference": "mean_b",
}


def _rename_bayes(frame: pd.DataFrame, hib: bool | None, better: str, worse: str) -> pd.DataFrame:
    """Direction-free Bayesian columns -> P(variant better) / P(reference better)."""
    if hib is None:
        return frame
    up, down = (better, worse) if hib else (worse, better)
    return frame.rename(columns={"p_bayes_higher": up, "p_bayes_lower": down})


def _view(
    frame: pd.DataFrame, names: dict[str, str], hib: bool | None, better: str, worse: str
) -> pd.DataFrame:
    return _rename_bayes(frame.rename(columns=names), hib, better, worse)


COMPARE_COLUMNS = list(
    _view(
        pd.DataFrame(columns=FAMILY_COLUMNS),
        _BASELINE_NAMES,
        True,
        "p_bayes_variant_better",
        "p_bayes_baseline_better",
    ).columns
)
PAIRWISE_COLUMNS = list(
    _view(
        pd.DataFrame(columns=FAMILY_COLUMNS),
        _PAIR_NAMES,
        True,
        "p_bayes_a_better",
        "p_bayes_b_better",
    ).columns
)


def _family(
    runs: pd.DataFrame,
    metric: str,
    *,
    baseline: Any,
    dataset: str | None,
    family: str,
    alpha: float,
    zero_method: str,
    higher_is_better: bool | None,
    margin: float,
) -> pd.DataFrame:
    check_columns(runs, [metric])
    df, ds = select_dataset(runs, dataset)
    table = wide(df, metric, ds)
    variants = list(table.columns)
    if baseline is not None and baseline not in variants:
        raise ValueError(
            f"baseline {baseline!r} is not among the variants of dataset {ds!r} "
            f"({', '.join(map(str, variants))}); pass one of those."
        )
    if len(variants) < 2:
        raise ValueError(
            f"dataset {ds!r} has only the variant {variants[0]!r}; there is nothing to compare "
            f"it to."
        )
    return build_family(
        table,
        family_pairs(variants, baseline, family),
        metric=metric,
        dataset=ds,
        alpha=alpha,
        zero_method=zero_method,
        higher_is_better=higher_is_better,
        margin=margin,
        family=family,
    )


def _margin(metric: str, margin: float | None, unit: str | None) -> float:
    if margin is not None:
        return equivalence_margin(metric, {metric: margin})
    return equivalence_margin(metric, units={metric: unit} if unit else None)


def compare_to_baseline(
    runs: pd.DataFrame,
    baseline: str,
    metric: str,
    *,
    dataset: str | None = None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    zero_method: str = "wilcox",
    margin: float | None = None,
    unit: str | None = None,
    family: str = "all-pairs",
) -> pd.DataFrame:
    """Each non-baseline variant against the baseline on paired seeds of one dataset.

    The Holm family is `family`: "all-pairs" (default: every pair of variants, so this table,
    the pairwise table and the clique diagram agree) or "baseline" (the k - 1 comparisons with
    the baseline only: more power, but the pairwise table is then another family). margin: the
    equivalence margin in the metric's unit (default equivalence_margin(metric, unit)).

    One row per non-baseline variant (order of first appearance), COMPARE_COLUMNS: dataset,
    metric, variant, baseline, n (pairs), n_dropped, dropped_seeds, mean_baseline,
    mean_variant, diff (variant - baseline), ci_low/ci_high (1 - alpha t-CI), wilcoxon_stat,
    p_wilcoxon, p_wilcoxon_holm, wilcoxon_method, n_nonzero, t_stat, p_t, p_t_holm, d_z,
    rank_biserial, min_possible_p, min_possible_p_holm, margin, p_tost, p_tost_holm,
    ci90_low/ci90_high (1 - 2 alpha CI), p_bayes_variant_better, p_bayes_equivalent,
    p_bayes_baseline_better, seeds_for_power, family, family_size, higher_is_better,
    significant (Wilcoxon p_holm < alpha), equivalent, verdict_class (better / worse /
    equivalent / inconclusive) and verdict (a sentence).
    """
    out = _family(
        runs,
        metric,
        baseline=baseline,
        dataset=dataset,
        family=family,
        alpha=alpha,
        zero_method=zero_method,
        higher_is_better=higher_is_better,
        margin=_margin(metric, margin, unit),
    )
    out = out[out["reference"] == baseline].reset_index(drop=True)
    return _view(
        out, _BASELINE_NAMES, higher_is_better, "p_bayes_variant_better", "p_bayes_baseline_better"
    )


def pairwise_wilcoxon_holm(
    runs: pd.DataFrame,
    metric: str,
    *,
    dataset: str | None = None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
    higher_is_better: bool | None = None,
    baseline: str | None = None,
    margin: float | None = None,
    unit: str | None = None,
) -> pd.DataFrame:
    """All pairs of variants of one dataset, Holm over all pairs (the "all-pairs" family).

    Pairs with the baseline (when given) come first as variant - baseline, then the others in
    order of appearance (earlier - later). Columns PAIRWISE_COLUMNS: those of
    compare_to_baseline with variant_a, variant_b, mean_a, mean_b (diff = a - b) and
    p_bayes_a_better / p_bayes_b_better; with higher_is_better None the verdicts are
    direction-free (higher / lower / equivalent / inconclusive) and the Bayesian columns stay
    p_bayes_higher / p_bayes_lower (a - b above +margin / below -margin).
    """
    out = _family(
        runs,
        metric,
        baseline=baseline,
        dataset=dataset,
        family="all-pairs",
        alpha=alpha,
        zero_method=zero_method,
        higher_is_better=higher_is_better,
        margin=_margin(metric, margin, unit),
    )
    return _view(out, _PAIR_NAMES, higher_is_better, "p_bayes_a_better", "p_bayes_b_better")


def analyse(
    runs: pd.DataFrame,
    baseline: str,
    metrics: Sequence[str],
    higher_is_better: Mapping[str, bool],
    *,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
    margins: Mapping[str, float] | None = None,
    units: Mapping[str, str] | None = None,
    family: str = "all-pairs",
) -> pd.DataFrame:
    """compare_to_baseline for every dataset and metric, as one tidy table for stats.csv.

    One Holm family per (dataset, metric), `family` as in compare_to_baseline. Margins:
    margins[metric], else +-1 accuracy point for accuracies (units[metric] 'fraction' or
    'percent', or inferred from the name), else none. Columns: COMPARE_COLUMNS plus, where a
    dataset has k > 2 variants and at least 2 seeds complete for all of them, the Friedman
    test: friedman_stat, friedman_p, friedman_n_blocks, mean_rank (of the row's variant) and
    mean_rank_baseline (1 = best); NaN otherwise. The all-pairs table is analyse_pairwise.
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    check_columns(runs, metrics)
    tables = []
    for ds in datasets(runs):
        for metric in metrics:
            hib = direction(higher_is_better, metric)
            cmp = compare_to_baseline(
                runs,
                baseline,
                metric,
                dataset=ds,
                alpha=alpha,
                higher_is_better=hib,
                zero_method=zero_method,
                margin=(margins or {}).get(metric),
                unit=(units or {}).get(metric),
                family=family,
            )
            fr = friedman_or_none(runs, metric, ds, hib)
            cmp["friedman_stat"] = fr["statistic"] if fr else math.nan
            cmp["friedman_p"] = fr["p"] if fr else math.nan
            cmp["friedman_n_blocks"] = fr["n_blocks"] if fr else math.nan
            cmp["mean_rank"] = cmp["variant"].map(fr["mean_ranks"]) if fr else math.nan
            cmp["mean_rank_baseline"] = fr["mean_ranks"][baseline] if fr else math.nan
            tables.append(cmp)
    return pd.concat(tables, ignore_index=True)


def analyse_pairwise(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    higher_is_better: Mapping[str, bool] | None = None,
    *,
    baseline: str | None = None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
    margins: Mapping[str, float] | None = None,
    units: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """pairwise_wilcoxon_holm for every dataset with k > 2 variants and every metric, stacked
    (one Holm family per dataset and metric, the same as analyse's with family="all-pairs", so
    its rows with the baseline equal analyse's rows); empty with PAIRWISE_COLUMNS when none."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    check_columns(runs, metrics)
    tables = []
    for ds in datasets(runs):
        for metric in metrics:
            blocks, _, _ = complete_blocks(runs, metric, ds)
            if blocks.shape[1] < 3 or len(blocks) < 2:
                continue
            hib = direction(higher_is_better, metric) if higher_is_better else None
            tables.append(
                pairwise_wilcoxon_holm(
                    runs,
                    metric,
                    dataset=ds,
                    alpha=alpha,
                    zero_method=zero_method,
                    higher_is_better=hib,
                    baseline=baseline,
                    margin=(margins or {}).get(metric),
                    unit=(units or {}).get(metric),
                )
            )
    if not tables:
        return pd.DataFrame(columns=PAIRWISE_COLUMNS)
    return pd.concat(tables, ignore_index=True)
