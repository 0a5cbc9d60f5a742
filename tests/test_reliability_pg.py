"""Several machines on one PostgreSQL study, drilled as a user would: a real server started by the
test, a role with a password holding every character URLs reserve.

Machines are played by processes with their own results folders (and, where it matters, their
own machine identity); they share only the database and, for records, one artifact folder.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from bench import ablate, plots, search
from bench.engine import (
    describe_running,
    enqueue_cells,
    grace_of,
    load_study,
    open_existing_study,
    open_storage,
    recovery,
    run_queue,
    running_elsewhere,
    with_liveness,
)

pg = pytest.importorskip("pg")  # tests/pg.py: the throwaway server

SECRET = "Kx7vQ@Lm9pR:Wt3zY/Hq8#"
PIECES = ["Kx7vQ", "Lm9pR", "Wt3zY"]
ENCODED = quote(SECRET, safe="")
TINY = ["preset=digits-1-32", "epochs=1"]
MAX = ["maximize"]


@pytest.fixture(scope="module")
def server() -> str:
    """URL of the role `bench` (password SECRET, percent-encoded) on a fresh server."""
    with pg.postgres_server(password=SECRET) as url:
        yield url


_count = iter(range(10_000))


@pytest.fixture()
def db(server: str) -> str:
    """An empty database of its own for each test (first use creates Optuna's tables)."""
    return pg.create_database(server, f"t{os.getpid()}_{next(_count)}")


def _no_password(url: str) -> str:
    return url.replace(f":{ENCODED}@", "@")


def _assert_no_secret(text: str, where: str) -> None:
    for piece in [*PIECES, ENCODED]:
        assert piece not in text, f"{piece!r} in {where}"


def _assert_no_secret_in_files(*folders: Path) -> int:
    seen = 0
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                _assert_no_secret(path.read_bytes().decode("latin-1"), str(path))
                seen += 1
    return seen


# ------------------------------------------------------------------------------ credentials


def test_a_password_is_in_no_output_and_no_file(
    db: str, tmp_path: Path, capsys: Any, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ablation and search with the password in the URL: every print, log line and file written
    (study.json, report.md, runs.csv, plots, records, artifacts) is free of it, and the
    search's report reopens the study (with the URL given, not PGPASSWORD)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    results = tmp_path / "results"
    common = ["--storage", db, "--results", str(results), "--workers", "1"]
    assert ablate.main(["attention=ssa,vsa", "seeds=1", *TINY, *common, "--dry-run"]) == 0
    assert not results.exists() or not any(results.iterdir())  # a dry run writes nothing
    assert ablate.main(["attention=ssa,vsa", "seeds=1", *TINY, *common]) == 0
    code = search.main(["epochs=1", "--trials", "2", "--confirm-seeds", "0", *common])
    assert code == 0
    out = capsys.readouterr()
    for name, text in (("stdout", out.out), ("stderr", out.err), ("log", caplog.text)):
        _assert_no_secret(text, name)
    assert "no password supplied" not in caplog.text
    assert "storage: postgresql://bench:***@127.0.0.1" in out.out
    folders = sorted(p.parent for p in results.glob("*/study.json"))
    assert len(folders) == 2
    assert all((f / "report.md").is_file() for f in folders)
    searched = [f for f in folders if f.name.startswith("search-")][0]
    assert (searched / "trials.csv").is_file()  # the report reopened the study
    assert _assert_no_secret_in_files(results) > 20


def test_a_stored_url_reopens_with_pgpassword_or_a_pgpass_file(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_study("s", open_storage(db, tmp_path), directions=MAX)
    stored = _no_password(db).replace("bench@", "bench:***@")  # as study.json keeps it
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(ValueError, match="no password supplied.*PGPASSWORD or ~/.pgpass"):
        open_existing_study(stored, tmp_path, "s")
    monkeypatch.setenv("PGPASSWORD", SECRET)
    assert open_existing_study(stored, tmp_path, "s").study_name == "s"
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    escaped = SECRET.replace("\\", "\\\\").replace(":", "\\:")
    pgpass.write_text(f"127.0.0.1:*:*:bench:{escaped}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert open_existing_study(stored, tmp_path, "s").study_name == "s"


def test_a_wrong_password_is_one_sentence_and_writes_nothing(
    db: str, tmp_path: Path, capsys: Any
) -> None:
    wrong = db.replace(ENCODED, quote("Zz9wrongQq", safe=""))
    results = tmp_path / "results"
    args = ["attention=ssa,vsa", "seeds=1", *TINY, "--storage", wrong, "--results", str(results)]
    assert ablate.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Cannot open storage 'postgresql+psycopg2://bench:***@127.0.0.1")
    assert "password authentication failed" in err and "PGPASSWORD or ~/.pgpass" in err
    assert "Zz9wrongQq" not in err
    args = ["epochs=1", "--trials", "1", "--storage", wrong, "--results", str(results)]
    assert search.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "password authentication failed" in err and "Zz9wrongQq" not in err
    mysql = "mysql://bench:Zz9wrongQq@127.0.0.1/bench"
    assert search.main([*args[:-4], "--storage", mysql, "--results", str(results)]) == 2
    assert "'mysql://bench:***@127.0.0.1/bench' is not supported" in capsys.readouterr().err
    assert not any(results.rglob("*"))  # nothing is written before the storage opens


# ----------------------------------------------------------------- empty database, races


def _open_at_once(url: str, folder: str, barrier: Any) -> None:
    barrier.wait()
    study = load_study("raced", open_storage(url, Path(folder)), directions=MAX)
    study.set_user_attr("seen", True)


def test_two_processes_on_an_empty_database_both_work(server: str, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(3):  # the race was lost 3 of 3 times before the schema lock
        url = pg.create_database(server, f"empty{os.getpid()}_{attempt}")
        barrier = ctx.Barrier(2)
        procs = [
            ctx.Process(target=_open_at_once, args=(url, str(tmp_path), barrier)) for _ in "ab"
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0, 0]
        names = optuna.study.get_all_study_names(open_storage(url, tmp_path))
        assert names == ["raced"]


# ------------------------------------------------------------------- two machines, one study


def _machine(results: Path, db: str, artifacts: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PGPASSWORD", None)
    args = ["attention=ssa,vsa", "seeds=2", *TINY, "--study", "shared", "--workers", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "bench.ablate", *args, "--storage", db]
        + ["--results", str(results), "--artifacts", str(artifacts), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_machines_each_write_the_complete_report(db: str, tmp_path: Path, capsys: Any) -> None:
    artifacts = tmp_path / "shared-artifacts"
    folders = [tmp_path / "machine-a", tmp_path / "machine-b"]
    procs = [_machine(f, db, artifacts) for f in folders]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "4 of 4 runs complete." in out
    trained = [len(list((f / "shared" / "runs").glob("*/checkpoint.pt"))) for f in folders]
    assert sum(trained) == 4 and min(trained) >= 1  # the work was shared, each cell once
    for folder in folders:
        runs = pd.read_csv(folder / "shared" / "runs.csv")
        assert len(runs) == 4 and set(runs["status"]) == {"complete"}
        assert ", 0 not run yet" in (folder / "shared" / "report.md").read_text()
    a, b = (pd.read_csv(f / "shared" / "runs.csv").set_index("run_id") for f in folders)
    assert a["test_acc_pct"].sort_index().equals(b["test_acc_pct"].sort_index())

    # A third machine with no runs of its own: bench.plots alone rebuilds the full report.
    third = tmp_path / "machine-c" / "shared"
    third.mkdir(parents=True)
    (third / "study.json").write_bytes((folders[0] / "shared" / "study.json").read_bytes())
    os.environ["PGPASSWORD"] = SECRET
    try:
        assert plots.main([str(third)]) == 0
    finally:
        del os.environ["PGPASSWORD"]
    runs = pd.read_csv(third / "runs.csv")  # the default store is the one the study was made with
    assert len(runs) == 4 and set(runs["status"]) == {"complete"}

    # The same study name with other fixed settings, from a fresh folder: refused, nothing written.
    other = tmp_path / "machine-d"
    capsys.readouterr()
    args = ["attention=ssa,vsa", "seeds=2", "preset=digits-1-32", "epochs=2", "--study", "shared"]
    assert ablate.main([*args, "--storage", db, "--results", str(other)]) == 2
    err = capsys.readouterr().err
    assert "Study 'shared' in the storage was made with other settings" in err
    assert not (other / "shared" / "study.json").exists()


# ----------------------------------------------------------------- liveness across machines


def _cell(config: dict[str, Any], trial: optuna.Trial) -> dict[str, Any]:
    block = config.get("block")
    if block:
        Path(f"{block}.started").touch()
        while Path(block).exists():
            time.sleep(0.05)
    return {"status": "complete", "values": [1.0], "metrics": {"pid": os.getpid()}}


def _remote_worker(url: str, folder: str) -> None:
    recovery.MACHINE = "another-host|ns|boot"  # this process plays a worker on another machine
    study = load_study("live", open_storage(url, Path(folder)), directions=MAX)
    run_queue(study, _cell)


def test_a_rerun_waits_for_a_worker_elsewhere_and_takes_over_when_it_dies(
    db: str, tmp_path: Path
) -> None:
    url = with_liveness(db, 1, 3)
    study = load_study("live", open_storage(url, tmp_path), directions=MAX)
    assert grace_of(study) == 3
    block = tmp_path / "block"
    block.touch()
    cells = [{"run_id": "a", "config": {"block": str(block)}}, {"run_id": "b", "config": {}}]
    enqueue_cells(study, cells)
    ctx = multiprocessing.get_context("spawn")
    worker = ctx.Process(target=_remote_worker, args=(url, str(tmp_path)))
    worker.start()
    deadline = time.monotonic() + 120
    while not Path(f"{block}.started").exists():
        assert worker.is_alive() and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.5)  # a beat or two
    (running,) = running_elsewhere(study)
    assert running["run_id"] == "a" and running["host"] == "another-host"
    assert 0 <= running["beat_age"] < 3
    text = describe_running([running], grace_of(study))
    assert text.startswith("1 running elsewhere, last heartbeat ")
    assert text.endswith(" s ago (a worker silent for 3 s is taken for dead)")
    os.kill(worker.pid, signal.SIGKILL)  # the other machine is lost
    worker.join()
    block.unlink()
    started = time.monotonic()
    assert run_queue(study, _cell, wait=True, poll=0.5) == 2  # b, then a once stale
    assert time.monotonic() - started >= 1.0  # it waited for the grace period
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(t.user_attrs["run_id"] for t in complete) == ["a", "b"]
    assert {t.user_attrs["pid"] for t in complete} == {os.getpid()}


def test_two_search_processes_train_n_distinct_configurations(db: str, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "bench.search", "epochs=1", "--trials", "4", "--study", "two"]
    cmd += ["--confirm-seeds", "0", "--workers", "1", "--storage", db]
    folders = [tmp_path / "a", tmp_path / "b"]
    procs = [
        subprocess.Popen([*cmd, "--results", str(f)], env=env, stderr=subprocess.PIPE, text=True)
        for f in folders
    ]
    errs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    study = load_study("two", open_storage(db, tmp_path), directions=MAX)
    counted = [
        t
        for t in study.get_trials(deepcopy=False)
        if not {"bench:skipped", "bench:duplicate_of"} & set(t.system_attrs)
    ]
    assert len(counted) == 4 and len({t.user_attrs["run_id"] for t in counted}) == 4
    trained = [p.parent.name for f in folders for p in f.glob("two/runs/*/checkpoint.pt")]
    assert sorted(trained) == sorted(t.user_attrs["run_id"] for t in counted)  # each once
