"""Figures of a search over its distinct configurations (bench.search_outputs.distinct_study):
optimisation history and intermediate values drawn here (on the data's own range, no legend
entry per trial), parameter importance and Pareto front by Optuna."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import optuna
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from optuna.trial import TrialState
from optuna.visualization import matplotlib as ovm

from bench.figures.common import save, style
from bench.results import Study

__all__ = ["plot_history", "plot_intermediate", "plot_search"]

log = logging.getLogger(__name__)

_STATE_COLORS = {TrialState.COMPLETE: "tab:blue", TrialState.PRUNED: "tab:orange"}


def _names(ostudy: optuna.Study) -> list[str]:
    return ostudy.metric_names or [f"objective {i}" for i in range(len(ostudy.directions))]


def _data_range(ax: Any, values: np.ndarray) -> None:
    """y limits on the values' own range (5% margin), not on 0..1 or a fixed scale."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 1e-3)
    ax.set_ylim(lo - pad, hi + pad)


def plot_history(ostudy: optuna.Study, path: Path, title: str) -> Path | None:
    """Each finished configuration's objective by trial number and the best so far, one
    panel per objective."""
    done = sorted(
        (t for t in ostudy.trials if t.state == TrialState.COMPLETE), key=lambda t: t.number
    )
    if not done:
        return None
    names = _names(ostudy)
    with style():
        fig = Figure(figsize=(6.4, 3.6 * len(names)), layout="constrained")
        axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
        for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
            x = np.array([t.number for t in done])
            y = np.array([t.values[i] for t in done], dtype=float)
            up = ostudy.directions[i] == optuna.study.StudyDirection.MAXIMIZE
            best = np.maximum.accumulate(y) if up else np.minimum.accumulate(y)
            ax.scatter(x, y, s=16, color="tab:blue", alpha=0.7, lw=0, label="configuration")
            ax.step(x, best, where="post", color="tab:red", lw=1.4, label="best so far")
            _data_range(ax, y)
            ax.set_xlabel("trial number")
            ax.set_ylabel(f"{name} ({'max' if up else 'min'}imised)")
            ax.legend(fontsize="small")
        fig.suptitle(
            f"{title}: optimisation history, {len(done)} finished distinct configurations",
            fontsize="small",
        )
    return save(fig, path)


def plot_intermediate(ostudy: optuna.Study, path: Path, title: str) -> Path | None:
    """Every trial's reported values per step as a thin line coloured by its final state, its
    last value marked (x: where it was pruned); the legend names the states, not the trials."""
    trials = [t for t in ostudy.trials if t.intermediate_values]
    if not trials:
        return None
    with style():
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
        values = []
        for t in trials:
            steps = sorted(t.intermediate_values)
            ys = [t.intermediate_values[s] for s in steps]
            values += ys
            color = _STATE_COLORS.get(t.state, "0.6")
            ax.plot(steps, ys, color=color, lw=0.8, alpha=0.45)
            # the last reported value marked, so a trial pruned at its first step still shows
            pruned = t.state == TrialState.PRUNED
            ax.scatter(steps[-1:], ys[-1:], color=color, s=14, marker="x" if pruned else "o")
        counts = {s: sum(t.state == s for t in trials) for s in _STATE_COLORS}
        other = len(trials) - sum(counts.values())
        handles = [
            Line2D([], [], color=c, label=f"{s.name.lower()} ({counts[s]})")
            for s, c in _STATE_COLORS.items()
            if counts[s]
        ]
        if other:
            handles.append(Line2D([], [], color="0.6", label=f"other ({other})"))
        ax.legend(handles=handles, fontsize="small", title="trial state")
        _data_range(ax, np.array(values, dtype=float))
        ax.set_xlabel("step (epoch)")
        ax.set_ylabel("reported value (validation accuracy)")
        fig.suptitle(f"{title}: intermediate values of {len(trials)} trials", fontsize="small")
    return save(fig, path)


def _optuna_figure(draw: Callable[[], Any], path: Path, title: str) -> Path | None:
    try:
        with style(), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            ax = draw()
        fig = (ax.flat[0] if isinstance(ax, np.ndarray) else ax).figure
        fig.suptitle(title, fontsize="small")
        out = save(fig, path)
        plt.close(fig)
        return out
    except Exception as err:  # optuna refuses some studies; the rest still gets drawn
        log.warning("skipping %s: optuna could not draw it (%s).", path.stem, err)
        plt.close("all")
        return None


def plot_search(study: Study, ostudy: optuna.Study | None, out_dir: Path) -> list[Path]:
    """History, intermediate values, parameter importance (>= 2 parameters and trials) and
    the Pareto front (several objectives); a figure that cannot be drawn is skipped."""
    if ostudy is None:
        return []
    finished = [t for t in ostudy.trials if t.state == TrialState.COMPLETE]
    names = _names(ostudy)
    multi = len(names) > 1
    n_params = len({p for t in finished for p in t.params})
    title = f"{study.name}: {len(finished)} finished trials"
    out = [
        plot_history(ostudy, out_dir / "search_history.png", study.name),
        plot_intermediate(ostudy, out_dir / "search_intermediate.png", study.name),
    ]
    if n_params >= 2 and len(finished) >= 2:
        out.append(
            _optuna_figure(
                lambda: ovm.plot_param_importances(
                    ostudy,
                    target=(lambda t: t.values[0]) if multi else None,
                    # seeded: regenerating the figure must give the same figure
                    evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                    target_name=names[0],
                ),
                out_dir / "search_importance.png",
                title,
            )
        )
    if multi:
        out.append(
            _optuna_figure(
                lambda: ovm.plot_pareto_front(ostudy, target_names=names),
                out_dir / "search_pareto.png",
                title,
            )
        )
    return [p for p in out if p is not None]
