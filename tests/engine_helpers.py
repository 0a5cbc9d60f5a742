"""Test-only helpers around bench.engine: a generic queue worker process and the completed cells
of a study. Module level so spawned workers import them; only the engine is imported (a spawned
worker pays for every import of this module).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.engine import load_study, open_storage, run_queue
from bench.engine.queue import _cell_trials, _run_id

__all__ = ["completed_cells", "queue_worker"]


def queue_worker(
    storage_url: str | None,
    study_dir: str | Path,
    study_name: str,
    directions: Sequence[str],
    run_cell: Callable[[dict[str, Any], optuna.Trial], dict[str, Any]],
) -> int:
    """One worker process for `start_workers`: open the study, run its queue with `run_cell`."""
    storage = open_storage(storage_url, Path(study_dir))
    return run_queue(load_study(study_name, storage, directions=directions), run_cell)


def completed_cells(study: optuna.Study) -> dict[str, FrozenTrial]:
    """The COMPLETE trial of each finished cell, by run id (skipped duplicates left out)."""
    return {_run_id(t): t for t in _cell_trials(study, states=(TrialState.COMPLETE,))}
