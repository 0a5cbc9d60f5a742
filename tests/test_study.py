"""The study engine: queue semantics, several worker processes, killed workers, budgets, storages.

The run functions here are cheap fakes (no training): they log each execution to a file so the
tests can count real executions, not only trial states.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from engine_helpers import completed_cells, queue_worker
from optuna.trial import TrialState

from bench import engine as st
from bench.engine import queue, recovery, sampled

optuna.logging.set_verbosity(optuna.logging.WARNING)

MAX = ["maximize"]


# ---------------------------------------------------------------------------------------------
# Fakes; module level so spawned worker processes can import them.


def fake_cell(config: dict, trial: optuna.Trial) -> dict:
    """Log the run, optionally wait for a partner worker or a released block, return a value."""
    run_id = trial.user_attrs["run_id"]
    with open(config["log"], "a") as f:
        f.write(f"{run_id} {os.getpid()}\n")
    if config.get("meet"):  # hold the first cells until two workers are inside one
        meet = Path(config["meet"])
        (meet / str(os.getpid())).touch()
        deadline = time.monotonic() + 20
        while len(list(meet.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    if config.get("block") and os.path.exists(config["block"]):
        Path(config["block"] + ".started").touch()
        while os.path.exists(config["block"]):
            time.sleep(0.02)
    if config.get("crash") and os.path.exists(config["crash"]):
        os.remove(config["crash"])  # only the first attempt crashes
        os._exit(3)  # like a segfault or the OOM killer: no cleanup at all
    if config.get("raise"):
        raise RuntimeError(f"cell {run_id} broke")
    if config.get("interrupt") and os.path.exists(config["interrupt"]):
        os.remove(config["interrupt"])  # only the first attempt is interrupted
        raise KeyboardInterrupt
    time.sleep(0.05)
    return {
        "status": "complete",
        "values": [config["a"] * 10 + config["b"]],
        "metrics": {"acc": 0.5, "pid": os.getpid()},
        "error": None,
    }


def fake_objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    with open(trial.study.user_attrs["log"], "a") as f:
        f.write(f"{trial.number}\n")
    time.sleep(0.05)
    return x


def sampled_worker(study_dir: str, n_trials: int) -> None:
    study = st.load_study(
        "search",
        st.open_storage(None, Path(study_dir)),
        directions=["minimize"],
        sampler=optuna.samplers.RandomSampler(seed=os.getpid()),
    )
    st.run_sampled(study, fake_objective, n_trials=n_trials)


def remote_worker(url: str, study_dir: str, name: str) -> None:
    """A worker that looks as if it ran on another machine: only its heartbeat can expose it."""
    recovery.MACHINE = "another-host"
    storage = st.open_storage(url, Path(study_dir), heartbeat_interval=1, grace_period=2)
    st.run_queue(st.load_study(name, storage, directions=MAX), fake_cell)


# ---------------------------------------------------------------------------------------------
# Helpers


def grid(tmp_path: Path, a: int = 2, b: int = 3, **extra: object) -> list[dict]:
    log = str(tmp_path / "runs.log")
    return [
        {"run_id": f"a{i}-b{j}", "config": {"a": i, "b": j, "log": log, **extra}}
        for i in range(a)
        for j in range(b)
    ]


def executions(tmp_path: Path) -> Counter:
    path = tmp_path / "runs.log"
    lines = path.read_text().split() if path.exists() else []
    return Counter(lines[0::2])


def assert_each_complete_once(study: optuna.Study, cells: list[dict]) -> None:
    trials = study.get_trials()
    complete = Counter(t.user_attrs["run_id"] for t in trials if t.state == TrialState.COMPLETE)
    assert complete == Counter(c["run_id"] for c in cells)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for t in trials:
        if t.state == TrialState.COMPLETE:
            cfg = t.user_attrs["config"]
            assert t.values == [cfg["a"] * 10 + cfg["b"]]
    status = st.cell_status(study, [c["run_id"] for c in cells])
    assert status["complete"] == len(cells) and status["missing"] == []


def spawn(target, *args) -> multiprocessing.Process:
    p = multiprocessing.get_context("spawn").Process(target=target, args=args)
    p.start()
    return p


def wait_for(path: Path, proc: multiprocessing.Process, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.is_alive(), f"worker exited with {proc.exitcode} before reaching the block"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# One process


def test_enqueue_is_idempotent_and_a_rerun_runs_nothing(tmp_path: Path) -> None:
    study = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)
    cells = grid(tmp_path)
    assert st.enqueue_cells(study, cells) == 6
    assert st.enqueue_cells(study, cells) == 0
    assert st.enqueue_cells(study, cells[:2] + cells) == 0
    assert len(study.trials) == 6 and st.cell_status(study)["waiting"] == 6
    assert st.run_queue(study, fake_cell) == 6
    assert_each_complete_once(study, cells)
    assert study.trials[0].user_attrs["acc"] == 0.5  # metrics become user attributes
    assert st.enqueue_cells(study, cells) == 0
    assert st.run_queue(study, fake_cell) == 0
    assert len(study.trials) == 6 and sum(executions(tmp_path).values()) == 6
    # Reopening the journal from another storage object sees the same study.
    again = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)
    assert [t.state for t in again.trials] == [TrialState.COMPLETE] * 6


def test_enqueue_rejects_bad_cells(tmp_path: Path) -> None:
    study = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)
    with pytest.raises(ValueError, match="string 'run_id'"):
        st.enqueue_cells(study, [{"config": {}}])
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        st.enqueue_cells(study, [{"run_id": "x", "config": {"f": object()}}])
    with pytest.raises(ValueError, match="twice with different configs"):
        st.enqueue_cells(
            study, [{"run_id": "x", "config": {"a": 1}}, {"run_id": "x", "config": {"a": 2}}]
        )
    st.enqueue_cells(study, [{"run_id": "x", "config": {"a": 1}}])
    with pytest.raises(ValueError, match="already in study 's' with a different config"):
        st.enqueue_cells(study, [{"run_id": "x", "config": {"a": 2}}])
    with pytest.raises(ValueError, match="already exists with directions"):
        st.load_study("s", st.open_storage(None, tmp_path), directions=["minimize"])


def test_a_failing_cell_loses_no_other_and_a_rerun_retries_it(tmp_path: Path) -> None:
    study = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)
    cells = grid(tmp_path)
    cells[1]["config"]["raise"] = True
    st.enqueue_cells(study, cells)
    assert st.run_queue(study, fake_cell) == 6
    status = st.cell_status(study)
    assert (status["complete"], status["failed"], status["missing"]) == (5, 1, ["a0-b1"])
    assert status["errors"]["a0-b1"] == "RuntimeError: cell a0-b1 broke"
    failed = study.trials[1]
    assert failed.state == TrialState.FAIL and "RuntimeError" in failed.user_attrs["traceback"]
    # The user fixes the cause; the same command queues only the failed cell again.
    del cells[1]["config"]["raise"]
    with pytest.raises(ValueError, match="different config"):
        st.enqueue_cells(study, cells)  # a changed config needs a new run id
    cells[1]["run_id"] = "a0-b1-fixed"
    assert st.enqueue_cells(study, cells) == 1
    failing = grid(tmp_path)
    failing[1]["config"]["raise"] = True
    assert st.enqueue_cells(study, failing) == 1  # failed cells are retried by a rerun
    assert st.run_queue(study, fake_cell) == 2
    assert st.cell_status(study)["missing"] == ["a0-b1"]


def test_keyboard_interrupt_fails_the_trial_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    study = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)
    flag = tmp_path / "interrupt"
    flag.touch()
    cells = grid(tmp_path, interrupt=str(flag))
    st.enqueue_cells(study, cells)
    with pytest.raises(KeyboardInterrupt):
        st.run_queue(study, fake_cell)
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.FAIL and TrialState.RUNNING not in states
    assert study.trials[0].user_attrs["error"] == "interrupted (KeyboardInterrupt)"
    assert st.run_queue(study, fake_cell) == 6
    assert_each_complete_once(study, cells)


def test_bad_records_fail_the_trial_with_a_message(tmp_path: Path) -> None:
    study = st.load_study("s", st.open_storage(None, tmp_path), directions=["maximize", "minimize"])
    st.enqueue_cells(study, [{"run_id": r, "config": {}} for r in "abcd"])
    records = {
        "a": {"status": "complete", "values": [1.0]},
        "b": {"status": "complete", "values": [1.0, float("nan")]},
        "c": {"status": "failed", "values": [], "error": "NaN loss at epoch 3"},
        "d": {"status": "complete", "values": [1.0, 2.0], "metrics": {"energy_mj": 0.1}},
    }
    st.run_queue(study, lambda cfg, trial: records[trial.user_attrs["run_id"]])
    errors = st.cell_status(study)["errors"]
    assert errors == {
        "a": "run_cell returned 1 values but the study has 2 objectives",
        "b": "run_cell returned non-finite values [1.0, nan]",
        "c": "NaN loss at epoch 3",
    }
    done = completed_cells(study)
    assert list(done) == ["d"] and done["d"].values == [1.0, 2.0]


def test_a_trial_popped_by_another_worker_is_not_taken_again(tmp_path: Path, monkeypatch) -> None:
    a = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)
    cells = grid(tmp_path, a=1, b=2)
    st.enqueue_cells(a, cells)
    b = st.load_study("s", st.open_storage(None, tmp_path), directions=MAX)  # a second worker
    stale = b.get_trials(states=(TrialState.WAITING,))
    taken = queue._pop_cell(a)
    assert taken is not None and taken.number == 0
    # Worker b lists the queue just before a's pop lands: it still sees trial 0 as WAITING.
    real = b._storage.get_all_trials

    def racing_view(study_id, deepcopy=True, states=None):
        return stale if states == (TrialState.WAITING,) else real(study_id, deepcopy, states)

    monkeypatch.setattr(b._storage, "get_all_trials", racing_view)
    assert st.run_queue(b, fake_cell) == 1
    assert executions(tmp_path) == Counter({"a0-b1": 1})
    assert [t.state for t in a.trials] == [TrialState.RUNNING, TrialState.COMPLETE]


def test_run_sampled_skips_a_trial_created_past_the_budget(tmp_path: Path, monkeypatch) -> None:
    study = st.load_study("search", st.open_storage(None, tmp_path), directions=["minimize"])
    study.set_user_attr("log", str(tmp_path / "runs.log"))
    others = [study.ask() for _ in range(3)]  # another worker's trials, still running
    # That worker created them between this worker's budget check and its ask.
    real, checks = sampled.budget_trials, []

    def late_view(s: optuna.Study) -> list:
        checks.append(s)
        return [] if len(checks) == 1 else real(s)

    monkeypatch.setattr(sampled, "budget_trials", late_view)
    assert st.run_sampled(study, fake_objective, n_trials=3) == 0
    assert not (tmp_path / "runs.log").exists()
    extra = study.trials[3]
    assert extra.state == TrialState.FAIL and extra.user_attrs["skipped"].startswith("over the")
    for t in others:
        study.tell(t, 0.5)
    assert st.run_sampled(study, fake_objective, n_trials=4) == 1
    assert len((tmp_path / "runs.log").read_text().split()) == 1


# ---------------------------------------------------------------------------------------------
# Several processes on one journal file


def test_two_worker_processes_complete_a_grid_once(tmp_path: Path) -> None:
    storage = st.open_storage(None, tmp_path)
    study = st.load_study("grid", storage, directions=MAX)
    (tmp_path / "meet").mkdir()
    cells = grid(tmp_path, meet=str(tmp_path / "meet"))
    assert st.enqueue_cells(study, cells) == 6
    codes = st.start_workers(2, queue_worker, (None, str(tmp_path), "grid", MAX, fake_cell))
    assert codes == [0, 0]
    assert_each_complete_once(study, cells)
    assert len(study.trials) == 6  # no stray or duplicate trials
    assert executions(tmp_path) == Counter(c["run_id"] for c in cells)
    pids = {t.user_attrs["pid"] for t in study.trials}
    assert len(pids) == 2  # both workers really shared the queue


def test_a_crashed_worker_does_not_stop_the_other_which_recovers_its_cell(tmp_path: Path) -> None:
    study = st.load_study("grid", st.open_storage(None, tmp_path), directions=MAX)
    (tmp_path / "meet").mkdir()
    crash = tmp_path / "crash"
    crash.touch()
    cells = grid(tmp_path, meet=str(tmp_path / "meet"))
    cells[1]["config"]["crash"] = str(crash)  # the second worker's first cell kills it
    st.enqueue_cells(study, cells)
    codes = st.start_workers(2, queue_worker, (None, str(tmp_path), "grid", MAX, fake_cell))
    assert sorted(codes) == [0, 3]
    assert_each_complete_once(study, cells)
    assert executions(tmp_path)["a0-b1"] == 2
    lost = study.trials[1]
    assert lost.state == TrialState.FAIL and "died" in lost.user_attrs["error"]


def test_duplicate_enqueues_from_racing_workers_run_once(tmp_path: Path) -> None:
    study = st.load_study("grid", st.open_storage(None, tmp_path), directions=MAX)
    cells = grid(tmp_path)
    # Two processes that enqueued at the same instant can both add every cell.
    for cell in cells + cells:
        study.enqueue_trial({"run_id": cell["run_id"]}, user_attrs={**cell})
    codes = st.start_workers(2, queue_worker, (None, str(tmp_path), "grid", MAX, fake_cell))
    assert codes == [0, 0]
    assert_each_complete_once(study, cells)
    assert executions(tmp_path) == Counter(c["run_id"] for c in cells)
    skipped = [t for t in study.trials if "skipped" in t.user_attrs]
    assert len(skipped) == 6 and all(t.state == TrialState.FAIL for t in skipped)
    assert st.cell_status(study)["failed"] == 0


def test_a_killed_worker_loses_no_cell(tmp_path: Path) -> None:
    study = st.load_study("grid", st.open_storage(None, tmp_path), directions=MAX)
    block = tmp_path / "block"
    block.touch()
    cells = grid(tmp_path)
    cells[1]["config"]["block"] = str(block)
    st.enqueue_cells(study, cells)
    worker = spawn(queue_worker, None, str(tmp_path), "grid", MAX, fake_cell)
    wait_for(Path(f"{block}.started"), worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    assert worker.exitcode == -signal.SIGKILL
    killed = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert [t.user_attrs["run_id"] for t in killed] == ["a0-b1"]
    block.unlink()
    # The next worker (here: this process) sees the dead pid, fails and requeues that trial.
    assert st.run_queue(study, fake_cell) == 5
    assert_each_complete_once(study, cells)
    lost = study.trials[killed[0].number]
    assert lost.state == TrialState.FAIL and "died" in lost.user_attrs["error"]
    retry = [t for t in study.trials if t.system_attrs.get("bench:retry_of") == lost.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert executions(tmp_path)["a0-b1"] == 2  # killed attempt + retry, nothing else twice
    assert st.cell_status(study)["failed"] == 0


def test_run_sampled_keeps_a_global_budget_across_processes(tmp_path: Path) -> None:
    study = st.load_study("search", st.open_storage(None, tmp_path), directions=["minimize"])
    study.set_user_attr("log", str(tmp_path / "runs.log"))
    n = 7
    codes = st.start_workers(2, sampled_worker, (str(tmp_path), n))
    assert codes == [0, 0]
    ran = [t for t in study.trials if "skipped" not in t.user_attrs]
    assert len(ran) == n and all(t.state == TrialState.COMPLETE for t in ran)
    log = (tmp_path / "runs.log").read_text().split()
    assert len(log) == n and len(set(log)) == n
    assert all(t.state == TrialState.FAIL for t in study.trials if "skipped" in t.user_attrs)
    # A rerun with the budget reached runs nothing; a bigger budget runs only the difference.
    assert st.run_sampled(study, fake_objective, n_trials=n) == 0
    assert st.run_sampled(study, fake_objective, n_trials=n + 2) == 2


# ---------------------------------------------------------------------------------------------
# Storage URLs and PostgreSQL


@pytest.mark.parametrize("url", ["sqlite:///study.db", "sqlite+pysqlite:///:memory:"])
def test_sqlite_is_refused_with_the_alternative(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="unsafe for parallel workers.*journal file.*postgresql"):
        st.open_storage(url, tmp_path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "is not supported: pass postgresql://"),
        ("study.journal", "is not supported: pass postgresql://"),
        (
            "postgresql://u:secret@127.0.0.1:1/db",
            r"Cannot open storage 'postgresql\+psycopg2://u:"
            r"\*\*\*@127.0.0.1:1/db'.*server is running",
        ),
    ],
)
def test_bad_storage_urls_give_one_sentence(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        st.open_storage(url, tmp_path)
    assert "secret" not in str(err.value) and "\n" not in str(err.value)


@pytest.fixture(scope="module")
def pg_url() -> str:
    from pg import postgres_server

    with postgres_server() as url:
        yield url


def test_postgres_serves_two_worker_processes(pg_url: str, tmp_path: Path) -> None:
    study = st.load_study("grid", st.open_storage(pg_url, tmp_path), directions=MAX)
    (tmp_path / "meet").mkdir()
    cells = grid(tmp_path, meet=str(tmp_path / "meet"))
    assert st.enqueue_cells(study, cells) == 6
    assert st.enqueue_cells(study, cells) == 0
    codes = st.start_workers(2, queue_worker, (pg_url, str(tmp_path), "grid", MAX, fake_cell))
    assert codes == [0, 0]
    assert_each_complete_once(study, cells)
    assert len(study.trials) == 6
    assert executions(tmp_path) == Counter(c["run_id"] for c in cells)
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2


def test_postgres_heartbeat_requeues_a_dead_remote_worker(pg_url: str, tmp_path: Path) -> None:
    storage = st.open_storage(pg_url, tmp_path, heartbeat_interval=1, grace_period=2)
    study = st.load_study("remote", storage, directions=MAX)
    block = tmp_path / "block"
    block.touch()
    cells = grid(tmp_path, a=1, b=2)
    cells[0]["config"]["block"] = str(block)
    st.enqueue_cells(study, cells)
    worker = spawn(remote_worker, pg_url, str(tmp_path), "remote")
    wait_for(Path(f"{block}.started"), worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    block.unlink()
    ran = st.run_queue(study, fake_cell)  # the stale trial may not show yet
    time.sleep(2.5)  # past the grace period: the dead worker's heartbeat is now stale
    assert ran + st.run_queue(study, fake_cell) == 2
    assert_each_complete_once(study, cells)
    lost = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(lost) == 1 and lost[0].user_attrs["run_id"] == "a0-b0"
