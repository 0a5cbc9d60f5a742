"""Rewrite every derived file of a study folder from what is stored: runs.csv, stats.csv,
(searches) trials.csv and best.json / pareto.json, plots/*.png and report.md.

Every command ends here and `python -m bench.plots` calls nothing else, so a report never
differs by which command wrote it. First the study folder is synced with the study's storage
(bench.records): records trained on other machines are downloaded and runs that failed without a
record get one, so any machine writes the complete report. A file that cannot be written (disk
full, no permission) is one logged sentence; only a report.md that cannot be written raises.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from bench.engine import open_existing_study
from bench.figures import plot_study
from bench.records import records_location, sync
from bench.report import compute_stats, write_report, write_stats_csv
from bench.results import Study, curves_frame, load_study, runs_frame, write_runs_csv
from bench.search_outputs import distinct_study, write_search_outputs
from bench.training.state import disk_error

__all__ = ["refresh", "search_study"]

log = logging.getLogger(__name__)


def search_study(study: Study, storage: str | None = None) -> optuna.Study | None:
    """The Optuna study of a study folder (`storage`: the URL the command was given, password
    included; else the one study.json names), or None when its storage holds none or cannot be
    opened (logged for searches): the rest of the report still stands."""
    try:
        return open_existing_study(study.meta.get("storage"), study.path, study.name, url=storage)
    except (LookupError, ValueError) as err:
        if study.kind == "search":
            log.warning("skipping the search tables and figures of %s: %s.", study.path, err)
        return None


def _sync(study: Study, ostudy: optuna.Study, storage: str | None, artifacts: str | None) -> Study:
    shared = storage is not None or study.meta.get("storage") not in (None, "journal")
    done = sync(ostudy, study.path, records_location(shared, artifacts, study.path, ostudy))
    for problem in done.problems:
        log.warning("%s", problem)
    changed = done.downloaded or done.failure_records
    return load_study(study.path) if changed else study


def _try(what: str, path: Path, write: Callable[[], Any], default: Any) -> Any:
    """Run one writer; a disk error costs that output only (one logged sentence)."""
    try:
        return write()
    except OSError as err:
        log.warning("skipping %s: %s", what, disk_error(path, err))
        return default


def refresh(
    study_dir: Study | str | Path, *, storage: str | None = None, artifacts: str | None = None
) -> dict[str, Path]:
    """Returns {what: path}, e.g. {"runs.csv": ..., "plot:learning_curves": ...}. `storage` and
    `artifacts`: what the command was given (see `search_study`, bench.records)."""
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    found = search_study(study, storage)
    if found is not None:
        study = _sync(study, found, storage, artifacts)
    runs = runs_frame(study)
    written = {}
    path = study.path / "runs.csv"
    if _try("runs.csv", path, lambda: write_runs_csv(study, runs), None):
        written["runs.csv"] = path
    result = compute_stats(study, runs, margins=study.meta.get("margins") or None)
    path = study.path / "stats.csv"
    if _try("stats.csv", path, lambda: write_stats_csv(study, result), None):
        written["stats.csv"] = path
    ostudy = None
    if study.kind == "search" and found is not None:
        outputs = _try(
            "the search tables", study.path, lambda: write_search_outputs(study, found), {}
        )
        written.update(outputs)
        ostudy = distinct_study(found)
    with warnings.catch_warnings():  # optuna's importance warns about sparse regimes
        warnings.simplefilter("ignore", UserWarning)
        plots = _try(
            "the plots",
            study.path / "plots",
            lambda: plot_study(study, runs, curves_frame(study), ostudy, result=result),
            [],
        )
    written.update({f"plot:{p.stem}": p for p in plots})
    path = study.path / "report.md"
    try:
        written["report.md"] = write_report(
            study, runs=runs, result=result, plots=plots, ostudy=ostudy
        )
    except OSError as err:
        raise disk_error(path, err) from None
    return written
