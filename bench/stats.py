"""Statistics of paired-seed ablations.

Pure functions over a tidy runs table: one row per run with columns ``variant``, ``seed``,
``dataset`` (optional when there is a single dataset) and numeric metric columns. Seeds are
paired across variants (seed s fixes init, data order and augmentation for every variant), so
every comparison is on per-seed differences.

Wilcoxon signed-rank p-values (see ``_wilcoxon``), recorded in the ``wilcoxon_method`` column:

* ``exact``: no zero and no tied differences -> ``scipy.stats.wilcoxon(method="exact")``, the
  exact null distribution, at any n (scipy's ``method="auto"`` would switch to the normal
  approximation above n = 50).
* ``exact-ties``: zero or tied |differences|. scipy's ``method="exact"`` then rounds the statistic
  and uses the no-ties distribution, which is not exact (it can be anti-conservative), and its
  ``method="auto"`` enumerates the 2**n sign flips only for n <= 13 and goes asymptotic beyond.
  We enumerate the sign-flip null distribution of the mid-rank sum exactly at any n instead (a
  convolution over doubled ranks); for n <= 13 this equals scipy's ``method="auto"``.
* ``degenerate``: every difference is zero -> p = 1.

Zeros follow ``zero_method``: ``"wilcox"`` (default) drops zero differences before ranking,
``"pratt"`` ranks them and then gives them no sign. Either way, with n_nonzero non-zero
differences the smallest two-sided p the exact test can ever give is 2 / 2**n_nonzero
(all differences of one sign), so n = 5 can never reach p < 0.05 and n = 6 can (0.03125); Holm
over m comparisons raises that floor to m * 2 / 2**n_nonzero, and verdicts say so.

Effect sizes: d_z = mean difference / sd of differences; matched-pairs rank-biserial
r = (R+ - R-) / (sum of all ranks), +1 when every difference favours the variant's side
(under "pratt" the zeros' ranks count in the denominator).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "analyse",
    "analyse_pairwise",
    "compare_to_baseline",
    "critical_difference_diagram",
    "friedman_test",
    "min_possible_p",
    "pairwise_wilcoxon_holm",
    "seeds_needed",
    "summarize",
]

# Relative tolerance under which two |differences| count as tied (or a difference as zero).
# Accuracies are fractions of a fixed test-set size, so equal differences computed from
# different pairs can disagree in the last bits; without snapping they would not rank as ties.
_TIE_RTOL = 1e-9


# --------------------------------------------------------------------------- input checks


def _check_columns(runs: pd.DataFrame, metrics: Iterable[str]) -> None:
    for col in ("variant", "seed"):
        if col not in runs.columns:
            raise ValueError(
                f"the runs table has no {col!r} column; it needs one row per run with "
                f"'variant', 'seed' and metric columns."
            )
    for metric in metrics:
        if metric not in runs.columns:
            raise ValueError(
                f"metric column {metric!r} is not in the runs table "
                f"(columns: {', '.join(map(str, runs.columns))}); pass one of those."
            )


def _select_dataset(runs: pd.DataFrame, dataset: str | None) -> tuple[pd.DataFrame, str | None]:
    """Rows of one dataset; with dataset=None the table must hold at most one dataset."""
    if "dataset" not in runs.columns:
        if dataset is not None:
            raise ValueError(
                f"dataset={dataset!r} was asked for but the runs table has no 'dataset' column."
            )
        return runs, None
    present = [d for d in pd.unique(runs["dataset"]) if pd.notna(d)]
    if dataset is None:
        if len(present) > 1:
            raise ValueError(
                f"the runs table holds several datasets ({', '.join(map(str, present))}); "
                f"pass dataset= one of them."
            )
        return runs, (present[0] if present else None)
    if dataset not in present:
        raise ValueError(
            f"dataset {dataset!r} has no runs (datasets present: "
            f"{', '.join(map(str, present)) or 'none'}); pass one of those."
        )
    return runs[runs["dataset"] == dataset], dataset


def _wide(df: pd.DataFrame, metric: str, dataset: str | None) -> pd.DataFrame:
    """Seed x variant table of one metric; NaN where a run is missing or has no value."""
    dup = df.duplicated(subset=["variant", "seed"], keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(
            f"dataset {dataset!r} has {int(dup.sum())} rows sharing a (variant, seed), e.g. "
            f"variant {row['variant']!r} seed {row['seed']!r}; keep one run per variant and seed."
        )
    values = pd.to_numeric(df[metric], errors="coerce")
    wide = df.assign(_value=values).pivot(index="seed", columns="variant", values="_value")
    # Order of first appearance, so tables follow the order the user listed the variants in.
    return wide.reindex(columns=list(pd.unique(df["variant"]))).sort_index()


# --------------------------------------------------------------------------- building blocks


@dataclass(frozen=True)
class _Wilcoxon:
    statistic: float  # min(R+, R-), as scipy reports it for two-sided tests
    p: float
    method: str
    n_nonzero: int
    rank_biserial: float


def _snap(d: np.ndarray) -> np.ndarray:
    """Round differences relative to the largest one so float noise cannot break ties/zeros."""
    scale = float(np.max(np.abs(d))) if d.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return d.astype(float)
    decimals = int(round(-math.log10(_TIE_RTOL)))
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


def _wilcoxon(d: np.ndarray, zero_method: str = "wilcox") -> _Wilcoxon:
    """Two-sided Wilcoxon signed-rank test on paired differences d (see module docstring)."""
    if zero_method not in ("wilcox", "pratt"):
        raise ValueError(f"zero_method must be 'wilcox' or 'pratt', not {zero_method!r}.")
    d = _snap(np.asarray(d, dtype=float))
    nonzero = d != 0
    n_nonzero = int(nonzero.sum())
    if n_nonzero == 0:
        return _Wilcoxon(0.0, 1.0, "degenerate", 0, 0.0)
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
        return _Wilcoxon(float(res.statistic), float(res.pvalue), "exact", n_nonzero,
                         rank_biserial)
    # Zeros (ranked under pratt) contribute to neither sign, so only non-zero ranks flip.
    p = _signflip_exact_p(ranks[ranked != 0], r_plus)
    return _Wilcoxon(min(r_plus, r_minus), p, "exact-ties", n_nonzero, rank_biserial)


def _holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values; NaN entries (untestable comparisons) stay NaN and are not counted."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        # Step-down: the i-th smallest p times (m - i), made monotone, capped at 1. Written out
        # because statsmodels' multipletests runs gc.collect() on every call (~0.4 s).
        q = p[ok]
        order = np.argsort(q, kind="stable")
        scaled = (len(q) - np.arange(len(q))) * q[order]
        adjusted = np.empty_like(q)
        adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
        out[ok] = adjusted
    return out


def _t_ci(values: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """mean, sd, and the t-based confidence interval of the mean."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


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


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.3g}"


def _verdict(row: dict[str, Any], m: int, alpha: float) -> str:
    v, b, metric = row["variant"], row["baseline"], row["metric"]
    ci = f"{100 * (1 - alpha):g}% CI [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
    ps = f"p_holm = {_fmt(row['p_wilcoxon_holm'])} (Wilcoxon), {_fmt(row['p_t_holm'])} (t)"
    if row["min_possible_p_holm"] >= alpha:
        pairs = "pairs" if row["n_nonzero"] == row["n"] else "non-zero pairs"
        family = f" after Holm over {m} comparisons" if m > 1 else ""
        which = "p_holm" if m > 1 else "p"
        return (
            f"n = {row['n_nonzero']} {pairs} cannot reach {which} < {alpha:g} with the exact "
            f"Wilcoxon test{family} (minimum {which} = {_fmt(row['min_possible_p_holm'])}): "
            f"no verdict; run at least {seeds_needed(alpha, m)} seeds "
            f"(observed {v} - {b} = {_fmt(row['diff'])}, {ci}; {ps})."
        )
    if not row["significant"]:
        return (
            f"no significant difference in {metric} between {v} and {b} "
            f"({v} - {b} = {_fmt(row['diff'])}, {ci}, {ps})."
        )
    higher = row["diff"] > 0
    better = higher == row["higher_is_better"]
    return (
        f"{v} is {'higher' if higher else 'lower'} than {b} in {metric} by "
        f"{_fmt(abs(row['diff']))} ({'better' if better else 'worse'}; {ci}), {ps}."
    )


# --------------------------------------------------------------------------- public API


def compare_to_baseline(
    runs: pd.DataFrame,
    baseline: str,
    metric: str,
    *,
    dataset: str | None = None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    zero_method: str = "wilcox",
) -> pd.DataFrame:
    """Each non-baseline variant against the baseline on paired seeds of one dataset.

    Returns one row per non-baseline variant (order of first appearance) with columns:
    dataset, metric, variant, baseline, n (pairs used), n_dropped and dropped_seeds (seeds with
    a value for only one of the two), mean_baseline and mean_variant (over the paired seeds),
    diff (mean of variant - baseline), ci_low/ci_high (t-interval of diff at 1 - alpha),
    wilcoxon_stat, p_wilcoxon, p_wilcoxon_holm, wilcoxon_method, n_nonzero, t_stat, p_t,
    p_t_holm (Holm over the variants of this call), d_z (mean diff / sd of diffs),
    rank_biserial (matched pairs, +1 when every difference is positive), min_possible_p
    (2 / 2**n_nonzero), min_possible_p_holm (the same times the number of comparisons),
    higher_is_better, significant (p_wilcoxon_holm < alpha) and a verdict sentence.
    """
    _check_columns(runs, [metric])
    df, ds = _select_dataset(runs, dataset)
    wide = _wide(df, metric, ds)
    variants = list(wide.columns)
    if baseline not in variants:
        raise ValueError(
            f"baseline {baseline!r} is not among the variants of dataset {ds!r} "
            f"({', '.join(map(str, variants))}); pass one of those."
        )
    others = [v for v in variants if v != baseline]
    if not others:
        raise ValueError(
            f"dataset {ds!r} has only the baseline {baseline!r}; there is nothing to compare it to."
        )

    rows: list[dict[str, Any]] = []
    for v in others:
        pair = wide[[baseline, v]]
        both = pair.notna().all(axis=1)
        one = pair.notna().any(axis=1) & ~both
        n = int(both.sum())
        if n < 2:
            raise ValueError(
                f"variant {v!r} and baseline {baseline!r} share {n} seed(s) with a {metric} "
                f"value on dataset {ds!r}; a paired comparison needs at least 2 seeds run for both."
            )
        xb = pair.loc[both, baseline].to_numpy(float)
        xv = pair.loc[both, v].to_numpy(float)
        d = xv - xb
        mean_d, sd_d, lo, hi = _t_ci(d, 1 - alpha)
        w = _wilcoxon(d, zero_method)
        if np.ptp(_snap(d)) > 0:
            t = sps.ttest_rel(xv, xb)
            t_stat, p_t, d_z = float(t.statistic), float(t.pvalue), mean_d / sd_d
        elif mean_d != 0:
            # The same difference on every seed (e.g. a metric fixed by the architecture):
            # t is infinite and p is 0, which is scipy's limit; float noise would instead give a
            # huge finite t and a precision warning.
            t_stat, p_t, d_z = math.copysign(math.inf, mean_d), 0.0, math.copysign(math.inf, mean_d)
        else:  # no difference on any seed: t is undefined
            t_stat, p_t, d_z = math.nan, math.nan, math.nan
        rows.append(
            {
                "dataset": ds,
                "metric": metric,
                "variant": v,
                "baseline": baseline,
                "n": n,
                "n_dropped": int(one.sum()),
                "dropped_seeds": ",".join(map(str, pair.index[one])),
                "mean_baseline": float(xb.mean()),
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
            }
        )

    out = pd.DataFrame(rows)
    m = len(out)
    out["p_wilcoxon_holm"] = _holm(out["p_wilcoxon"])
    out["p_t_holm"] = _holm(out["p_t"])
    out["min_possible_p_holm"] = [min_possible_p(k, m) for k in out["n_nonzero"]]
    out["higher_is_better"] = higher_is_better
    out["significant"] = out["p_wilcoxon_holm"] < alpha
    out["verdict"] = [_verdict(r, m, alpha) for r in out.to_dict("records")]
    return out[_COMPARE_COLUMNS]


_COMPARE_COLUMNS = [
    "dataset", "metric", "variant", "baseline", "n", "n_dropped", "dropped_seeds",
    "mean_baseline", "mean_variant", "diff", "ci_low", "ci_high",
    "wilcoxon_stat", "p_wilcoxon", "p_wilcoxon_holm", "wilcoxon_method", "n_nonzero",
    "t_stat", "p_t", "p_t_holm", "d_z", "rank_biserial",
    "min_possible_p", "min_possible_p_holm", "higher_is_better", "significant", "verdict",
]


def _complete_blocks(
    runs: pd.DataFrame, metric: str, dataset: str | None
) -> tuple[pd.DataFrame, str | None, list[Any]]:
    """Seed x variant values restricted to seeds that have a value for every variant."""
    _check_columns(runs, [metric])
    df, ds = _select_dataset(runs, dataset)
    wide = _wide(df, metric, ds)
    complete = wide.notna().all(axis=1)
    return wide[complete], ds, list(wide.index[~complete])


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
    blocks, ds, dropped = _complete_blocks(runs, metric, dataset)
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


def pairwise_wilcoxon_holm(
    runs: pd.DataFrame,
    metric: str,
    *,
    dataset: str | None = None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
) -> pd.DataFrame:
    """All pairs of variants, Wilcoxon signed-rank on the Friedman blocks, Holm over all pairs.

    Uses the same complete seeds as friedman_test so the post-hoc and the omnibus test see the
    same data. Returns one row per pair (variant_a before variant_b in order of appearance):
    dataset, metric, variant_a, variant_b, n, mean_a, mean_b, diff (a - b), wilcoxon_stat,
    p_wilcoxon, p_wilcoxon_holm, wilcoxon_method, rank_biserial, significant.
    """
    blocks, ds, _ = _complete_blocks(runs, metric, dataset)
    cols = list(blocks.columns)
    if len(cols) < 2 or len(blocks) < 2:
        raise ValueError(
            f"pairwise tests need at least 2 variants and 2 seeds complete for all of them; "
            f"dataset {ds!r} has {len(cols)} variant(s) and {len(blocks)} complete seed(s)."
        )
    rows = []
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            xa, xb = blocks[a].to_numpy(float), blocks[b].to_numpy(float)
            w = _wilcoxon(xa - xb, zero_method)
            rows.append(
                {
                    "dataset": ds, "metric": metric, "variant_a": a, "variant_b": b,
                    "n": len(xa), "mean_a": float(xa.mean()), "mean_b": float(xb.mean()),
                    "diff": float((xa - xb).mean()), "wilcoxon_stat": w.statistic,
                    "p_wilcoxon": w.p, "wilcoxon_method": w.method,
                    "rank_biserial": w.rank_biserial,
                }
            )
    out = pd.DataFrame(rows)
    out.insert(out.columns.get_loc("p_wilcoxon") + 1, "p_wilcoxon_holm", _holm(out["p_wilcoxon"]))
    out["significant"] = out["p_wilcoxon_holm"] < alpha
    return out


def _p_matrix(pairs: pd.DataFrame, variants: Sequence[Any], col: str) -> pd.DataFrame:
    """Symmetric variant x variant matrix of a pairwise p-value column, 1 on the diagonal."""
    mat = pd.DataFrame(1.0, index=list(variants), columns=list(variants))
    for a, b, p in pairs[["variant_a", "variant_b", col]].itertuples(index=False):
        mat.loc[a, b] = mat.loc[b, a] = p
    return mat


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
    """Critical-difference diagram: Friedman mean ranks (1 = best) on an axis, with a bar
    joining variants whose pairwise Wilcoxon-Holm p is not below alpha (Benavoli et al. 2016,
    instead of the Nemenyi CD). Drawn by scikit_posthocs.critical_difference_diagram.

    Returns (figure, axes); a new figure is made (without pyplot) when ax is None.
    """
    import scikit_posthocs as sp
    from matplotlib.figure import Figure

    fr = friedman_test(runs, metric, dataset=dataset, higher_is_better=higher_is_better)
    pairs = pairwise_wilcoxon_holm(
        runs, metric, dataset=fr["dataset"], alpha=alpha, zero_method=zero_method
    )
    if ax is None:
        fig = Figure(figsize=(6, 0.6 * fr["k"] + 1.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    sig = _p_matrix(pairs, fr["variants"], "p_wilcoxon_holm")
    sp.critical_difference_diagram(
        pd.Series(fr["mean_ranks"]), sig, ax=ax, alpha=alpha,
        # scikit-posthocs' default .2g would print a mean rank of 1.25 as 1.2.
        label_fmt_left="{label} ({rank:.3g})", label_fmt_right="({rank:.3g}) {label}",
    )
    # The conventional CD axis spans every possible mean rank, 1 .. k.
    ax.set_xlim(1, fr["k"])
    where = f" on {fr['dataset']}" if fr["dataset"] is not None else ""
    ax.set_title(
        f"{metric}{where}: mean rank (1 = best), Friedman p = {_fmt(fr['p'])}, "
        f"n = {fr['n_blocks']} seeds\nbars join variants with Wilcoxon-Holm p >= {alpha:g}",
        fontsize="small",
    )
    return fig, ax


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
    _check_columns(runs, metrics)
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
            mean, sd, lo, hi = _t_ci(values, confidence)
            rows.append(
                {**dict(zip(by, key, strict=True)), "metric": metric, "n": len(values),
                 "mean": mean, "std": sd, "ci_low": lo, "ci_high": hi}
            )
    return pd.DataFrame(rows, columns=[*by, "metric", "n", "mean", "std", "ci_low", "ci_high"])


def _datasets(runs: pd.DataFrame) -> list[str | None]:
    if "dataset" not in runs.columns:
        return [None]
    return [d for d in pd.unique(runs["dataset"]) if pd.notna(d)]


def _direction(higher_is_better: Mapping[str, bool], metric: str) -> bool:
    if metric not in higher_is_better:
        raise ValueError(
            f"higher_is_better has no entry for metric {metric!r}; add {metric!r}: True or False."
        )
    return bool(higher_is_better[metric])


def analyse(
    runs: pd.DataFrame,
    baseline: str,
    metrics: Sequence[str],
    higher_is_better: Mapping[str, bool],
    *,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
) -> pd.DataFrame:
    """compare_to_baseline for every dataset and metric, as one tidy table for stats.csv.

    Holm families are (dataset, metric). Columns are those of compare_to_baseline plus, where a
    dataset has k > 2 variants and at least 2 seeds complete for all of them, the Friedman
    test: friedman_stat, friedman_p, friedman_n_blocks, mean_rank (of the row's variant) and
    mean_rank_baseline (1 = best); NaN otherwise. The all-pairs table is analyse_pairwise.
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    _check_columns(runs, metrics)
    tables = []
    for ds in _datasets(runs):
        for metric in metrics:
            hib = _direction(higher_is_better, metric)
            cmp = compare_to_baseline(
                runs, baseline, metric, dataset=ds, alpha=alpha, higher_is_better=hib,
                zero_method=zero_method,
            )
            fr = _friedman_or_none(runs, metric, ds, hib)
            cmp["friedman_stat"] = fr["statistic"] if fr else math.nan
            cmp["friedman_p"] = fr["p"] if fr else math.nan
            cmp["friedman_n_blocks"] = fr["n_blocks"] if fr else math.nan
            cmp["mean_rank"] = cmp["variant"].map(fr["mean_ranks"]) if fr else math.nan
            cmp["mean_rank_baseline"] = fr["mean_ranks"][baseline] if fr else math.nan
            tables.append(cmp)
    return pd.concat(tables, ignore_index=True)


def _friedman_or_none(
    runs: pd.DataFrame, metric: str, dataset: str | None, higher_is_better: bool
) -> dict[str, Any] | None:
    blocks, _, _ = _complete_blocks(runs, metric, dataset)
    if blocks.shape[1] < 3 or len(blocks) < 2:
        return None
    return friedman_test(runs, metric, dataset=dataset, higher_is_better=higher_is_better)


def analyse_pairwise(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    *,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
) -> pd.DataFrame:
    """pairwise_wilcoxon_holm for every dataset with k > 2 variants and every metric, stacked
    (Holm within each dataset and metric); empty with the same columns when there is none."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    _check_columns(runs, metrics)
    tables = []
    for ds in _datasets(runs):
        for metric in metrics:
            blocks, _, _ = _complete_blocks(runs, metric, ds)
            if blocks.shape[1] >= 3 and len(blocks) >= 2:
                tables.append(
                    pairwise_wilcoxon_holm(
                        runs, metric, dataset=ds, alpha=alpha, zero_method=zero_method
                    )
                )
    if not tables:
        return pd.DataFrame(columns=[
            "dataset", "metric", "variant_a", "variant_b", "n", "mean_a", "mean_b", "diff",
            "wilcoxon_stat", "p_wilcoxon", "p_wilcoxon_holm", "wilcoxon_method",
            "rank_biserial", "significant",
        ])
    return pd.concat(tables, ignore_index=True)
