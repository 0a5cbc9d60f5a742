"""Every figure of a study, drawn into <study>/plots/ from its tables and its statistics."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pandas as pd

from bench.figures.cliques import plot_cliques
from bench.figures.common import PLOTS_DIR
from bench.figures.curves import plot_curves
from bench.figures.energy import plot_accuracy_energy
from bench.figures.interaction import plot_interaction
from bench.figures.ladder import energy_frame, plot_energy_components
from bench.figures.search import plot_search
from bench.figures.seeds import plot_paired_differences, plot_seeds
from bench.report.compute import StudyStats, compute_stats
from bench.report.metrics import tested_metrics
from bench.results import Study, curves_frame, load_study, runs_frame

__all__ = ["plot_study"]

log = logging.getLogger(__name__)


def _ablation_figures(
    study: Study, runs: pd.DataFrame, curves: pd.DataFrame, result: StudyStats, out: Path
) -> list[Path | None]:
    baseline, variants = study.baseline, study.variants
    paths: list[Path | None] = []
    if baseline:  # the answer first: variant - baseline per seed, its CI and the band
        paths.append(
            plot_paired_differences(runs, result.table, baseline, out / "paired_differences.png")
        )
    for metric in tested_metrics(study):
        if metric in runs.columns:
            paths.append(
                plot_seeds(
                    runs, metric, out / f"seeds_{metric}.png", baseline=baseline, variants=variants
                )
            )
    paths += [plot_cliques(cl, out / f"cliques_{m}.png") for m, cl in result.cliques.items()]
    paths += [
        plot_interaction(fa, runs, out / f"interaction_{m}.png")
        for m, fa in result.factorial.items()
    ]
    paths.append(
        plot_curves(curves, out / "learning_curves.png", baseline=baseline, variants=variants)
    )
    return paths


def plot_study(
    study_dir: Study | str | Path,
    runs: pd.DataFrame | None = None,
    curves: pd.DataFrame | None = None,
    ostudy: optuna.Study | None = None,
    result: StudyStats | None = None,
) -> list[Path]:
    """Draw every figure of a study into <study>/plots/ and return their paths, the paired
    differences first. result: the study's statistics (computed when not given), so that the
    figures show the same tests as stats.csv and report.md.

    Stale figures of an earlier call are removed first, so the folder always matches the runs.
    """
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    runs = runs_frame(study) if runs is None else runs
    curves = curves_frame(study) if curves is None else curves
    out = study.path / PLOTS_DIR
    if out.is_dir():
        for old in out.glob("*.png"):
            old.unlink()
    if study.kind == "search":
        paths: list[Path | None] = list(plot_search(study, ostudy, out))
    else:
        result = compute_stats(study, runs) if result is None else result
        paths = _ablation_figures(study, runs, curves, result, out)
    paths.append(
        plot_accuracy_energy(
            runs, out / "accuracy_vs_energy.png", baseline=study.baseline, variants=study.variants
        )
    )
    ladders = energy_frame(study.records) if study.kind != "search" else None
    if ladders is not None and not ladders.empty:
        paths.append(plot_energy_components(ladders, out / "energy_components.png", "paper"))
    return [p for p in paths if p is not None]
