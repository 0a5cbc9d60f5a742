"""Figures of a study, from its tidy tables (and, for a search, its distinct trials).

Figures are built on `matplotlib.figure.Figure` (no pyplot state, no backend needed) inside
seaborn style contexts, so importing this module changes nobody's global matplotlib settings.
Every figure says what n is, marks the baseline, and labels its axes with units.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.visualization import matplotlib as ovm

from bench import stats
from bench.results import (
    METRIC_LABELS,
    Study,
    curves_frame,
    load_study,
    runs_frame,
    stats_metrics,
)

__all__ = [
    "plot_accuracy_energy",
    "plot_cd",
    "plot_curves",
    "plot_search",
    "plot_seeds",
    "plot_study",
    "pareto_front",
]

log = logging.getLogger(__name__)

DPI = 150
PLOTS_DIR = "plots"
ACC = "test_acc_pct"
ENERGY = "energy_paper_mj"
_BASELINE_COLOR = "0.2"


@contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        yield


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _n_text(counts: Sequence[int], unit: str = "seeds") -> str:
    lo, hi = min(counts), max(counts)
    return f"n = {lo} {unit} per variant" if lo == hi else f"n = {lo}-{hi} {unit} per variant"


def _tick_labels(variants: Sequence[str], baseline: str | None) -> list[str]:
    return [f"{v}\n(baseline)" if v == baseline else str(v) for v in variants]


def _palette(variants: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(variants, sns.color_palette("colorblind", len(variants)), strict=True))


def _complete(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "complete"]


# --------------------------------------------------------------------------------------- figures


def plot_seeds(
    runs: pd.DataFrame,
    metric: str,
    path: Path,
    *,
    baseline: str | None = None,
    variants: Sequence[str] | None = None,
) -> Path | None:
    """Every seed as a point per variant, the same seed joined across variants by a thin grey
    line, and the variant mean with its 95% t-CI. None when no run has the metric."""
    df = _complete(runs).dropna(subset=[metric])
    if df.empty:
        log.info("skipping the %s seed plot: no finished run has a value.", metric)
        return None
    variants = [v for v in (variants or pd.unique(df["variant"])) if v in set(df["variant"])]
    x = {v: i for i, v in enumerate(variants)}
    summary = stats.summarize(df, [metric], by=["variant"]).set_index("variant")
    colors = _palette(variants)
    with _style():
        fig = Figure(figsize=(max(4.0, 1.3 * len(variants) + 2), 4.2), layout="constrained")
        ax = fig.add_subplot()
        # Paired seeds: a line per seed shows whether the variants move together.
        for _, grp in df.groupby("seed"):
            grp = grp.assign(_x=grp["variant"].map(x)).sort_values("_x")
            ax.plot(grp["_x"], grp[metric], color="0.75", lw=0.7, zorder=1)
        rng = np.random.default_rng(0)  # fixed jitter: regenerated plots are identical
        for v in variants:
            vals = df.loc[df["variant"] == v, metric].to_numpy(float)
            jitter = rng.uniform(-0.06, 0.06, len(vals))
            ax.scatter(
                x[v] + jitter,
                vals,
                s=22,
                color=colors[v],
                alpha=0.8,
                zorder=2,
                edgecolor="white",
                linewidth=0.5,
            )
            s = summary.loc[v]
            err = np.array([[s["mean"] - s["ci_low"]], [s["ci_high"] - s["mean"]]])
            ax.errorbar(
                x[v] + 0.22,
                s["mean"],
                yerr=None if np.isnan(err).any() else err,
                fmt="D" if v == baseline else "o",
                color="black",
                ms=6,
                capsize=4,
                zorder=3,
            )
        if baseline in x:
            ax.axvspan(x[baseline] - 0.4, x[baseline] + 0.4, color="0.92", zorder=0)
            ax.axhline(
                summary.loc[baseline, "mean"], color=_BASELINE_COLOR, lw=0.8, ls="--", zorder=0
            )
        ax.set_xticks(range(len(variants)), _tick_labels(variants, baseline))
        ax.set_xlim(-0.6, len(variants) - 0.4)
        ax.set_xlabel("variant")
        ax.set_ylabel(_label(metric))
        counts = [int(summary.loc[v, "n"]) for v in variants]
        ax.set_title(
            f"{_label(metric)}\ndots: seeds ({_n_text(counts)}), grey lines join a seed; "
            f"black: mean and 95% t-CI",
            fontsize="small",
        )
    return _save(fig, path)


def _t_band(curves: pd.DataFrame) -> pd.DataFrame:
    """Per variant and epoch: n, mean, ci_low, ci_high of `value` (t-interval, as the tables)."""
    return stats.summarize(curves, ["value"], by=["variant", "epoch"])


def plot_curves(
    curves: pd.DataFrame,
    path: Path,
    *,
    baseline: str | None = None,
    variants: Sequence[str] | None = None,
) -> Path | None:
    """Test accuracy and train loss vs epoch: per variant the mean over seeds with a 95% t-CI
    band. None when there are no curves."""
    panels = [m for m in ("test_acc_pct", "train_loss") if m in set(curves["metric"])]
    if not panels:
        log.info("skipping the learning curves: no finished run has per-epoch curves.")
        return None
    variants = [
        v for v in (variants or pd.unique(curves["variant"])) if v in set(curves["variant"])
    ]
    colors = _palette(variants)
    with _style():
        fig = Figure(figsize=(5.2 * len(panels), 4.0), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        seeds_per_variant = curves.groupby("variant")["seed"].nunique()
        for ax, metric in zip(axes, panels, strict=True):
            band = _t_band(curves[curves["metric"] == metric])
            for v in variants:
                b = band[band["variant"] == v].sort_values("epoch")
                label = f"{v} (baseline)" if v == baseline else str(v)
                ax.plot(
                    b["epoch"],
                    b["mean"],
                    color=colors[v],
                    label=label,
                    lw=2.2 if v == baseline else 1.4,
                    ls="-" if v == baseline else "--",
                )
                ok = b["ci_low"].notna()
                ax.fill_between(
                    b["epoch"][ok],
                    b["ci_low"][ok],
                    b["ci_high"][ok],
                    color=colors[v],
                    alpha=0.18,
                    lw=0,
                )
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(
                "test accuracy (%)" if metric == "test_acc_pct" else "training loss (per sample)"
            )
            ax.set_title(
                f"{'test accuracy' if metric == 'test_acc_pct' else 'training loss'} per epoch\n"
                f"mean and 95% t-CI band, {_n_text(list(seeds_per_variant.loc[variants]))}",
                fontsize="small",
            )
        axes[0].legend(fontsize="small", title="variant", title_fontsize="small")
    return _save(fig, path)


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows not dominated when x is minimised and y maximised, sorted by x."""
    pts = points.dropna(subset=[x, y]).sort_values([x, y], ascending=[True, False])
    keep, best_y = [], -math.inf
    for idx, row in pts.iterrows():
        if row[y] > best_y:
            keep.append(idx)
            best_y = row[y]
    return pts.loc[keep]


def plot_accuracy_energy(
    runs: pd.DataFrame,
    path: Path,
    *,
    baseline: str | None = None,
    variants: Sequence[str] | None = None,
    x: str = ENERGY,
    y: str = ACC,
) -> Path | None:
    """Accuracy vs energy: a point per run, the variant means with 95% t-CI error bars in both
    directions, and the Pareto front of the variant means (more accurate for less energy)."""
    df = _complete(runs).dropna(subset=[x, y])
    if df.empty:
        log.info("skipping accuracy vs energy: no finished run has both %s and %s.", x, y)
        return None
    variants = [v for v in (variants or pd.unique(df["variant"])) if v in set(df["variant"])]
    colors = _palette(variants)
    summary = stats.summarize(df, [x, y], by=["variant"])
    means = summary.pivot(index="variant", columns="metric", values="mean").loc[variants]
    lo = summary.pivot(index="variant", columns="metric", values="ci_low").loc[variants]
    hi = summary.pivot(index="variant", columns="metric", values="ci_high").loc[variants]
    counts = summary[summary["metric"] == y].set_index("variant")["n"].loc[variants]
    many = len(variants) > 12  # a search: one run per variant, no legend of every trial

    def err(v: str, col: str) -> np.ndarray | None:
        e = np.array([[means.loc[v, col] - lo.loc[v, col]], [hi.loc[v, col] - means.loc[v, col]]])
        return None if np.isnan(e).any() else e

    with _style():
        fig = Figure(figsize=(6.4, 4.6), layout="constrained")
        ax = fig.add_subplot()
        for v in variants:
            d = df[df["variant"] == v]
            ax.scatter(d[x], d[y], s=14, alpha=0.35, color="0.4" if many else colors[v], lw=0)
            if not many:  # a marker per variant mean; error bars once there are 2+ seeds
                ax.errorbar(
                    means.loc[v, x],
                    means.loc[v, y],
                    xerr=err(v, x),
                    yerr=err(v, y),
                    fmt="*" if v == baseline else "o",
                    ms=12 if v == baseline else 7,
                    color=colors[v],
                    capsize=3,
                    mec="black",
                    mew=0.6,
                    label=f"{v} (baseline)" if v == baseline else str(v),
                )
        front = pareto_front(means.reset_index(), x, y)
        ax.plot(
            front[x],
            front[y],
            color="black",
            lw=1,
            ls=":",
            marker="s",
            mfc="none",
            ms=11,
            label="Pareto front of means" if not many else "Pareto front",
            zorder=0,
        )
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(y))
        what = (
            f"{len(df)} runs"
            if many
            else f"small dots: runs; markers: mean and 95% t-CI, {_n_text(list(counts))}"
        )
        ax.set_title(f"accuracy vs energy (up and left is better)\n{what}", fontsize="small")
        ax.legend(fontsize="small")
    return _save(fig, path)


def plot_cd(
    runs: pd.DataFrame, metric: str, path: Path, *, higher_is_better: bool = True
) -> Path | None:
    """Critical-difference diagram (bench.stats) of a metric; None when k <= 2 or the Friedman
    test cannot run (too few complete seeds, or the metric is missing)."""
    df = _complete(runs).dropna(subset=[metric])
    if df["variant"].nunique() <= 2:
        return None
    try:
        with warnings.catch_warnings():  # scipy warns when every seed ties all variants
            warnings.simplefilter("ignore", RuntimeWarning)
            fr = stats.friedman_test(df, metric, higher_is_better=higher_is_better)
        if not math.isfinite(fr["p"]):
            log.info(
                "skipping the critical-difference diagram of %s: the variants tie on every seed.",
                metric,
            )
            return None
        # no seaborn grid here: vertical grid lines would read as rank bars
        fig, _ = stats.critical_difference_diagram(df, metric, higher_is_better=higher_is_better)
    except (ValueError, KeyError) as err:
        log.warning("skipping the critical-difference diagram of %s: %s", metric, err)
        return None
    return _save(fig, path)


# --------------------------------------------------------------------------------------- search


def plot_search(study: Study, ostudy: optuna.Study | None, out_dir: Path) -> list[Path]:
    """Optuna's optimisation history, parameter importances, Pareto front and intermediate
    values of the distinct configurations of a search (`ostudy`, see
    `bench.search_outputs.distinct_study`); a figure optuna cannot draw is skipped with a
    logged reason."""
    if ostudy is None:
        return []
    finished = [t for t in ostudy.trials if t.state == optuna.trial.TrialState.COMPLETE]
    multi = len(ostudy.directions) > 1
    names = ostudy.metric_names or [f"objective {i}" for i in range(len(ostudy.directions))]
    n_params = len({p for t in finished for p in t.params})
    jobs = {
        "search_history": (
            not multi,
            "it is a multi-objective study",
            lambda: ovm.plot_optimization_history(ostudy, target_name=names[0]),
        ),
        "search_importance": (
            n_params >= 2 and len(finished) >= 2,
            f"it needs >= 2 parameters and >= 2 finished trials "
            f"(has {n_params} and {len(finished)})",
            lambda: ovm.plot_param_importances(
                ostudy,
                target=(lambda t: t.values[0]) if multi else None,
                # seeded: regenerating the figure must give the same figure
                evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                target_name=names[0],
            ),
        ),
        "search_pareto": (
            multi,
            "it has a single objective",
            lambda: ovm.plot_pareto_front(ostudy, target_names=names),
        ),
        "search_intermediate": (
            any(t.intermediate_values for t in ostudy.trials),
            "no trial reported intermediate values",
            lambda: ovm.plot_intermediate_values(ostudy),
        ),
    }
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for fname, (ok, why, draw) in jobs.items():
            if not ok:
                log.info("skipping %s: %s.", fname, why)
                continue
            try:
                with _style():
                    ax = draw()
                fig = (ax.flat[0] if isinstance(ax, np.ndarray) else ax).figure
                fig.suptitle(f"{study.name}: {len(finished)} finished trials", fontsize="small")
                out.append(_save(fig, out_dir / f"{fname}.png"))
                plt.close(fig)
            except Exception as err:  # optuna refuses some studies; the rest still gets drawn
                log.warning("skipping %s: optuna could not draw it (%s).", fname, err)
                plt.close("all")
    return out


# --------------------------------------------------------------------------------------- study


def plot_study(
    study_dir: Study | str | Path,
    runs: pd.DataFrame | None = None,
    curves: pd.DataFrame | None = None,
    ostudy: optuna.Study | None = None,
) -> list[Path]:
    """Draw every figure of a study into <study>/plots/ and return their paths.

    Stale figures of an earlier call are removed first, so the folder always matches the runs.
    """
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    runs = runs_frame(study) if runs is None else runs
    curves = curves_frame(study) if curves is None else curves
    out_dir = study.path / PLOTS_DIR
    if out_dir.is_dir():
        for old in out_dir.glob("*.png"):
            old.unlink()
    baseline = study.baseline
    variants = study.variants
    paths: list[Path | None] = []
    metrics = stats_metrics(study)
    if study.kind == "search":
        paths += plot_search(study, ostudy, out_dir)
    else:
        for metric in metrics:
            if metric in runs.columns:
                paths.append(
                    plot_seeds(
                        runs,
                        metric,
                        out_dir / f"seeds_{metric}.png",
                        baseline=baseline,
                        variants=variants,
                    )
                )
        paths.append(
            plot_curves(
                curves, out_dir / "learning_curves.png", baseline=baseline, variants=variants
            )
        )
        for metric, hib in metrics.items():
            if metric in runs.columns:
                paths.append(
                    plot_cd(runs, metric, out_dir / f"cd_{metric}.png", higher_is_better=hib)
                )
    paths.append(
        plot_accuracy_energy(
            runs, out_dir / "accuracy_vs_energy.png", baseline=baseline, variants=variants
        )
    )
    return [p for p in paths if p is not None]
