"""Who runs a trial, and what happens to the trial when its worker dies.

Every trial the engine runs carries a worker tag (machine, pid, process start time), so a worker
that starts later can fail the RUNNING trial of a dead worker on the same machine and queue it
again; PostgreSQL storages also use Optuna's heartbeat for workers on other machines.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import optuna
import sqlalchemy
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._rdb import models  # heartbeat ages: Optuna has no public accessor
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRY = 3  # a trial whose worker died is queued again at most this many times

# System attributes owned by the engine (user attrs are for people and the dashboard).
WORKER = "bench:worker"  # who runs a RUNNING trial: {"machine", "pid", "start"}
SKIPPED = "bench:skipped"  # duplicate cell or over-budget trial, ended without running
# Study system attribute, one per trial number: a COMPLETE trial whose run record was lost
# everywhere; the cell counts as not run and is queued again (finished trials cannot change).
VOID = "bench:void:"
RETRY_OF = "bench:retry_of"  # number of the dead/interrupted attempt this trial replaces
RETRY_HISTORY = "bench:retry_history"
DUPLICATE_OF = "bench:duplicate_of"  # a sampled config answered from an earlier trial's result
# A RUNNING trial without a worker tag (its worker died between popping and tagging it) is taken
# as dead after this long; tagging follows popping within milliseconds.
_UNTAGGED_STALE = timedelta(minutes=10)


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


MACHINE = _machine()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, or None if it does not exist."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parens
    return fields[0], fields[19]


def worker_tag() -> dict[str, Any]:
    stat = _proc_stat(os.getpid())
    return {"machine": MACHINE, "pid": os.getpid(), "start": stat[1] if stat else None}


def _is_dead(tag: dict[str, Any]) -> bool:
    """True only when the tagged worker is certainly gone (same machine, process ended)."""
    if os.name == "nt" or tag.get("machine") != MACHINE:
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

    def __init__(self, max_retry: int | None = DEFAULT_MAX_RETRY, announce: bool = False) -> None:
        self.max_retry, self.announce = max_retry, announce

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.announce:  # the heartbeat path: nobody else says why the trial came back
            host = str((trial.system_attrs.get(WORKER) or {}).get("machine", "?")).split("|")[0]
            log.warning(
                "Trial %d: its worker on %s stopped beating for longer than the grace period; "
                "queueing it again.",
                trial.number,
                host,
            )
        history = [*trial.system_attrs.get(RETRY_HISTORY, []), trial.number]
        if self.max_retry is not None and len(history) > self.max_retry:
            log.warning(
                "Trial %d was lost %d times; not retrying it again.", trial.number, len(history)
            )
            return
        system_attrs = {k: v for k, v in trial.system_attrs.items() if not k.startswith("bench:")}
        system_attrs.update({RETRY_OF: trial.number, RETRY_HISTORY: history})
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


def fail_trial(study: optuna.Study, trial_id: int, error: str) -> bool:
    """Fail a RUNNING trial; False if it had already finished (someone else got there first)."""
    storage = study._storage  # the study's own (possibly cached) storage; no public accessor
    try:
        storage.set_trial_user_attr(trial_id, "error", error)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False
    return True


def recover_stale(study: optuna.Study, max_retry: int | None) -> int:
    """Fail and requeue RUNNING trials whose worker is dead; return how many were recovered."""
    recovered = 0
    if _heartbeat_interval(study) is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # calls RetryStaleTrial for each one
    now = datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = t.system_attrs.get(WORKER)
        if tag is not None:
            if not _is_dead(tag):
                continue
            why = f"worker pid {tag['pid']} died while running this trial"
        elif t.datetime_start is not None and now - t.datetime_start > _UNTAGGED_STALE:
            why = "worker died before it could tag this trial"
        else:
            continue
        if fail_trial(study, t._trial_id, why):
            log.warning("Trial %d: %s; queueing it again.", t.number, why)
            RetryStaleTrial(max_retry)(study, study._storage.get_trial(t._trial_id))
            recovered += 1
    return recovered


def voided(study: optuna.Study) -> set[int]:
    """Numbers of trials whose result was declared void (see `VOID`)."""
    attrs = study._storage.get_study_system_attrs(study._study_id)
    return {int(k[len(VOID) :]) for k in attrs if k.startswith(VOID)}


def void_trial(study: optuna.Study, number: int, reason: str) -> None:
    study._storage.set_study_system_attr(study._study_id, f"{VOID}{number}", reason)


def heartbeat_ages(study: optuna.Study) -> dict[int, float]:
    """Seconds since the last heartbeat of each RUNNING trial, by trial number, measured by the
    database's own clock (machines' clocks may differ); {} for storages without heartbeats."""
    storage = _backend(study)
    if _heartbeat_interval(study) is None or not hasattr(storage, "scoped_session"):
        return {}
    session = storage.scoped_session()
    try:
        now = session.execute(sqlalchemy.func.now()).scalar().replace(tzinfo=None)
        rows = (
            session.query(models.TrialModel.number, models.TrialHeartbeatModel.heartbeat)
            .join(models.TrialHeartbeatModel)
            .filter(models.TrialModel.study_id == study._study_id)
            .filter(models.TrialModel.state == TrialState.RUNNING)
            .all()
        )
    finally:
        session.close()
    return {number: (now - beat).total_seconds() for number, beat in rows}


def running_elsewhere(study: optuna.Study) -> list[dict[str, Any]]:
    """RUNNING trials that another process runs (here or on another machine): their number, run
    id, host and pid, and the age of their last heartbeat in seconds (None without one)."""
    ages = heartbeat_ages(study)
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = t.system_attrs.get(WORKER) or {}
        if tag.get("machine") == MACHINE and tag.get("pid") == os.getpid():
            continue
        host = str(tag.get("machine", "?")).split("|", 1)[0]
        out.append(
            {
                "number": t.number,
                "run_id": t.user_attrs.get("run_id"),
                "host": host,
                "pid": tag.get("pid"),
                "here": tag.get("machine") == MACHINE,
                "beat_age": ages.get(t.number),
            }
        )
    return out


def describe_running(running: list[dict[str, Any]], grace: int | None = None) -> str:
    """'2 running elsewhere, last heartbeat 40 s ago (a worker silent for 120 s is taken for
    dead)' or '1 running in another process on this machine (pid 123)'."""
    if not running:
        return ""
    ages = [r["beat_age"] for r in running if r["beat_age"] is not None]
    if ages:
        text = f"{len(running)} running elsewhere, last heartbeat {min(ages):.0f} s ago"
        return text + (f" (a worker silent for {grace} s is taken for dead)" if grace else "")
    pids = ", ".join(str(r["pid"]) for r in running if r["here"])
    hosts = sorted({r["host"] for r in running if not r["here"]})
    where = [f"in another process on this machine (pid {pids})"] if pids else []
    where += [f"on {', '.join(hosts)}"] if hosts else []
    return f"{len(running)} running {' and '.join(where)}"


def grace_of(study: optuna.Study) -> int | None:
    """Seconds of silence after which a worker on another machine is taken for dead."""
    interval = _heartbeat_interval(study)
    if interval is None:
        return None
    return getattr(_backend(study), "grace_period", None) or 2 * interval


def _backend(study: optuna.Study) -> Any:
    """The RDBStorage under Optuna's cache wrapper (its settings are not proxied)."""
    return getattr(study._storage, "_backend", study._storage)


def _heartbeat_interval(study: optuna.Study) -> int | None:
    get = getattr(study._storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


@contextmanager
def heartbeat(study: optuna.Study, trial_id: int) -> Iterator[None]:
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
