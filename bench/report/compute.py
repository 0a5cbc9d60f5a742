"""The statistics of a study, computed once per refresh from its runs table and records.

Every table is a view of one Holm family per metric (all pairs of variants, bench.stats'
"all-pairs" family): the baseline table (stats.csv), the pairwise table and the clique diagram
come from the same tests, so they cannot give opposite verdicts for one pair. McNemar on the
stored per-sample correctness vectors and, for a factorial sweep, the n-way repeated-measures
analysis are computed beside them.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import stats
from bench.files import write_text
from bench.report.metrics import ALPHA, metric_margins, tested_metrics
from bench.results import Study, load_study, runs_frame

__all__ = ["STATS_FILE", "StudyStats", "compute_stats", "factorial_keys", "write_stats_csv"]

log = logging.getLogger(__name__)

STATS_FILE = "stats.csv"
ACCURACY = "test_acc_pct"  # the metric the correctness vectors belong to (final epoch, test)
MCNEMAR_COLUMNS = [
    "mcnemar_only_baseline",
    "mcnemar_only_variant",
    "p_mcnemar_pooled",
    "p_mcnemar_pooled_holm",
    "mcnemar_seeds",
    "mcnemar_seeds_below_alpha",
]


@dataclass
class StudyStats:
    """Statistics of a study.

    table: one row per (dataset, metric, variant vs baseline): bench.stats.analyse columns
    (verdicts, TOST, Bayesian signed-rank, Friedman) plus MCNEMAR_COLUMNS on test_acc_pct
    rows; pairwise: every pair of the same family (k > 2); cliques: metric ->
    bench.stats.wilcoxon_holm_cliques (k > 2); mcnemar: bench.stats.paired_correctness
    (per seed and pooled); factorial: metric -> bench.stats.factorial_analysis (two or more
    swept keys crossed); margins: metric -> equivalence margin; skipped: what could not be
    computed, and why.
    """

    table: pd.DataFrame
    pairwise: pd.DataFrame = field(default_factory=pd.DataFrame)
    cliques: dict[str, dict[str, Any]] = field(default_factory=dict)
    mcnemar: pd.DataFrame = field(default_factory=pd.DataFrame)
    factorial: dict[str, dict[str, Any]] = field(default_factory=dict)
    margins: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs only: a failed or pruned run has no result, and its seed drops out of the
    pairs (bench.stats reports it under n_dropped)."""
    return runs[runs["status"] == "complete"].reset_index(drop=True)


def factorial_keys(study: Study, runs: pd.DataFrame) -> tuple[list[str], str | None]:
    """(swept keys, None) when the variants cross every level of two or more swept keys, else
    ([], why not)."""
    keys = [k for k in study.sweep_keys if k in runs.columns]
    if len(keys) < 2:
        return [], None
    cells = runs[keys].drop_duplicates()
    if cells.isna().any().any():
        return [], "some variant does not set every swept key"
    levels = [list(pd.unique(runs[k])) for k in keys]
    have = {tuple(row) for row in cells.itertuples(index=False)}
    if any(combo not in have for combo in product(*levels)):
        return [], (
            f"the variants do not cross every level of {' x '.join(keys)} (not a full "
            "factorial design, e.g. a confirmation of chosen configurations)"
        )
    return keys, None


def _correctness(study: Study) -> pd.DataFrame:
    """variant, seed, dataset, correct of the finished records that carry a vector."""
    rows = [
        {
            "variant": r["variant"],
            "seed": r.get("seed"),
            "dataset": (r.get("data") or {}).get("dataset") or study.dataset,
            "correct": r["correct"],
        }
        for r in study.records
        if r.get("status") == "complete" and r.get("correct") is not None
    ]
    return pd.DataFrame(rows, columns=["variant", "seed", "dataset", "correct"])


def _mcnemar(study: Study, out: StudyStats) -> None:
    frame = _correctness(study)
    if frame.empty:
        out.skipped["McNemar"] = "no finished run stores its per-sample correctness vector"
        return
    try:
        out.mcnemar = stats.paired_correctness(frame, str(study.baseline))
    except ValueError as err:
        out.skipped["McNemar"] = str(err)
        return
    seeds = out.mcnemar[out.mcnemar["scope"] == "seed"]
    pooled = out.mcnemar[out.mcnemar["scope"] == "pooled"].set_index("variant")
    acc = out.table["metric"] == ACCURACY
    by = out.table.loc[acc, "variant"]
    out.table.loc[acc, "mcnemar_only_baseline"] = by.map(pooled["only_baseline"])
    out.table.loc[acc, "mcnemar_only_variant"] = by.map(pooled["only_variant"])
    out.table.loc[acc, "p_mcnemar_pooled"] = by.map(pooled["p_mcnemar"])
    out.table.loc[acc, "p_mcnemar_pooled_holm"] = by.map(pooled["p_mcnemar_holm"])
    out.table.loc[acc, "mcnemar_seeds"] = by.map(seeds.groupby("variant").size())
    below = seeds.assign(b=seeds["p_mcnemar"] < ALPHA).groupby("variant")["b"].sum()
    out.table.loc[acc, "mcnemar_seeds_below_alpha"] = by.map(below)


def _metric_stats(
    complete: pd.DataFrame, study: Study, metric: str, hib: bool, out: StudyStats
) -> pd.DataFrame | None:
    """Baseline rows of the metric's family; pairwise rows and cliques when k > 2."""
    margin = out.margins.get(metric, math.nan)
    margins = {metric: margin} if math.isfinite(margin) else None
    try:
        table = stats.analyse(
            complete, str(study.baseline), [metric], {metric: hib}, margins=margins
        )
    except ValueError as err:
        out.skipped[metric] = str(err)
        return None
    if complete["variant"].nunique() > 2:
        try:
            pairs = stats.analyse_pairwise(
                complete, [metric], {metric: hib}, baseline=study.baseline, margins=margins
            )
            with warnings.catch_warnings():  # scipy warns when every seed ties all variants
                warnings.simplefilter("ignore", RuntimeWarning)
                cliques = stats.wilcoxon_holm_cliques(
                    complete, metric, higher_is_better=hib, baseline=study.baseline
                )
        except ValueError as err:
            out.skipped[f"{metric} (pairwise and cliques)"] = str(err)
        else:
            out.pairwise = pd.concat([out.pairwise, pairs], ignore_index=True)
            if math.isfinite(cliques["friedman_p"]):
                out.cliques[metric] = cliques
    return table


def _factorial(complete: pd.DataFrame, study: Study, out: StudyStats) -> None:
    keys, why = factorial_keys(study, complete)
    if why:
        out.skipped["factorial analysis"] = why
    if not keys:
        return
    for metric in tested_metrics(study):
        if metric not in complete.columns:
            continue
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out.factorial[metric] = stats.factorial_analysis(complete, keys, metric)
        except ValueError as err:
            out.skipped[f"{metric} (factorial)"] = str(err)


def compute_stats(
    study: Study, runs: pd.DataFrame | None = None, *, margins: dict[str, float] | None = None
) -> StudyStats:
    """Every statistic of an ablation study (see StudyStats), metric by metric, so that a
    metric that cannot be tested (missing values, one variant) is skipped with its reason
    instead of sinking the rest. margins: metric -> equivalence margin, over study.json's
    "margins" and the defaults. Searches have no baseline and get no tests."""
    runs = runs_frame(study) if runs is None else runs
    complete = finished(runs)
    out = StudyStats(pd.DataFrame(columns=[*stats.COMPARE_COLUMNS, *MCNEMAR_COLUMNS]))
    metrics = tested_metrics(study)
    if study.kind != "ablation" or not study.baseline:
        out.skipped = {m: "a search has no baseline to compare with" for m in metrics}
        return out
    out.margins = metric_margins(study, margins)
    tables = []
    for metric, hib in metrics.items():
        if metric not in runs.columns:
            out.skipped[metric] = f"no run records the metric {metric!r}"
            continue
        table = _metric_stats(complete, study, metric, hib, out)
        if table is not None:
            tables.append(table)
    if tables:
        out.table = pd.concat(tables, ignore_index=True).reindex(
            columns=list(dict.fromkeys([*tables[0].columns, *MCNEMAR_COLUMNS]))
        )
        _mcnemar(study, out)
    _factorial(complete, study, out)
    return out


def write_stats_csv(study_dir: Study | str | Path, result: StudyStats | None = None) -> Path:
    """Write stats.csv: one row per (dataset, metric, variant vs baseline), StudyStats.table."""
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    result = compute_stats(study) if result is None else result
    return write_text(study.path / STATS_FILE, result.table.to_csv(index=False))
