"""The study engine shared by `bench.ablate` and `bench.search`: storage, queue and worker loops.

A study lives in an Optuna storage: a journal file by default (several processes on one machine),
PostgreSQL for several machines. Ablations enqueue fixed *cells* ({"run_id", "config"}) that
workers pop one at a time; searches let a sampler propose trials under a global budget. The engine
knows nothing about models: it calls a function and stores what it returns.

Every trial this engine runs carries a worker tag (host, pid, process start time) so that a worker
that starts later can fail the RUNNING trial of a dead worker on the same machine and queue it
again; PostgreSQL storages also use Optuna's heartbeat for workers on other machines.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import math
import multiprocessing
import os
import socket
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "DEFAULT_MAX_RETRY",
    "RetryStaleTrial",
    "cell_status",
    "completed_cells",
    "enqueue_cells",
    "load_study",
    "open_storage",
    "queue_worker",
    "run_queue",
    "run_sampled",
    "start_workers",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRY = 3  # a trial whose worker died is queued again at most this many times
JOURNAL_NAME = "study.journal"

# System attributes owned by the engine (user attrs are for people and the dashboard).
_WORKER = "bench:worker"  # who runs a RUNNING trial: {"machine", "pid", "start"}
_SKIPPED = "bench:skipped"  # duplicate cell or over-budget trial, ended without running
_RETRY_OF = "bench:retry_of"  # number of the dead/interrupted attempt this trial replaces
_RETRY_HISTORY = "bench:retry_history"
# A RUNNING trial without a worker tag (its worker died between popping and tagging it) is taken
# as dead after this long; tagging follows popping within milliseconds.
_UNTAGGED_STALE = timedelta(minutes=10)


# ----------------------------------------------------------------------------------------------
# Storage and study


def open_storage(
    url: str | None,
    study_dir: Path,
    *,
    heartbeat_interval: int = 60,
    grace_period: int | None = None,
    max_retry: int | None = DEFAULT_MAX_RETRY,
) -> BaseStorage:
    """Open a study's storage: a journal file in `study_dir` when `url` is None, else PostgreSQL.

    The journal uses `JournalFileOpenLock` (an O_CREAT|O_EXCL lock file) rather than Optuna's
    default symlink lock: both are safe on a local disk and on NFSv3+, but symlinks need extra
    privileges on Windows. PostgreSQL gets Optuna's heartbeat: a trial whose worker stops beating
    for `grace_period` seconds (default 2 x interval) is failed and queued again, at most
    `max_retry` times.
    """
    if url is None:
        study_dir = Path(study_dir)
        study_dir.mkdir(parents=True, exist_ok=True)
        path = str(study_dir / JOURNAL_NAME)
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme.startswith("sqlite"):
        raise ValueError(
            f"SQLite storage '{url}' is unsafe for parallel workers (its file locking loses or "
            "blocks writes); omit --storage to use a journal file on one machine, or pass "
            "postgresql://user@host/db for several machines."
        )
    if scheme not in ("postgresql", "postgres") and not scheme.startswith("postgresql+"):
        raise ValueError(
            f"Storage URL '{url}' is not supported: pass postgresql://user:password@host:port/db, "
            "or omit --storage to use a journal file in the study folder."
        )
    if scheme in ("postgres", "postgresql"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the project ships psycopg2.
        driver = "postgresql+psycopg2" if importlib.util.find_spec("psycopg2") else "postgresql"
        url = driver + url[len(scheme) :]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},  # survive server restarts on long studies
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=RetryStaleTrial(max_retry),
            )
    except ImportError as exc:
        raise ValueError(
            f"No database driver for storage '{_hide_password(url)}'; install psycopg2-binary "
            "(pip install psycopg2-binary) or name an installed driver as postgresql+DRIVER://."
        ) from exc
    except Exception as exc:  # sqlalchemy ArgumentError / OperationalError
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"Cannot open storage '{_hide_password(url)}': {first_line}; check that the URL is "
            "postgresql://user:password@host:port/db and that the server is running and reachable."
        ) from exc


def _hide_password(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    head, sep, tail = url.partition("://")
    if "@" in tail and ":" in tail.split("@", 1)[0]:
        user = tail.split("@", 1)[0].split(":", 1)[0]
        return f"{head}{sep}{user}:***@{tail.split('@', 1)[1]}"
    return url


def load_study(
    name: str,
    storage: BaseStorage,
    *,
    directions: Sequence[str | StudyDirection],
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create the study `name` in `storage`, or load it if it exists (safe to race)."""
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    found = [d.name.lower() for d in study.directions]
    wanted = [
        d.name.lower() if isinstance(d, StudyDirection) else str(d).lower() for d in directions
    ]
    if found != wanted:
        raise ValueError(
            f"Study '{name}' already exists with directions {found}, not {wanted}; use another "
            "study name or the objectives it was created with."
        )
    return study


# ----------------------------------------------------------------------------------------------
# Cells: fixed trials of an ablation grid


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
        config = _json_roundtrip(config, f"the config of cell '{cell['run_id']}'")
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
        study.enqueue_trial({"run_id": run_id}, user_attrs={"run_id": run_id, "config": config})
        added += 1
    return added


def _json_roundtrip(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} is not JSON-serialisable ({exc}); use plain numbers, strings, lists and dicts."
        ) from exc


def _run_id(trial: FrozenTrial) -> str | None:
    fixed = trial.system_attrs.get("fixed_params") or {}
    return fixed.get("run_id") if isinstance(fixed, dict) else None


def _cell_trials(
    study: optuna.Study, states: Sequence[TrialState] | None = None
) -> list[FrozenTrial]:
    """Trials that stand for a cell: a run id, and not ended as a skipped duplicate."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if _run_id(t) is not None and _SKIPPED not in t.system_attrs
    ]


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


def completed_cells(study: optuna.Study) -> dict[str, FrozenTrial]:
    """The COMPLETE trial of each finished cell, by run id."""
    return {_run_id(t): t for t in _cell_trials(study, states=(TrialState.COMPLETE,))}


# ----------------------------------------------------------------------------------------------
# Worker identity and recovery of trials whose worker died


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _machine() -> str:
    """Host, pid namespace and boot: pids are comparable only when all three match."""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")  # containers on one host differ here
    except OSError:
        pid_ns = ""
    return f"{socket.gethostname()}|{pid_ns}|{_read('/proc/sys/kernel/random/boot_id')}"


_MACHINE = _machine()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, or None if it does not exist."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parens
    return fields[0], fields[19]


def _worker_tag() -> dict[str, Any]:
    stat = _proc_stat(os.getpid())
    return {"machine": _MACHINE, "pid": os.getpid(), "start": stat[1] if stat else None}


def _is_dead(tag: dict[str, Any]) -> bool:
    """True only when the tagged worker is certainly gone (same machine, process ended)."""
    if os.name == "nt" or tag.get("machine") != _MACHINE:
        return False  # os.kill(pid, 0) terminates processes on Windows; other hosts: heartbeat
    pid = int(tag["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    if not os.path.isdir("/proc"):
        return False
    stat = _proc_stat(pid)
    # Gone, a zombie, or the pid now belongs to a newer process.
    return stat is None or stat[0] in ("Z", "X") or (tag.get("start") not in (None, stat[1]))


class RetryStaleTrial:
    """Queue a failed attempt again as a WAITING trial with the same params and cell, or drop it
    after `max_retry` attempts. Used as the heartbeat callback and for dead local workers."""

    def __init__(self, max_retry: int | None = DEFAULT_MAX_RETRY) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        history = [*trial.system_attrs.get(_RETRY_HISTORY, []), trial.number]
        if self.max_retry is not None and len(history) > self.max_retry:
            log.warning(
                "Trial %d was lost %d times; not retrying it again.", trial.number, len(history)
            )
            return
        system_attrs = {k: v for k, v in trial.system_attrs.items() if not k.startswith("bench:")}
        system_attrs.update({_RETRY_OF: trial.number, _RETRY_HISTORY: history})
        # Only the cell's identity travels; metrics of a lost attempt would be misleading.
        user_attrs = {k: trial.user_attrs[k] for k in ("run_id", "config") if k in trial.user_attrs}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=user_attrs,
                system_attrs=system_attrs,
            )
        )


def _fail(study: optuna.Study, trial_id: int, error: str) -> bool:
    """Fail a RUNNING trial; False if it had already finished (someone else got there first)."""
    storage = study._storage  # the study's own (possibly cached) storage; no public accessor
    try:
        storage.set_trial_user_attr(trial_id, "error", error)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False
    return True


def _recover_stale(study: optuna.Study, max_retry: int | None) -> int:
    """Fail and requeue RUNNING trials whose worker is dead; return how many were recovered."""
    recovered = 0
    if _heartbeat_interval(study) is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # calls RetryStaleTrial for each one
    now = datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = t.system_attrs.get(_WORKER)
        if tag is not None:
            if not _is_dead(tag):
                continue
            why = f"worker pid {tag['pid']} died while running this trial"
        elif t.datetime_start is not None and now - t.datetime_start > _UNTAGGED_STALE:
            why = "worker died before it could tag this trial"
        else:
            continue
        if _fail(study, t._trial_id, why):
            log.warning("Trial %d: %s; queueing it again.", t.number, why)
            RetryStaleTrial(max_retry)(study, study._storage.get_trial(t._trial_id))
            recovered += 1
    return recovered


def _heartbeat_interval(study: optuna.Study) -> int | None:
    get = getattr(study._storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


@contextmanager
def _heartbeat(study: optuna.Study, trial_id: int) -> Iterator[None]:
    """Beat for `trial_id` in a thread while the body runs (only where the storage supports it)."""
    interval = _heartbeat_interval(study)
    if interval is None:
        yield
        return
    storage = study._storage
    stop = threading.Event()

    def record() -> None:
        try:
            storage.record_heartbeat(trial_id)
        except Exception as exc:  # a blip must not kill the run; the next beat retries
            log.warning("Heartbeat for trial %d failed: %s", trial_id, exc)

    def beat() -> None:
        while not stop.wait(interval):
            record()

    # First beat before the run starts: Optuna never counts a trial without any beat as stale,
    # so a worker killed before its thread's first beat would hold the trial forever.
    record()

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# ----------------------------------------------------------------------------------------------
# Worker loops


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
            storage.set_trial_system_attr(t._trial_id, _WORKER, _worker_tag())
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


def _skip(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """End a trial that must not run (duplicate cell, over budget) so it is never counted."""
    study._storage.set_trial_system_attr(trial._trial_id, _SKIPPED, reason)
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
                value = _json_roundtrip(value, f"metric '{key}'")
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


def _interrupted(
    study: optuna.Study, trial: optuna.Trial, exc: BaseException, max_retry: int | None
) -> None:
    """Ctrl-C / SystemExit inside a run: fail the attempt and queue it again, so a rerun
    finishes it and the study never holds a RUNNING trial that nobody runs."""
    if _fail(study, trial._trial_id, f"interrupted ({type(exc).__name__})"):
        RetryStaleTrial(max_retry)(study, study._storage.get_trial(trial._trial_id))


def _execute(
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
        with _heartbeat(study, trial._trial_id):
            metrics: dict[str, Any] = {}
            try:
                record = call()
                state, values, error = _check_record(record, len(study.directions))
                if isinstance(record, dict) and isinstance(record.get("metrics"), dict):
                    metrics = record["metrics"]
            except optuna.TrialPruned:
                state, values, error = TrialState.PRUNED, None, None
            except Exception as exc:
                state, values, error = TrialState.FAIL, None, f"{type(exc).__name__}: {exc}"
                metrics = {"traceback": traceback.format_exc()[-4000:]}
                log.error("Trial %d failed: %s", trial.number, error)
            _finish(study, trial, state, values, error, metrics)
    except BaseException as exc:
        _interrupted(study, trial, exc, max_retry)
        raise


def run_queue(
    study: optuna.Study,
    run_cell: Callable[[dict[str, Any], optuna.Trial], dict[str, Any]],
    *,
    progress: bool = True,
    max_retry: int | None = DEFAULT_MAX_RETRY,
) -> int:
    """Run queued cells one at a time until none is waiting; return how many this worker ran.

    `run_cell(config, trial)` returns {"status": "complete"|"failed", "values": [float, ...],
    "metrics": {name: value}, "error": str|None}; metrics become user attributes. An exception in
    run_cell fails that trial (message in the "error" user attribute, traceback in "traceback")
    and the worker goes on. KeyboardInterrupt fails the attempt, queues it again and re-raises.
    Before each pop, trials of dead workers are failed and queued again.
    """
    ran = 0
    bar = _bar(study, progress)
    try:
        while True:
            _recover_stale(study, max_retry)
            trial = _pop_cell(study)
            if trial is None:
                return ran
            try:
                frozen = study._storage.get_trial(trial._trial_id)
                run_id = _run_id(frozen)
                dup = _duplicate_of(study, trial, run_id)
            except BaseException as exc:
                _interrupted(study, trial, exc, max_retry)
                raise
            if dup is not None:
                _skip(study, trial, f"duplicate of trial {dup}")
                continue
            config = frozen.user_attrs.get("config", {})
            _execute(study, trial, functools.partial(run_cell, config, trial), max_retry)
            ran += 1
            _bar_update(bar, study)
    finally:
        if bar is not None:
            bar.close()


def _budget_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that use up the search budget: each logical trial once (not skipped ones, and not
    attempts that were lost or interrupted and replaced by a retry)."""
    trials = study.get_trials(deepcopy=False)
    replaced = {t.system_attrs[_RETRY_OF] for t in trials if _RETRY_OF in t.system_attrs}
    return [t for t in trials if _SKIPPED not in t.system_attrs and t.number not in replaced]


def _as_record(result: Any) -> dict[str, Any]:
    """An objective's return value (a number or a sequence of numbers) as a run record."""
    if isinstance(result, (int, float)):
        return {"status": "complete", "values": [result]}
    if isinstance(result, Sequence) and not isinstance(result, str):
        return {"status": "complete", "values": list(result)}
    return {"status": "complete", "values": result}  # _check_record reports the bad type


def _sampled_record(objective: Callable[[optuna.Trial], Any], trial: optuna.Trial) -> dict:
    return _as_record(objective(trial))


def run_sampled(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float | Sequence[float]],
    *,
    n_trials: int,
    progress: bool = True,
    max_retry: int | None = DEFAULT_MAX_RETRY,
) -> int:
    """Run sampler-driven trials until the study holds `n_trials` trials, across ALL workers.

    The budget counts each logical trial once, whatever its end (COMPLETE, PRUNED or FAIL); an
    attempt lost to a dead worker or Ctrl-C is replaced by its retry rather than counted. It is
    exact with any number of workers: a trial runs only if fewer than `n_trials` counted trials
    have a lower number, else it is ended as skipped (Optuna's MaxTrialsCallback checks after a
    trial ends, so concurrent workers overshoot by up to one trial each). WAITING trials (retries,
    enqueued baselines) are taken first. Exceptions in `objective` fail that trial and the worker
    goes on; optuna.TrialPruned prunes it. Returns how many trials this worker ran.
    """
    if n_trials < 0:
        raise ValueError(f"Trial budget is {n_trials}; pass --trials 0 or more.")
    ran = 0
    bar = _bar(study, progress, total=n_trials)
    try:
        while True:
            _recover_stale(study, max_retry)
            counted = _budget_trials(study)
            has_waiting = any(t.state == TrialState.WAITING for t in counted)
            if not has_waiting and len(counted) >= n_trials:
                return ran
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask()  # pops a WAITING trial, else creates one
            try:
                study._storage.set_trial_system_attr(trial._trial_id, _WORKER, _worker_tag())
                below = [t for t in _budget_trials(study) if t.number < trial.number]
            except BaseException as exc:
                _interrupted(study, trial, exc, max_retry)
                raise
            if len(below) >= n_trials:
                _skip(study, trial, f"over the budget of {n_trials} trials")
                continue
            _execute(study, trial, functools.partial(_sampled_record, objective, trial), max_retry)
            ran += 1
            if bar is not None:
                bar.n = min(n_trials, sum(t.state.is_finished() for t in _budget_trials(study)))
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()


def _bar(study: optuna.Study, progress: bool, total: int | None = None) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    if total is None:
        status = cell_status(study)
        return tqdm(
            total=status["total"], initial=status["complete"], desc=study.study_name, unit="run"
        )
    return tqdm(total=total, desc=study.study_name, unit="trial")


def _bar_update(bar: Any, study: optuna.Study) -> None:
    if bar is not None:
        status = cell_status(study)  # progress of all workers, not just this one
        bar.total, bar.n = status["total"], status["complete"]
        bar.refresh()


# ----------------------------------------------------------------------------------------------
# Local worker processes


def queue_worker(
    storage_url: str | None,
    study_dir: str | Path,
    study_name: str,
    directions: Sequence[str],
    run_cell: Callable[[dict[str, Any], optuna.Trial], dict[str, Any]],
    progress: bool = False,
) -> int:
    """Entry point of one worker process for `start_workers`: open the study, run the queue."""
    storage = open_storage(storage_url, Path(study_dir))
    study = load_study(study_name, storage, directions=directions)
    return run_queue(study, run_cell, progress=progress)


def start_workers(n: int, target: Callable[..., Any], args: tuple[Any, ...]) -> list[int]:
    """Run `target(*args)` in `n` fresh processes (spawn: safe with CUDA and threads), wait for
    all and return their exit codes; a worker that dies does not stop the others."""
    if n < 1:
        raise ValueError(f"Number of workers is {n}; pass at least 1.")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args, name=f"bench-worker-{i}") for i in range(n)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        # Ctrl-C reaches the workers too; each ends its trial cleanly, so wait for them.
        for p in procs:
            p.join()
        raise
    return [p.exitcode if p.exitcode is not None else -1 for p in procs]
