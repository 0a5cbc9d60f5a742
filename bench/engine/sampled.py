"""Sampler-driven trials under a global budget shared by every worker on every machine."""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.engine.progress import StudyProgress
from bench.engine.recovery import (
    DEFAULT_MAX_RETRY,
    DUPLICATE_OF,
    RETRY_OF,
    SKIPPED,
    WORKER,
    recover_stale,
    running_elsewhere,
    worker_tag,
)
from bench.engine.trials import execute, interrupted, skip

log = logging.getLogger(__name__)


# A sampler that proposes only configurations already trained has exhausted what it can find.
MAX_REPEATS_IN_A_ROW = 100


def budget_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that use up the search budget: each distinct configuration once (not skipped
    trials, not configurations answered from an earlier trial, not attempts that were lost or
    interrupted and replaced by a retry)."""
    trials = study.get_trials(deepcopy=False)
    replaced = {t.system_attrs[RETRY_OF] for t in trials if RETRY_OF in t.system_attrs}
    return [
        t
        for t in trials
        if SKIPPED not in t.system_attrs
        and DUPLICATE_OF not in t.system_attrs
        and t.number not in replaced
    ]


def _as_record(result: Any) -> dict[str, Any]:
    """An objective's return value (a number or a sequence of numbers) as a run record."""
    if isinstance(result, (int, float)):
        return {"status": "complete", "values": [result]}
    if isinstance(result, Sequence) and not isinstance(result, str):
        return {"status": "complete", "values": list(result)}
    return {"status": "complete", "values": result}  # the record check reports the bad type


def _sampled_record(objective: Callable[[optuna.Trial], Any], trial: optuna.Trial) -> dict:
    return _as_record(objective(trial))


def budget_progress(study: optuna.Study, n_trials: int) -> StudyProgress:
    """The bar of a search: finished distinct configurations (all workers) over the budget."""

    def count() -> tuple[int, int]:
        done = sum(t.state.is_finished() for t in budget_trials(study))
        return min(done, n_trials), n_trials

    return StudyProgress(count, desc=study.study_name, unit="trial")


def run_sampled(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float | Sequence[float]],
    *,
    n_trials: int,
    progress: StudyProgress | None = None,
    max_retry: int | None = DEFAULT_MAX_RETRY,
    wait: bool = False,
    poll: float = 10.0,
) -> int:
    """Run sampler-driven trials until the study holds `n_trials` distinct configurations,
    across ALL workers; return how many trials this worker ran. With `wait`, a worker whose
    budget is used up waits (polling every `poll` s) while counted trials still run elsewhere,
    and runs the retry of one whose worker dies; so the search ends when every trial has.

    The budget counts each distinct configuration once, whatever its end (COMPLETE, PRUNED or
    FAIL): an attempt lost to a dead worker or Ctrl-C is replaced by its retry, and an objective
    that raises `AlreadyTrained` is answered from the earlier trial without counting. It is exact
    with any number of workers: a trial runs only if fewer than `n_trials` counted trials have a
    lower number, else it is ended as skipped (Optuna's MaxTrialsCallback checks after a trial
    ends, so concurrent workers overshoot by up to one trial each). WAITING trials (retries) are
    taken first. Exceptions in `objective` fail that trial and the worker goes on.
    """
    if n_trials < 0:
        raise ValueError(f"Trial budget is {n_trials}; pass --trials 0 or more.")
    ran = repeats = 0
    while repeats < MAX_REPEATS_IN_A_ROW:
        recover_stale(study, max_retry)
        counted = budget_trials(study)
        has_waiting = any(t.state == TrialState.WAITING for t in counted)
        if not has_waiting and len(counted) >= n_trials:
            if not (wait and running_elsewhere(study)):
                return ran
            time.sleep(poll)
            continue
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()  # pops a WAITING trial, else creates one
        try:
            study._storage.set_trial_system_attr(trial._trial_id, WORKER, worker_tag())
            below = [t for t in budget_trials(study) if t.number < trial.number]
        except BaseException as exc:
            interrupted(study, trial, exc, max_retry)
            raise
        if len(below) >= n_trials:
            skip(study, trial, f"over the budget of {n_trials} trials")
            continue
        execute(study, trial, functools.partial(_sampled_record, objective, trial), max_retry)
        ran += 1
        repeated = DUPLICATE_OF in study._storage.get_trial(trial._trial_id).system_attrs
        repeats = repeats + 1 if repeated else 0
        if progress is not None:
            progress.update()
    log.warning(
        "The sampler proposed %d configurations in a row that were already trained; the "
        "space looks exhausted, so this worker stops.",
        MAX_REPEATS_IN_A_ROW,
    )
    return ran
