"""The queue of fixed cells of an ablation grid: enqueue each once, pop atomically, run.

A cell is {"run_id": str, "config": dict}: the run id is the trial's fixed param (as with
`enqueue_trial(skip_if_exists=True)`), the config a user attribute. Any number of workers, on
this or other machines, pop WAITING cells through the storage; exactly one wins each.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from bench.engine.progress import StudyProgress
from bench.engine.recovery import (
    DEFAULT_MAX_RETRY,
    SKIPPED,
    WORKER,
    describe_running,
    grace_of,
    recover_stale,
    running_elsewhere,
    void_trial,
    voided,
    worker_tag,
)
from bench.engine.trials import execute, interrupted, json_roundtrip, skip

log = logging.getLogger(__name__)

WAIT_POLL = 10.0  # seconds between looks at cells that run elsewhere


def enqueue_cells(
    study: optuna.Study, cells: Sequence[dict[str, Any]], *, retry_failed: bool = True
) -> int:
    """Queue each cell {"run_id": str, "config": dict} once; return how many trials were added.

    A cell that is already complete, queued or running is skipped, so rerunning the same command
    adds nothing. A cell whose attempts all failed is queued again when `retry_failed` (a rerun
    finishes what is missing). The run id is the trial's fixed param (as with
    `enqueue_trial(skip_if_exists=True)`, but checked once for the whole list instead of scanning
    every trial per cell); the config goes to the user attributes.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("run_id"), str):
            raise ValueError(
                f"Cell {i} is not a dict with a string 'run_id'; build cells as "
                "{'run_id': str, 'config': dict}."
            )
        config = cell.get("config")
        if not isinstance(config, dict):
            raise ValueError(
                f"Cell '{cell['run_id']}' has no 'config' dict; give each cell its "
                "resolved config as a dict."
            )
        config = json_roundtrip(config, f"the config of cell '{cell['run_id']}'")
        if cell["run_id"] in wanted and wanted[cell["run_id"]] != config:
            raise ValueError(
                f"Run id '{cell['run_id']}' appears twice with different configs; "
                "run ids must identify one resolved config."
            )
        wanted[cell["run_id"]] = config

    best: dict[str, TrialState] = {}
    for t in _cell_trials(study):
        run_id = _run_id(t)
        stored = t.user_attrs.get("config")
        if run_id in wanted and stored is not None and stored != wanted[run_id]:
            raise ValueError(
                f"Run id '{run_id}' is already in study '{study.study_name}' with a "
                "different config; use a new study name or a consistent run id."
            )
        best[run_id] = _better(best.get(run_id), t.state)

    added = 0
    for run_id, config in wanted.items():
        state = best.get(run_id)
        if state is not None and (state != TrialState.FAIL or not retry_failed):
            continue
        params = {"run_id": run_id, **(config.get("params") or {})}  # optuna-dashboard shows them
        study.enqueue_trial(params, user_attrs={"run_id": run_id, "config": config})
        added += 1
    return added


def _run_id(trial: FrozenTrial) -> str | None:
    fixed = trial.system_attrs.get("fixed_params") or {}
    return fixed.get("run_id") if isinstance(fixed, dict) else None


def _cell_trials(
    study: optuna.Study, states: Sequence[TrialState] | None = None
) -> list[FrozenTrial]:
    """Trials that stand for a cell: a run id, not ended as a skipped duplicate, not void."""
    void = voided(study)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if _run_id(t) is not None and SKIPPED not in t.system_attrs and t.number not in void
    ]


def finished_cells(study: optuna.Study) -> dict[str, FrozenTrial]:
    """The COMPLETE trial of each finished cell, by run id."""
    return {_run_id(t): t for t in _cell_trials(study, states=(TrialState.COMPLETE,))}


def void_cell(study: optuna.Study, trial: FrozenTrial, reason: str) -> None:
    """Declare a COMPLETE cell's result void (its record is lost everywhere): the cell counts as
    not run, and the next `enqueue_cells` queues it again."""
    void_trial(study, trial.number, reason)


# Which attempt speaks for a cell: a complete one, else one in progress, else a failure.
_RANK = {
    TrialState.COMPLETE: 4,
    TrialState.RUNNING: 3,
    TrialState.WAITING: 2,
    TrialState.PRUNED: 1,
    TrialState.FAIL: 0,
}


def _better(a: TrialState | None, b: TrialState) -> TrialState:
    return b if a is None or _RANK[b] > _RANK[a] else a


def cell_status(study: optuna.Study, run_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Counts of cells (not attempts) by state, the run ids not complete, and failure messages.

    Returns {"total", "waiting", "running", "complete", "failed", "pruned", "missing": [run_id],
    "errors": {run_id: error}}. With `run_ids`, cells never enqueued count as missing too.
    """
    best: dict[str, TrialState] = {}
    errors: dict[str, str] = {}
    for t in sorted(_cell_trials(study), key=lambda t: t.number):
        run_id = _run_id(t)
        best[run_id] = _better(best.get(run_id), t.state)
        if t.state == TrialState.FAIL:  # the latest failure's message wins
            errors[run_id] = str(t.user_attrs.get("error") or "worker lost (no error recorded)")
    counts = {name: 0 for name in ("waiting", "running", "complete", "failed", "pruned")}
    names = {
        TrialState.WAITING: "waiting",
        TrialState.RUNNING: "running",
        TrialState.COMPLETE: "complete",
        TrialState.FAIL: "failed",
        TrialState.PRUNED: "pruned",
    }
    for state in best.values():
        counts[names[state]] += 1
    expected = set(best) | set(run_ids or ())
    missing = sorted(r for r in expected if best.get(r) != TrialState.COMPLETE)
    return {
        "total": len(expected),
        **counts,
        "missing": missing,
        "errors": {r: e for r, e in errors.items() if best[r] == TrialState.FAIL},
    }


def _pop_cell(study: optuna.Study) -> optuna.Trial | None:
    """Atomically take one WAITING cell (never creates a trial, unlike `study.ask`)."""
    storage = study._storage
    waiting = storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,))
    for t in sorted(waiting, key=lambda t: t.number):
        if _run_id(t) is None:
            continue
        try:
            # The storage decides the race: exactly one caller moves WAITING -> RUNNING.
            if not storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                continue
        except UpdateFinishedTrialError:
            continue
        try:
            storage.set_trial_system_attr(t._trial_id, WORKER, worker_tag())
        except UpdateFinishedTrialError:
            continue  # a recoverer with a skewed clock took it for dead; it was requeued
        return optuna.Trial(study, t._trial_id)
    return None


def _duplicate_of(study: optuna.Study, trial: optuna.Trial, run_id: str) -> int | None:
    """Another attempt of the same cell that takes precedence over `trial`, if any.

    Two processes enqueueing the same grid at the same moment can each add a cell. The rule: an
    attempt yields to a COMPLETE one, or to a WAITING/RUNNING one with a lower number. The lowest
    live attempt never yields, so exactly one of them runs and none is lost.
    """
    for t in _cell_trials(study):
        if _run_id(t) != run_id or t.number == trial.number:
            continue
        if t.state == TrialState.COMPLETE or (
            t.state in (TrialState.WAITING, TrialState.RUNNING) and t.number < trial.number
        ):
            return t.number
    return None


def run_queue(
    study: optuna.Study,
    run_cell: Callable[[dict[str, Any], optuna.Trial], dict[str, Any]],
    *,
    progress: StudyProgress | None = None,
    max_retry: int | None = DEFAULT_MAX_RETRY,
    wait: bool = False,
    poll: float = WAIT_POLL,
) -> int:
    """Run queued cells one at a time until none is waiting; return how many this worker ran.

    With `wait`, a worker that finds no waiting cell while others run elsewhere waits for them
    (polling every `poll` s): a cell whose worker dies is queued again once that is noticed
    (heartbeat grace period, or at once on this machine) and run here, so the last worker alive
    finishes the study instead of leaving a RUNNING trial behind.

    `run_cell(config, trial)` returns {"status": "complete"|"failed", "values": [float, ...],
    "metrics": {name: value}, "error": str|None}; metrics become user attributes. An exception in
    run_cell fails that trial (message in the "error" user attribute, traceback in "traceback")
    and the worker goes on. KeyboardInterrupt fails the attempt, queues it again and re-raises.
    Before each pop, trials of dead workers are failed and queued again.
    """
    ran, told = 0, False
    while True:
        recover_stale(study, max_retry)
        trial = _pop_cell(study)
        if trial is None:
            running = running_elsewhere(study) if wait else []
            if not running:
                return ran
            if not told and any(not r["here"] for r in running):
                log.warning("%s; waiting for them.", describe_running(running, grace_of(study)))
                told = True
            time.sleep(poll)
            continue
        try:
            frozen = study._storage.get_trial(trial._trial_id)
            run_id = _run_id(frozen)
            dup = _duplicate_of(study, trial, run_id)
        except BaseException as exc:
            interrupted(study, trial, exc, max_retry)
            raise
        if dup is not None:
            skip(study, trial, f"duplicate of trial {dup}")
            continue
        config = frozen.user_attrs.get("config", {})
        execute(study, trial, functools.partial(run_cell, config, trial), max_retry)
        ran += 1
        if progress is not None:
            progress.update()


def cell_progress(study: optuna.Study) -> StudyProgress:
    """The bar of an ablation: complete cells of all workers over the study's cells."""

    def count() -> tuple[int, int]:
        status = cell_status(study)
        return status["complete"] + status["failed"], status["total"]

    return StudyProgress(count, desc=study.study_name, unit="run")
