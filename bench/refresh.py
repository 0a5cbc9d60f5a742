"""Rewrite every derived file of a study folder from what is stored: runs.csv, stats.csv,
(searches) trials.csv and best.json / pareto.json, plots/*.png and report.md.

Every command ends here and `python -m bench.plots` calls nothing else, so a report never
differs by which command wrote it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna

from bench.engine import open_existing_study
from bench.figures import plot_study
from bench.report import compute_stats, write_report, write_stats_csv
from bench.results import Study, curves_frame, load_study, runs_frame, write_runs_csv
from bench.search_outputs import distinct_study, write_search_outputs

__all__ = ["refresh", "search_study"]

log = logging.getLogger(__name__)


def search_study(study: Study) -> optuna.Study | None:
    """The Optuna study of a search folder, or None (with a logged reason) when its storage
    holds none or cannot be opened: the rest of the report still stands."""
    try:
        return open_existing_study(study.meta.get("storage"), study.path, study.name)
    except (LookupError, ValueError) as err:
        log.warning("skipping the search tables and figures of %s: %s.", study.path, err)
        return None


def refresh(study_dir: Study | str | Path) -> dict[str, Path]:
    """Returns {what: path}, e.g. {"runs.csv": ..., "plot:learning_curves": ...}."""
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    runs = runs_frame(study)
    written = {"runs.csv": write_runs_csv(study, runs)}
    result = compute_stats(study, runs)
    written["stats.csv"] = write_stats_csv(study, result)
    ostudy = None
    if study.kind == "search":
        found = search_study(study)
        if found is not None:
            written.update(write_search_outputs(study, found))
            ostudy = distinct_study(found)
    with warnings.catch_warnings():  # optuna's importance warns about sparse regimes
        warnings.simplefilter("ignore", UserWarning)
        plots = plot_study(study, runs, curves_frame(study), ostudy)
    written.update({f"plot:{p.stem}": p for p in plots})
    written["report.md"] = write_report(study, runs=runs, result=result, plots=plots, ostudy=ostudy)
    return written
