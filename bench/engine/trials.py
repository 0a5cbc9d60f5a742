"""Running one trial to its end: COMPLETE with values, PRUNED, or FAIL with the error.

Shared by the queue of fixed cells (ablations) and the sampled loop (searches). A run returns
a record {"status", "values", "metrics", "error"}; metrics become user attributes, so
optuna-dashboard shows them. Ctrl-C or SIGTERM inside a run fails the attempt and queues it
again, so a study never holds a RUNNING trial that nobody runs.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from bench.engine.recovery import DUPLICATE_OF, SKIPPED, RetryStaleTrial, fail_trial, heartbeat

log = logging.getLogger(__name__)


def json_roundtrip(value: Any, what: str) -> Any:
    """`value` as plain JSON data; ValueError with one sentence when it is not."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} is not JSON-serialisable ({exc}); use plain numbers, strings, lists and dicts."
        ) from exc


def skip(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """End a trial that must not run (duplicate cell, over budget) so it is never counted."""
    study._storage.set_trial_system_attr(trial._trial_id, SKIPPED, reason)
    trial.set_user_attr("skipped", reason)
    study.tell(trial, state=TrialState.FAIL)


def _check_record(
    record: Any, n_objectives: int
) -> tuple[TrialState, list[float] | None, str | None]:
    """Validate run_cell's record -> (state, values, error)."""
    if not isinstance(record, dict) or record.get("status") not in ("complete", "failed"):
        error = (
            f"run_cell returned {type(record).__name__} {str(record)[:200]}, not a dict with "
            "status 'complete' or 'failed'"
        )
        return TrialState.FAIL, None, error
    if record["status"] == "failed":
        return TrialState.FAIL, None, str(record.get("error") or "run_cell reported a failure")
    values = record.get("values")
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        return TrialState.FAIL, None, f"run_cell returned values {values!r}, not a list of numbers"
    if len(values) != n_objectives:
        error = (
            f"run_cell returned {len(values)} values but the study has {n_objectives} objectives"
        )
        return TrialState.FAIL, None, error
    if not all(math.isfinite(v) for v in values):
        return TrialState.FAIL, None, f"run_cell returned non-finite values {values}"
    return TrialState.COMPLETE, values, None


def _finish(
    study: optuna.Study,
    trial: optuna.Trial,
    state: TrialState,
    values: list[float] | None,
    error: str | None,
    metrics: dict[str, Any] | None = None,
) -> None:
    try:
        for key, value in (metrics or {}).items():
            try:
                value = json_roundtrip(value, f"metric '{key}'")
            except ValueError:
                value = str(value)  # keep the run: a metric's form is no reason to lose it
            trial.set_user_attr(str(key), value)
        if error is not None:
            trial.set_user_attr("error", error)
        study.tell(trial, values if state == TrialState.COMPLETE else None, state=state)
    except UpdateFinishedTrialError:
        # Another worker took this trial for dead (e.g. missed heartbeats) and requeued it.
        log.warning(
            "Trial %d was already ended by another worker; its result is dropped.", trial.number
        )


def interrupted(
    study: optuna.Study, trial: optuna.Trial, exc: BaseException, max_retry: int | None
) -> None:
    """Ctrl-C / SystemExit inside a run: fail the attempt and queue it again, so a rerun
    finishes it and the study never holds a RUNNING trial that nobody runs."""
    if fail_trial(study, trial._trial_id, f"interrupted ({type(exc).__name__})"):
        RetryStaleTrial(max_retry)(study, study._storage.get_trial(trial._trial_id))


class AlreadyTrained(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by an objective whose sampled configuration is already trained in the study: the
    trial is answered with that trial's state and values (so the sampler learns from it) and
    marked, so it uses no budget and is counted once in tables and importance."""

    def __init__(self, of_number: int, state: TrialState, values: list[float] | None) -> None:
        super().__init__(f"the configuration of trial {of_number}")
        self.of_number, self.state, self.values = of_number, state, values


def execute(
    study: optuna.Study,
    trial: optuna.Trial,
    call: Callable[[], Any],
    max_retry: int | None,
) -> None:
    """Run one popped trial and end it: COMPLETE with values, PRUNED, or FAIL with the error.

    `call()` returns a run record; an exception fails the trial only. Anything that stops the
    worker itself (Ctrl-C, SystemExit) fails the attempt, queues it again and propagates.
    """
    try:
        with heartbeat(study, trial._trial_id):
            metrics: dict[str, Any] = {}
            try:
                record = call()
                state, values, error = _check_record(record, len(study.directions))
                if isinstance(record, dict) and isinstance(record.get("metrics"), dict):
                    metrics = record["metrics"]
            except optuna.TrialPruned:
                state, values, error = TrialState.PRUNED, None, None
            except AlreadyTrained as same:
                study._storage.set_trial_system_attr(trial._trial_id, DUPLICATE_OF, same.of_number)
                trial.set_user_attr("duplicate_of", same.of_number)
                state, values, error = same.state, same.values, None
            except Exception as exc:
                state, values, error = TrialState.FAIL, None, f"{type(exc).__name__}: {exc}"
                metrics = {"traceback": traceback.format_exc()[-4000:]}
                log.error("Trial %d failed: %s", trial.number, error)
            _finish(study, trial, state, values, error, metrics)
    except BaseException as exc:
        interrupted(study, trial, exc, max_retry)
        raise
