"""Factorial studies: n-way repeated-measures ANOVA, aligned rank transform, simple effects.

Seeds are the subjects and every swept key a within-subject factor: each seed runs every cell
(combination of levels), a balanced design (seeds missing a cell are dropped). With the
subject x cell array Y, the component of an effect E (a set of axes, the subject axis 0
included or not) is Y averaged over the axes outside E and double-centred along those in E;
its sum of squares is the sum of that component squared over all cells. Each factor effect E
is tested against its own error term, the E x subject interaction (the classic RM-ANOVA,
as statsmodels' AnovaRM), with a Greenhouse-Geisser corrected p beside it.

ART (Wobbrock, Findlater, Gergle, Higgins 2011, CHI): for each effect, align the response
(residual from the cell mean plus the estimated effect from the marginal means), rank it
(mid-ranks over all observations), run the full RM-ANOVA on the ranks and read only that
effect: a nonparametric check of main effects and interactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, product
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg
from scipy import stats as sps

from bench.stats._frame import check_columns, check_unique, select_dataset
from bench.stats.describe import summarize
from bench.stats.paired import holm, paired_t, t_ci
from bench.stats.wilcoxon import wilcoxon_exact

__all__ = ["FACTORIAL_METHOD", "art_anova", "factorial_analysis", "rm_anova", "simple_effects"]

FACTORIAL_METHOD = (
    "n-way repeated-measures ANOVA (seeds as subjects, each effect tested against its "
    "effect x seed interaction, Greenhouse-Geisser p beside it) and the aligned rank "
    "transform (ART) as a nonparametric check"
)

_ANOVA_COLUMNS = [
    "effect",
    "df",
    "df_error",
    "ss",
    "ss_error",
    "F",
    "p",
    "partial_eta_sq",
    "gg_epsilon",
    "p_gg",
]


def cell_array(
    runs: pd.DataFrame,
    factors: Sequence[str],
    metric: str,
    subject: str = "seed",
    dataset: str | None = None,
) -> tuple[np.ndarray, list[list[Any]], list[Any], list[Any]]:
    """(Y, levels, subjects, dropped): Y[s, i1, ..., ik] is the metric of subject s in the cell
    of levels (i1 .. ik), levels in order of appearance; subjects lacking a cell are dropped."""
    factors = list(factors)
    if not factors:
        raise ValueError("factorial analysis needs at least one factor column.")
    check_columns(runs, [metric, *factors], keys=(subject,))
    df, ds = select_dataset(runs, dataset)
    df = df.assign(_y=pd.to_numeric(df[metric], errors="coerce")).dropna(subset=["_y"])
    check_unique(df, [subject, *factors], ds)
    levels = [list(pd.unique(df[f])) for f in factors]
    few = [f for f, lv in zip(factors, levels, strict=True) if len(lv) < 2]
    if few:
        raise ValueError(f"factor(s) {', '.join(few)} have a single level; sweep at least two.")
    cells = (
        pd.MultiIndex.from_product(levels, names=factors)
        if len(factors) > 1
        else pd.Index(levels[0], name=factors[0])
    )
    table = df.pivot_table(index=subject, columns=factors, values="_y", aggfunc="first")
    table = table.reindex(columns=cells)
    complete = table.notna().all(axis=1)
    if complete.sum() < 2:
        raise ValueError(
            f"only {int(complete.sum())} {subject}(s) ran every cell of {' x '.join(factors)} "
            f"with a {metric} value; a repeated-measures analysis needs at least 2."
        )
    values = table[complete].to_numpy(float).reshape(-1, *map(len, levels))
    return values, levels, list(table.index[complete]), list(table.index[~complete])


def _component(y: np.ndarray, axes: set[int]) -> np.ndarray:
    """Averaged over the axes outside `axes`, centred along those in it (commuting projections)."""
    z = y
    for a in range(y.ndim):
        z = z - z.mean(axis=a, keepdims=True) if a in axes else z.mean(axis=a, keepdims=True)
    return z


def _ss(y: np.ndarray, axes: set[int]) -> float:
    z = _component(y, axes)
    return float((z**2).sum()) * (y.size / z.size)


def _gg_epsilon(y: np.ndarray, axes: Sequence[int]) -> float:
    """Greenhouse-Geisser epsilon of an effect: tr(S)^2 / (df tr(S^2)), S the covariance of the
    subjects' orthonormal contrast scores for the effect (1 for a one-df effect)."""
    keep = [a for a in range(1, y.ndim) if a not in axes]
    marg = y.mean(axis=tuple(keep)) if keep else y
    contrast = np.ones((1, 1))
    for a in axes:
        contrast = np.kron(contrast, linalg.null_space(np.ones((1, y.shape[a]))).T)
    scores = marg.reshape(len(y), -1) @ contrast.T
    if scores.shape[1] == 1:
        return 1.0
    cov = np.cov(scores, rowvar=False)
    denom = scores.shape[1] * float(np.trace(cov @ cov))
    return float(np.trace(cov) ** 2 / denom) if denom > 0 else 1.0


def _effects(ndim: int) -> list[tuple[int, ...]]:
    """Factor axes (1 .. ndim - 1) of every effect: main effects, then interactions by order."""
    return [c for size in range(1, ndim) for c in combinations(range(1, ndim), size)]


def _anova_array(y: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """RM-ANOVA table of every main effect and interaction of a subject x cell array."""
    n_sub, rows = y.shape[0], []
    for axes in _effects(y.ndim):
        df = int(np.prod([y.shape[a] - 1 for a in axes]))
        df_err = df * (n_sub - 1)
        ss, ss_err = _ss(y, set(axes)), _ss(y, {0, *axes})
        if ss_err > 0:
            f = (ss / df) / (ss_err / df_err)
        else:  # no subject-to-subject variation of the effect: F infinite, or undefined at 0
            f = np.inf if ss > 0 else np.nan
        eps = _gg_epsilon(y, axes)
        rows.append(
            {
                "effect": ":".join(names[a - 1] for a in axes),
                "df": df,
                "df_error": df_err,
                "ss": ss,
                "ss_error": ss_err,
                "F": f,
                "p": float(sps.f.sf(f, df, df_err)),
                "partial_eta_sq": ss / (ss + ss_err) if ss + ss_err > 0 else np.nan,
                "gg_epsilon": eps,
                "p_gg": float(sps.f.sf(f, df * eps, df_err * eps)),
            }
        )
    return pd.DataFrame(rows, columns=_ANOVA_COLUMNS)


def rm_anova(
    runs: pd.DataFrame,
    factors: Sequence[str],
    metric: str,
    subject: str = "seed",
    *,
    dataset: str | None = None,
) -> pd.DataFrame:
    """n-way RM-ANOVA, one row per effect (main effects, then interactions by order; name
    'a:b' as AnovaRM): effect, df, df_error, ss, ss_error, F, p, partial_eta_sq, gg_epsilon,
    p_gg (Greenhouse-Geisser corrected p)."""
    y, _, _, _ = cell_array(runs, factors, metric, subject, dataset)
    return _anova_array(y, list(factors))


def _aligned(y: np.ndarray, axes: set[int]) -> np.ndarray:
    """ART step 1-2: residual from the cell mean plus the estimated effect of `axes`."""
    cell_mean = y.mean(axis=0, keepdims=True)
    return (y - cell_mean) + _component(cell_mean, axes)


def art_anova(
    runs: pd.DataFrame,
    factors: Sequence[str],
    metric: str,
    subject: str = "seed",
    *,
    dataset: str | None = None,
) -> pd.DataFrame:
    """Aligned rank transform: the RM-ANOVA row of each effect on its own aligned ranks (same
    columns as rm_anova; ss are sums of squares of ranks)."""
    y, _, _, _ = cell_array(runs, factors, metric, subject, dataset)
    rows = []
    for i, axes in enumerate(_effects(y.ndim)):
        ranks = sps.rankdata(_aligned(y, set(axes)).ravel()).reshape(y.shape)
        rows.append(_anova_array(ranks, list(factors)).iloc[i])
    return pd.DataFrame(rows).reset_index(drop=True)


def _slice_rows(
    y: np.ndarray,
    levels: list[list[Any]],
    factors: list[str],
    i: int,
    where: tuple[int, ...],
    zero_method: str,
) -> list[dict[str, Any]]:
    """Paired tests between the levels of factor i at one combination of the other factors."""
    others = [j for j in range(len(factors)) if j != i]
    index: list[Any] = [slice(None)] * (len(factors) + 1)
    for j, w in zip(others, where, strict=True):
        index[j + 1] = w
    sub = y[tuple(index)]  # subjects x levels of factor i
    one_way = _anova_array(sub, [factors[i]]).iloc[0]
    fixed = {factors[j]: levels[j][w] for j, w in zip(others, where, strict=True)}
    label = " ".join(f"{k}={v}" for k, v in fixed.items())
    rows = []
    for a, b in combinations(range(sub.shape[1]), 2):
        d = sub[:, b] - sub[:, a]
        mean, _, lo, hi = t_ci(d, 0.95)
        t, p_t, d_z = paired_t(sub[:, b], sub[:, a])
        w = wilcoxon_exact(d, zero_method)
        rows.append(
            {
                "factor": factors[i],
                "within": label,
                **fixed,
                "level": levels[i][b],
                "reference": levels[i][a],
                "n": len(d),
                "mean_reference": float(sub[:, a].mean()),
                "mean_level": float(sub[:, b].mean()),
                "diff": mean,
                "ci_low": lo,
                "ci_high": hi,
                "t_stat": t,
                "p_t": p_t,
                "d_z": d_z,
                "p_wilcoxon": w.p,
                "wilcoxon_method": w.method,
                "slice_F": float(one_way["F"]),
                "slice_df": int(one_way["df"]),
                "slice_df_error": int(one_way["df_error"]),
                "slice_p": float(one_way["p"]),
            }
        )
    return rows


def simple_effects(
    runs: pd.DataFrame,
    factors: Sequence[str],
    metric: str,
    subject: str = "seed",
    *,
    dataset: str | None = None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
) -> pd.DataFrame:
    """Effect of each factor within each combination of levels of the others, paired by subject.

    One row per (factor, slice, pair of its levels): factor, within (e.g. 'neuron=lif'), one
    column per other factor with its fixed level, level, reference (the earlier level), n,
    mean_reference, mean_level, diff (level - reference) with its 95% t-CI, t_stat, p_t, d_z,
    p_wilcoxon, wilcoxon_method, p_t_holm and p_wilcoxon_holm (Holm over all rows of the
    factor), significant (Wilcoxon p_holm < alpha), and the slice's one-way RM-ANOVA
    slice_F, slice_df, slice_df_error, slice_p.
    """
    factors = list(factors)
    y, levels, _, _ = cell_array(runs, factors, metric, subject, dataset)
    tables = []
    for i in range(len(factors)):
        grids = [range(len(levels[j])) for j in range(len(factors)) if j != i]
        rows = [
            r
            for where in product(*grids)
            for r in _slice_rows(y, levels, factors, i, where, zero_method)
        ]
        part = pd.DataFrame(rows)
        part["p_t_holm"] = holm(part["p_t"])
        part["p_wilcoxon_holm"] = holm(part["p_wilcoxon"])
        part["significant"] = part["p_wilcoxon_holm"] < alpha
        tables.append(part)
    return pd.concat(tables, ignore_index=True)


def factorial_analysis(
    runs: pd.DataFrame,
    factors: Sequence[str],
    metric: str,
    subject: str = "seed",
    *,
    dataset: str | None = None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
) -> dict[str, Any]:
    """Everything a factorial study reports about one metric.

    Returns a dict: method (FACTORIAL_METHOD), metric, factors, levels (factor -> levels),
    subjects (kept), dropped_subjects (lacking a cell), anova (rm_anova), art (art_anova),
    simple_effects, cell_means (summarize by the factors over the kept subjects: the data of
    an interaction plot).
    """
    factors = list(factors)
    _, levels, kept, dropped = cell_array(runs, factors, metric, subject, dataset)
    df, _ = select_dataset(runs, dataset)
    kept_rows = df[df[subject].isin(kept)]
    return {
        "method": FACTORIAL_METHOD,
        "metric": metric,
        "factors": factors,
        "levels": dict(zip(factors, levels, strict=True)),
        "subjects": kept,
        "dropped_subjects": dropped,
        "anova": rm_anova(runs, factors, metric, subject, dataset=dataset),
        "art": art_anova(runs, factors, metric, subject, dataset=dataset),
        "simple_effects": simple_effects(
            runs, factors, metric, subject, dataset=dataset, alpha=alpha, zero_method=zero_method
        ),
        "cell_means": summarize(kept_rows, [metric], by=factors),
    }
