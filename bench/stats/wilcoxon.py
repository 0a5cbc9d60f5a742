"""Exact Wilcoxon signed-rank test on paired differences, exact with zeros and ties at any n.

Hand-written because scipy's ``method="exact"`` ignores ties (it rounds the statistic and uses
the no-ties distribution) and its ``method="auto"`` goes asymptotic above n = 13 with ties; the
sign-flip enumeration below is exact at any n (see WILCOXON_CONVENTION in bench.stats).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["WilcoxonResult", "min_possible_p", "seeds_needed", "snap", "wilcoxon_exact"]

# Relative tolerance under which two |differences| count as tied (or a difference as zero).
# Accuracies are fractions of a fixed test-set size, so equal differences computed from
# different pairs can disagree in the last bits; without snapping they would not rank as ties.
TIE_RTOL = 1e-9


@dataclass(frozen=True)
class WilcoxonResult:
    statistic: float  # min(R+, R-), as scipy reports it for two-sided tests
    p: float
    method: str  # "exact", "exact-ties" or "degenerate"
    n_nonzero: int
    rank_biserial: float


def snap(d: np.ndarray) -> np.ndarray:
    """Round differences relative to the largest one so float noise cannot break ties/zeros."""
    d = np.asarray(d, dtype=float)
    scale = float(np.max(np.abs(d))) if d.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return d
    decimals = int(round(-math.log10(TIE_RTOL)))
    return np.round(d / scale, decimals) * scale


def _signflip_exact_p(abs_ranks: np.ndarray, r_plus: float) -> float:
    """Exact two-sided p of R+ under H0 (each rank's sign a fair coin), ties allowed.

    Mid-ranks are multiples of 1/2, so doubled ranks are integers and the null distribution of
    2*R+ is a convolution of two-point distributions: exact at any n, O(n * sum of ranks).
    """
    ranks2 = np.rint(2 * abs_ranks).astype(np.int64)
    total = int(ranks2.sum())
    counts = np.zeros(total + 1)
    counts[0] = 1.0
    for r in ranks2:
        shifted = np.zeros_like(counts)
        shifted[r:] = counts[: total + 1 - r]
        counts = counts + shifted
    prob = counts / counts.sum()
    obs = int(round(2 * r_plus))
    p = 2.0 * min(prob[: obs + 1].sum(), prob[obs:].sum())
    return float(min(p, 1.0))


def wilcoxon_exact(d: np.ndarray, zero_method: str = "wilcox") -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test on paired differences d (WILCOXON_CONVENTION)."""
    if zero_method not in ("wilcox", "pratt"):
        raise ValueError(f"zero_method must be 'wilcox' or 'pratt', not {zero_method!r}.")
    d = snap(np.asarray(d, dtype=float))
    nonzero = d != 0
    n_nonzero = int(nonzero.sum())
    if n_nonzero == 0:
        return WilcoxonResult(0.0, 1.0, "degenerate", 0, 0.0)
    ranked = d[nonzero] if zero_method == "wilcox" else d
    ranks = sps.rankdata(np.abs(ranked))
    r_plus = float(ranks[ranked > 0].sum())
    r_minus = float(ranks[ranked < 0].sum())
    # Matched-pairs rank-biserial (Kerby's simple difference): share of the rank sum that
    # favours positive differences minus the share that favours negative ones.
    rank_biserial = (r_plus - r_minus) / float(ranks.sum())
    has_ties = len(np.unique(np.abs(d[nonzero]))) < n_nonzero
    if n_nonzero == len(d) and not has_ties:
        res = sps.wilcoxon(d, zero_method=zero_method, method="exact")
        return WilcoxonResult(
            float(res.statistic), float(res.pvalue), "exact", n_nonzero, rank_biserial
        )
    # Zeros (ranked under pratt) contribute to neither sign, so only non-zero ranks flip.
    p = _signflip_exact_p(ranks[ranked != 0], r_plus)
    return WilcoxonResult(min(r_plus, r_minus), p, "exact-ties", n_nonzero, rank_biserial)


def min_possible_p(n_pairs: int, m: int = 1) -> float:
    """Smallest p the exact two-sided Wilcoxon test can give with n non-zero pairs, Holm over m.

    2 / 2**n is reached when all differences share a sign; Holm multiplies the smallest p of a
    family of m comparisons by m, so no comparison can go below m * 2 / 2**n.
    """
    return min(1.0, m * 2.0 / 2.0**n_pairs)


def seeds_needed(alpha: float = 0.05, m: int = 1) -> int:
    """Fewest pairs for which the exact Wilcoxon test (Holm over m) can reach p < alpha."""
    n = 1
    while min_possible_p(n, m) >= alpha:
        n += 1
    return n
