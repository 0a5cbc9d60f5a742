"""The best-trials section of a search's report, over its distinct configurations."""

from __future__ import annotations

from collections import Counter

import optuna

from bench.report.fmt import markdown_table, num

__all__ = ["section_search"]


def section_search(ostudy: optuna.Study | None) -> str:
    """The best distinct configurations of a search (Pareto-optimal ones when there are several
    objectives), chosen on validation accuracy."""
    lines = ["## Best trials", ""]
    if ostudy is None:
        return "\n".join(lines + ["The study storage holds no Optuna study for this folder."])
    done = [t for t in ostudy.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return "\n".join(lines + ["No trial has finished yet."])
    names = ostudy.metric_names or [f"objective {i}" for i in range(len(ostudy.directions))]
    if len(ostudy.directions) > 1:
        best, what = ostudy.best_trials, "Pareto-optimal configurations"
    else:
        maximize = ostudy.direction == optuna.study.StudyDirection.MAXIMIZE
        best = sorted(done, key=lambda t: (-t.value if maximize else t.value, t.number))[:10]
        what = f"the {len(best)} best configurations ({'max' if maximize else 'min'}imised)"
    params = sorted({p for t in best for p in t.params})
    rows = [
        [t.number, *(num(v) for v in t.values), *(num(t.params.get(p)) for p in params)]
        for t in best
    ]
    counts = Counter(t.state.name.lower() for t in ostudy.trials)
    lines += [
        f"{len(ostudy.trials)} distinct configurations ("
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"), each counted once; {what}, selected on the validation split (the test split "
        "is read once, by the confirmation):",
        "",
        markdown_table(["trial", *names, *params], rows),
    ]
    return "\n".join(lines)
