"""Paired-difference building blocks: Holm, t-interval, TOST equivalence, seeds for 80% power,
and the default equivalence margin of a metric."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from bench.stats.wilcoxon import snap

__all__ = [
    "ACCURACY_MARGIN",
    "TostResult",
    "equivalence_margin",
    "holm",
    "metric_unit",
    "paired_t",
    "seeds_for_power",
    "t_ci",
    "tost_paired",
]

# Default equivalence margin: +-1 point of accuracy, on the scale the metric is stored in.
ACCURACY_MARGIN: dict[str, float] = {"fraction": 0.01, "percent": 1.0}


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values; NaN entries (untestable comparisons) stay NaN and are not counted."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        # Step-down: the i-th smallest p times (m - i), made monotone, capped at 1. Written out
        # because statsmodels' multipletests runs gc.collect() on every call (0.29 s measured
        # with a torch-sized heap, times every metric of every study refresh).
        q = p[ok]
        order = np.argsort(q, kind="stable")
        scaled = (len(q) - np.arange(len(q))) * q[order]
        adjusted = np.empty_like(q)
        adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
        out[ok] = adjusted
    return out


def t_ci(values: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """mean, sd, and the t-based confidence interval of the mean."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


@dataclass(frozen=True)
class TostResult:
    p_tost: float  # max of the two one-sided p-values
    p_lower: float  # H0: mean difference <= -margin
    p_upper: float  # H0: mean difference >= +margin
    ci_low: float  # (1 - 2 alpha) t-interval of the mean difference (90% at alpha = 0.05)
    ci_high: float
    margin: float
    equivalent: bool  # p_tost < alpha, i.e. the (1 - 2 alpha) interval lies inside +-margin


def tost_paired(d: np.ndarray, margin: float, alpha: float = 0.05) -> TostResult:
    """Two one-sided paired t-tests (Schuirmann's TOST) of mean(d) inside (-margin, +margin).

    t_lower = (mean + margin) / se, p_lower = P(T_{n-1} >= t_lower); t_upper = (mean - margin)
    / se, p_upper = P(T_{n-1} <= t_upper); p_tost = max. A zero sd (the same difference on
    every seed) gives p 0 or 1, the limit of the formula. NaN margin: untested, all NaN.
    """
    d = np.asarray(d, dtype=float)
    n = len(d)
    nan = math.nan
    if not (np.isfinite(margin) and margin > 0) or n < 2:
        if np.isfinite(margin) and margin <= 0:
            raise ValueError(f"the equivalence margin must be positive, not {margin!r}.")
        return TostResult(nan, nan, nan, nan, nan, float(margin), False)
    mean, sd, lo, hi = t_ci(d, 1 - 2 * alpha)
    if sd == 0:
        p_lo = 0.0 if mean > -margin else 1.0
        p_up = 0.0 if mean < margin else 1.0
    else:
        se = sd / math.sqrt(n)
        p_lo = float(sps.t.sf((mean + margin) / se, n - 1))
        p_up = float(sps.t.cdf((mean - margin) / se, n - 1))
    p = max(p_lo, p_up)
    return TostResult(p, p_lo, p_up, lo, hi, float(margin), bool(p < alpha))


def paired_t(xv: np.ndarray, xb: np.ndarray) -> tuple[float, float, float]:
    """t statistic, p and d_z (mean / sd of xv - xb) of the paired t-test, with the limits
    scipy cannot take."""
    d = np.asarray(xv, dtype=float) - np.asarray(xb, dtype=float)
    mean_d = float(d.mean())
    if np.ptp(snap(d)) > 0:
        t = sps.ttest_rel(xv, xb)
        return float(t.statistic), float(t.pvalue), mean_d / float(d.std(ddof=1))
    if mean_d != 0:
        # The same difference on every seed (e.g. a metric fixed by the architecture): t is
        # infinite and p is 0, scipy's limit; float noise would instead give a huge finite t.
        inf = math.copysign(math.inf, mean_d)
        return inf, 0.0, inf
    return math.nan, math.nan, math.nan  # no difference on any seed: t is undefined


def _t_power(n: int, d_z: float, alpha: float) -> float:
    """Power of the two-sided paired t-test with n pairs at standardized effect d_z."""
    df, nc = n - 1, abs(d_z) * math.sqrt(n)
    crit = float(sps.t.ppf(1 - alpha / 2, df))
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def seeds_for_power(
    d_z: float, alpha: float = 0.05, power: float = 0.8, max_n: int = 10**6
) -> float:
    """Fewest pairs n >= 2 for which a two-sided paired t-test at level alpha has the power.

    power(n) = P(T' > c) + P(T' < -c), T' noncentral t with n - 1 df and noncentrality
    |d_z| * sqrt(n), c = t_{1 - alpha/2, n - 1} (statsmodels' TTestPower, rounded up).
    inf when d_z is zero/NaN or more than max_n pairs would be needed.
    """
    if not np.isfinite(d_z):
        return 2.0 if math.isinf(d_z) else math.inf
    if d_z == 0 or _t_power(max_n, d_z, alpha) < power:
        return math.inf
    lo, hi = 1, 2  # power(lo) < target unless lo == 1 (no test with one pair)
    while _t_power(hi, d_z, alpha) < power:
        lo, hi = hi, min(2 * hi, max_n)
    while hi - lo > 1:  # power rises with n: bisect for the first n that reaches it
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _t_power(mid, d_z, alpha) < power else (lo, mid)
    return float(hi)


def metric_unit(metric: str) -> str | None:
    """Accuracy unit inferred from a column name: '*acc*_pct' percent, '*acc*' fraction."""
    if "acc" not in metric:
        return None
    return "percent" if metric.endswith("_pct") else "fraction"


def equivalence_margin(
    metric: str,
    margins: Mapping[str, float] | None = None,
    units: Mapping[str, str] | None = None,
) -> float:
    """Equivalence margin (and Bayesian ROPE half-width) of a metric, in its own unit.

    margins[metric] when given; else +-1 point of accuracy for an accuracy metric, whose unit is
    units[metric] ('fraction': 0.01, 'percent': 1.0) or inferred by metric_unit; else NaN (no
    equivalence test: the verdict can then be better, worse or inconclusive only).
    """
    if margins and metric in margins:
        margin = float(margins[metric])
        if not margin > 0:
            raise ValueError(
                f"the equivalence margin of {metric!r} must be positive, not {margin!r}."
            )
        return margin
    unit = (units or {}).get(metric) or metric_unit(metric)
    if unit is None:
        return math.nan
    if unit not in ACCURACY_MARGIN:
        raise ValueError(
            f"unit {unit!r} of metric {metric!r} has no default margin; use 'fraction' or "
            f"'percent' for an accuracy, or pass margins={{{metric!r}: value}}."
        )
    return ACCURACY_MARGIN[unit]
