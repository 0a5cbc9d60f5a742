"""Four-way verdicts of a paired comparison: better / worse / equivalent / inconclusive.

Decision rule, in this order, on one Holm family of comparisons of a metric (m comparisons):

1. better or worse: the exact Wilcoxon signed-rank test, Holm-adjusted, has p_holm < alpha; the
   sign of the mean difference and the metric's direction say which. (Nonparametric, and the
   same test the clique diagram uses; the paired t-test is reported beside it, never decides.)
2. equivalent: otherwise, TOST (two one-sided paired t-tests) at the metric's margin, Holm over
   the same family, has p_holm < alpha (for one comparison: the (1 - 2 alpha) CI, printed
   beside it, lies inside +-margin; with m > 1 the Holm-adjusted p is the stricter test).
3. inconclusive: otherwise, with the seeds the observed effect would need for 80% power under a
   paired t-test at alpha / m (bench.stats.paired.seeds_for_power), and at least the seeds the
   exact Wilcoxon test needs to reach p_holm < alpha at all.

A verdict never reads "no difference": a non-significant test is not evidence of equality.
"""

from __future__ import annotations

import math
from typing import Any

from bench.stats.wilcoxon import seeds_needed

__all__ = ["VERDICT_RULE", "verdict_class", "verdict_sentence"]

VERDICT_RULE = (
    "better/worse: exact Wilcoxon signed-rank p_holm < alpha (Holm over all comparisons of the "
    "metric); else equivalent: TOST p_holm < alpha at the metric's margin; else inconclusive, "
    "with the seeds the observed effect needs for 80% power (paired t at alpha/m)."
)


def _fmt(x: float) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "nan" if not math.isfinite(x) else f"{x:.3g}"


def verdict_class(row: dict[str, Any], alpha: float) -> str:
    """'better', 'worse', 'equivalent' or 'inconclusive' ('higher'/'lower' without a direction)."""
    if row["p_wilcoxon_holm"] < alpha:
        higher = row["diff"] > 0
        hib = row["higher_is_better"]
        if hib is None or (isinstance(hib, float) and math.isnan(hib)):
            return "higher" if higher else "lower"
        return "better" if higher == bool(hib) else "worse"
    if row["p_tost_holm"] < alpha:
        return "equivalent"
    return "inconclusive"


def _test_text(row: dict[str, Any], m: int, tail: str = "") -> str:
    """'exact Wilcoxon signed-rank p_holm = x<tail> (family; paired t p_holm = y)'."""
    family = f"Holm over {m} comparisons of {row['metric']}" if m > 1 else "one comparison"
    return (
        f"exact Wilcoxon signed-rank p_holm = {_fmt(row['p_wilcoxon_holm'])}{tail} "
        f"({family}; paired t p_holm = {_fmt(row['p_t_holm'])})"
    )


def _power_text(row: dict[str, Any], m: int, alpha: float) -> str:
    n_t, floor = row["seeds_for_power"], seeds_needed(alpha, m)
    if not math.isfinite(n_t):
        return (
            "the observed mean difference is zero (or would need over a million seeds), so "
            "no practical number of seeds gives 80% power against it"
        )
    text = (
        f"the observed effect (d_z = {_fmt(row['d_z'])}) would need {int(n_t)} seeds for 80% "
        f"power (paired t at alpha = {_fmt(alpha / m)})"
    )
    if floor > n_t:
        text += f"; the exact Wilcoxon test needs at least {floor} to reach p_holm < {alpha:g}"
    return text


def _ci(row: dict[str, Any], alpha: float) -> str:
    return (
        f"{row['variant']} - {row['reference']} = {_fmt(row['diff'])}, "
        f"{100 * (1 - alpha):g}% CI [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
    )


def verdict_sentence(row: dict[str, Any], m: int, alpha: float) -> str:
    """The verdict in words: metric, difference with CI, deciding test and p; for inconclusive
    the seeds needed. row: one comparison with the family columns (see bench.stats.family)."""
    v, b, metric, cls = row["variant"], row["reference"], row["metric"], row["verdict_class"]
    margin = row["margin"]
    band = f"+-{_fmt(margin)}"
    tost = (
        f"TOST (two one-sided paired t-tests at {band}) p_holm = {_fmt(row['p_tost_holm'])}, "
        f"{100 * (1 - 2 * alpha):g}% CI [{_fmt(row['ci90_low'])}, {_fmt(row['ci90_high'])}]"
    )
    if cls in ("better", "worse", "higher", "lower"):
        higher = row["diff"] > 0
        side = "" if cls in ("higher", "lower") else f"{cls}; "
        text = (
            f"{v} is {'higher' if higher else 'lower'} than {b} in {metric} by "
            f"{_fmt(abs(row['diff']))} ({side}{_ci(row, alpha)}), decided by the "
            f"{_test_text(row, m)}."
        )
        if row["p_tost_holm"] < alpha:
            text += (
                f" The difference also lies inside the equivalence margin ({tost}): real "
                f"but smaller than {band}."
            )
        return text
    if cls == "equivalent":
        return (
            f"{v} is equivalent to {b} in {metric} within {band}: {_ci(row, alpha)}; {tost}; "
            f"{_test_text(row, m)}."
        )
    floor = ""
    if row["min_possible_p_holm"] >= alpha:
        pairs = "pairs" if row["n_nonzero"] == row["n"] else "non-zero pairs"
        floor = (
            f", and n = {row['n_nonzero']} {pairs} cannot reach p_holm < {alpha:g} with "
            f"the exact Wilcoxon test (minimum p_holm = {_fmt(row['min_possible_p_holm'])})"
        )
    if math.isfinite(margin):
        equiv = f"not shown equivalent either: {tost}"
    else:
        equiv = f"no equivalence margin is set for {metric}"
    return (
        f"inconclusive: {v} vs {b} in {metric}, {_ci(row, alpha)}; "
        f"{_test_text(row, m, f' is not below {alpha:g}')}{floor}; {equiv}; "
        f"{_power_text(row, m, alpha)}."
    )
