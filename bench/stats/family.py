"""One Holm family of paired comparisons of a metric on one dataset.

Every table that tests a metric (the baseline table, the pairwise table, the clique diagram)
is a view of one family built here, so they cannot contradict each other. A family is a list of
(variant, reference) pairs, by default all pairs of variants; each pair uses the seeds that
have a value for both (a seed missing for one variant drops out of that variant's pairs only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.stats.bayes import bayes_signed_rank
from bench.stats.paired import holm, paired_t, seeds_for_power, t_ci, tost_paired
from bench.stats.verdict import verdict_class, verdict_sentence
from bench.stats.wilcoxon import min_possible_p, wilcoxon_exact

__all__ = ["FAMILIES", "FAMILY_COLUMNS", "build_family", "family_pairs"]

FAMILIES = ("all-pairs", "baseline")

FAMILY_COLUMNS = [
    "dataset",
    "metric",
    "variant",
    "reference",
    "n",
    "n_dropped",
    "dropped_seeds",
    "mean_reference",
    "mean_variant",
    "diff",
    "ci_low",
    "ci_high",
    "wilcoxon_stat",
    "p_wilcoxon",
    "p_wilcoxon_holm",
    "wilcoxon_method",
    "n_nonzero",
    "t_stat",
    "p_t",
    "p_t_holm",
    "d_z",
    "rank_biserial",
    "min_possible_p",
    "min_possible_p_holm",
    "margin",
    "p_tost",
    "p_tost_holm",
    "ci90_low",
    "ci90_high",
    "p_bayes_higher",
    "p_bayes_equivalent",
    "p_bayes_lower",
    "seeds_for_power",
    "family",
    "family_size",
    "higher_is_better",
    "significant",
    "equivalent",
    "verdict_class",
    "verdict",
]


def family_pairs(
    variants: Sequence[Any], baseline: Any = None, family: str = "all-pairs"
) -> list[tuple[Any, Any]]:
    """(variant, reference) pairs: the baseline's pairs first, as variant - baseline, then the
    other pairs in order of appearance (earlier - later); "baseline" keeps only the first."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}.")
    if family == "baseline" and baseline is None:
        raise ValueError("family='baseline' needs a baseline variant.")
    variants = list(variants)
    pairs = [(v, baseline) for v in variants if baseline is not None and v != baseline]
    if family == "all-pairs":
        rest = [v for v in variants if v != baseline]
        pairs += [(a, b) for i, a in enumerate(rest) for b in rest[i + 1 :]]
    return pairs


def _pair_row(
    table: pd.DataFrame, v: Any, b: Any, alpha: float, zero_method: str, margin: float
) -> dict[str, Any]:
    pair = table[[b, v]]
    both = pair.notna().all(axis=1)
    one = pair.notna().any(axis=1) & ~both
    n = int(both.sum())
    if n < 2:
        raise ValueError(
            f"variant {v!r} and {b!r} share {n} seed(s) with a value; a paired comparison "
            f"needs at least 2 seeds run for both."
        )
    xb = pair.loc[both, b].to_numpy(float)
    xv = pair.loc[both, v].to_numpy(float)
    d = xv - xb
    mean_d, _, lo, hi = t_ci(d, 1 - alpha)
    w = wilcoxon_exact(d, zero_method)
    t_stat, p_t, d_z = paired_t(xv, xb)
    tost = tost_paired(d, margin, alpha)
    bayes = bayes_signed_rank(d, margin if math.isfinite(margin) else 0.0)
    return {
        "variant": v,
        "reference": b,
        "n": n,
        "n_dropped": int(one.sum()),
        "dropped_seeds": ",".join(map(str, pair.index[one])),
        "mean_reference": float(xb.mean()),
        "mean_variant": float(xv.mean()),
        "diff": mean_d,
        "ci_low": lo,
        "ci_high": hi,
        "wilcoxon_stat": w.statistic,
        "p_wilcoxon": w.p,
        "wilcoxon_method": w.method,
        "n_nonzero": w.n_nonzero,
        "t_stat": t_stat,
        "p_t": p_t,
        "d_z": d_z,
        "rank_biserial": w.rank_biserial,
        "min_possible_p": min_possible_p(w.n_nonzero),
        "margin": margin,
        "p_tost": tost.p_tost,
        "ci90_low": tost.ci_low,
        "ci90_high": tost.ci_high,
        "p_bayes_higher": bayes.p_right,
        "p_bayes_equivalent": bayes.p_rope,
        "p_bayes_lower": bayes.p_left,
    }


def build_family(
    table: pd.DataFrame,
    pairs: Sequence[tuple[Any, Any]],
    *,
    metric: str,
    dataset: str | None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
    higher_is_better: bool | None = True,
    margin: float = math.nan,
    family: str = "all-pairs",
) -> pd.DataFrame:
    """Every pair of one family on a seed x variant table, Holm over the family (FAMILY_COLUMNS).

    Holm adjusts p_wilcoxon, p_t and p_tost over the m pairs. min_possible_p_holm is the lower
    bound max(2 / 2**n_i, m * min_j 2 / 2**n_j) of this row's Holm p. p_bayes_higher /
    p_bayes_lower: posterior probability that variant - reference is above +margin / below
    -margin (ROPE = margin, a point at 0 when the metric has none). seeds_for_power: paired t
    at alpha / m, 80% power, the observed d_z. higher_is_better None: direction-free verdicts.
    """
    rows = [_pair_row(table, v, b, alpha, zero_method, margin) for v, b in pairs]
    out = pd.DataFrame(rows)
    m = len(out)
    out.insert(0, "dataset", dataset)
    out.insert(1, "metric", metric)
    out["p_wilcoxon_holm"] = holm(out["p_wilcoxon"])
    out["p_t_holm"] = holm(out["p_t"])
    out["p_tost_holm"] = holm(out["p_tost"])
    floor = m * out["min_possible_p"].min()
    out["min_possible_p_holm"] = np.minimum(1.0, np.maximum(out["min_possible_p"], floor))
    out["seeds_for_power"] = [seeds_for_power(dz, alpha / m) for dz in out["d_z"]]
    out["family"] = family
    out["family_size"] = m
    out["higher_is_better"] = higher_is_better
    out["significant"] = out["p_wilcoxon_holm"] < alpha
    records = out.to_dict("records")
    out["verdict_class"] = [verdict_class(r, alpha) for r in records]
    out["equivalent"] = out["verdict_class"] == "equivalent"
    records = out.to_dict("records")
    out["verdict"] = [verdict_sentence(r, m, alpha) for r in records]
    return out[FAMILY_COLUMNS]
