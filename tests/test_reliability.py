"""Faults a user can cause, on one machine (journal): URLs and their passwords, liveness settings,
self-healing records, failures outside training, disk errors, SIGTERM.

The PostgreSQL drills (several machines, one study) are in tests/test_reliability_pg.py. Runs
are faked here (`fake_train_run`) wherever the training itself is not what is tested.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from bench import ablate, refresh
from bench.engine import (
    check_fingerprint,
    describe_liveness,
    liveness,
    load_study,
    masked_command,
    open_storage,
    public_url,
    storage_kind,
    with_liveness,
)
from bench.files import write_json
from bench.training.state import RECORD, DiskError, disk_error, load_record

SECRET = "Kx7vQ@Lm9pR:Wt3zY/Hq8#"  # every character URLs reserve, pieces long enough to grep
PIECES = ["Kx7vQ", "Lm9pR", "Wt3zY", "Hq8"]
TINY = ["preset=digits-1-32", "epochs=1"]


# ------------------------------------------------------------------------------ URLs, liveness


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bench:Kx7vQ%40Lm9pR%3AWt3zY%2FHq8%23@db.example:5432/bench",
        "postgresql://bench:Kx7vQ@Lm9pR:Wt3zY/Hq8#@db.example/bench",  # typed unencoded
        "mysql://bench:Kx7vQ@Lm9pR:Wt3zY@db.example/bench",  # unsupported scheme
        "postgresql+psycopg2://bench:Kx7vQLm9pRWt3zYHq8@db.example/bench?sslmode=require",
    ],
)
def test_a_password_is_never_shown_whatever_it_holds(url: str) -> None:
    for shown in (public_url(url), masked_command(["--storage", url]), storage_kind(url)):
        assert not any(p in shown for p in PIECES), shown
        assert "bench:***@" in shown
    assert public_url("postgresql://bench@db/bench") == "postgresql://bench@db/bench"


def test_a_reserved_character_in_a_password_is_one_sentence_without_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        open_storage("postgresql://bench:Kx7vQ@Lm9pR@db.example/bench", tmp_path)
    text = str(err.value)
    assert "percent-encode it (%40" in text and "PGPASSWORD" in text
    assert not any(p in text for p in PIECES)
    with pytest.raises(ValueError, match=r"'mysql://bench:\*\*\*@db/x' is not supported") as err:
        open_storage("mysql://bench:Kx7vQ@Lm9pR@db/x", tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written for a URL that is refused


def test_liveness_travels_in_the_url_and_is_checked() -> None:
    url = with_liveness("postgresql://u:pw@h/db?sslmode=require", 5, 20)
    assert liveness(url) == (5, 20)
    assert liveness("postgresql://u@h/db") == (60, 120)
    assert liveness(with_liveness("postgresql://u@h/db", 7, None)) == (7, 14)
    assert liveness(None) is None and with_liveness(None, 5, 20) is None
    assert storage_kind(url) == "postgresql://u:***@h/db?sslmode=require"
    assert "heartbeat every 5 s; a worker silent for 20 s" in describe_liveness(url)
    with pytest.raises(ValueError, match="--grace 5 must be longer than --heartbeat 5"):
        with_liveness("postgresql://u@h/db", 5, 5)
    with pytest.raises(ValueError, match="--heartbeat 0: pass a whole number"):
        with_liveness("postgresql://u@h/db", 0, None)


def test_a_study_is_bound_to_its_fingerprint(tmp_path: Path) -> None:
    study = load_study("s", open_storage(None, tmp_path), directions=["maximize"])
    check_fingerprint(study, "aaa")
    check_fingerprint(study, "aaa")
    with pytest.raises(ValueError, match="made with other settings .*pass --study NAME"):
        check_fingerprint(study, "bbb")


def test_disk_errors_are_one_sentence_naming_the_file_and_the_fix() -> None:
    full = disk_error(Path("/r/record.json"), OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert isinstance(full, OSError) and full.errno == errno.ENOSPC
    assert str(full) == (
        "cannot write /r/record.json (No space left on device); free space on that disk (or "
        "pass --results on another one), then rerun the same command."
    )
    denied = disk_error(Path("/r/x"), PermissionError(errno.EACCES, "Permission denied"))
    assert "make the folder writable" in str(denied)


# ------------------------------------------------------------------ ablations with a fake run


def fake_train_run(cfg: Any, out_dir: Path, **kwargs: Any) -> dict[str, Any]:
    """A run in milliseconds: the record bench.training writes, accuracy from the config (so a
    retrained run gives the same numbers), one line per call in calls.txt beside the study."""
    out_dir = Path(out_dir)
    with open(out_dir.parents[1] / "calls.txt", "a") as f:
        f.write(cfg.run_id + "\n")
    if cfg.model.attention == "sdsa":
        raise RuntimeError("CUDA error: an illegal memory access was encountered")
    acc = 0.5 + 0.01 * cfg.seed + (0.1 if cfg.model.attention == "vsa" else 0.0)
    row = {"epoch": 1, "test_acc": acc, "test_loss": 1.0, "train_acc": acc, "train_loss": 1.0}
    record = {
        "run_id": cfg.run_id,
        **(kwargs.get("tags") or {}),
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "status": "complete",
        "error": None,
        "curves": [row],
        "metrics": {**row, "epochs": 1, "params": 1000},
        "started": "2024-01-01T00:00:00",
        "finished": "2024-01-01T00:00:01",
    }
    write_json(out_dir / RECORD, record)
    return record


@pytest.fixture()
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.runner.train_run", fake_train_run)
    monkeypatch.setattr("bench.ablate.load_data", _digits_info)


class _Data:
    info = {"dataset": "digits", "train_size": 10, "val_size": 2, "test_size": 2, "root": "-"}


def _digits_info(*args: Any, **kwargs: Any) -> _Data:
    return _Data()


def _ablate(results: Path, *extra: str) -> int:
    return ablate.main(
        ["attention=ssa,vsa", "seeds=2", *TINY, "--workers", "1", "--results", str(results)]
        + list(extra)
    )


def _study_dir(results: Path) -> Path:
    (found,) = [p.parent for p in results.glob("*/study.json")]
    return found


def _calls(results: Path) -> list[str]:
    path = _study_dir(results) / "calls.txt"
    return path.read_text().split() if path.exists() else []


def _journal_study(study_dir: Path) -> optuna.Study:
    storage = open_storage(None, study_dir)
    return optuna.load_study(study_name=study_dir.name, storage=storage)


def test_a_corrupt_or_deleted_record_of_a_finished_cell_is_trained_again(
    tmp_path: Path, fake_runs: None, capsys: pytest.CaptureFixture
) -> None:
    assert _ablate(tmp_path) == 0
    folder = _study_dir(tmp_path)
    runs = sorted(p.parent for p in folder.glob("runs/*/record.json"))
    assert len(runs) == 4 and len(_calls(tmp_path)) == 4
    before = {p.name: load_record(p)["metrics"]["test_acc"] for p in runs}
    (runs[0] / RECORD).write_text('{"run_id": ')  # corrupt
    (runs[1] / RECORD).unlink()  # deleted
    capsys.readouterr()
    assert _ablate(tmp_path) == 0
    out = capsys.readouterr()
    assert "4 of 4 runs complete." in out.out
    assert sorted(_calls(tmp_path)[4:]) == sorted([runs[0].name, runs[1].name])
    after = {p.name: load_record(p)["metrics"]["test_acc"] for p in runs}
    assert after == before
    assert ", 0 not run yet" in (folder / "report.md").read_text()
    assert _ablate(tmp_path) == 0 and len(_calls(tmp_path)) == 6  # healed: nothing more to do


def test_a_cell_that_fails_outside_training_has_a_record_and_the_exit_is_1(
    tmp_path: Path, fake_runs: None, capsys: pytest.CaptureFixture
) -> None:
    code = ablate.main(
        ["attention=ssa,sdsa", "seeds=1", *TINY, "--workers", "1", "--results", str(tmp_path)]
    )
    assert code == 1
    assert "1 of 2 runs complete, 1 failed." in capsys.readouterr().out
    folder = _study_dir(tmp_path)
    failed = [r for p in folder.glob("runs/*") if (r := load_record(p))["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["error"] == (
        "RuntimeError: CUDA error: an illegal memory access was encountered"
    )
    assert failed[0]["variant"] == "attention=sdsa" and failed[0]["seed"] == 0
    runs_csv = (folder / "runs.csv").read_text()
    assert "CUDA error: an illegal memory access" in runs_csv


def test_disk_full_while_training_fails_the_cells_cleanly_and_the_report_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def full(path: Any, write: Any, *, binary: bool) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("bench.training.state.atomic_write", full)  # checkpoints
    monkeypatch.setattr("bench.training.state.write_json", lambda p, r: full(p, None, binary=0))
    monkeypatch.setattr("bench.ablate.load_data", _digits_info)
    code = ablate.main(
        ["attention=ssa,vsa", "seeds=1", *TINY, "--workers", "1", "--results", str(tmp_path)]
    )
    out = capsys.readouterr()
    assert code == 1
    assert "0 of 2 runs complete, 2 failed." in out.out
    assert "Traceback" not in out.err
    folder = _study_dir(tmp_path)
    report = (folder / "report.md").read_text()
    records = [load_record(p) for p in folder.glob("runs/*")]
    assert [r["status"] for r in records] == ["failed", "failed"]
    for r in records:  # written from the study by the report's sync, with the sentence
        assert r["error"].startswith("DiskError: cannot write ")
        assert "(No space left on device); free space on that disk" in r["error"]
    assert "No space left on device" in report


def test_a_plot_step_on_a_full_disk_still_writes_the_report(
    tmp_path: Path, fake_runs: None, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def full(*args: Any, **kwargs: Any) -> list[Path]:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(refresh, "plot_study", full)
    assert _ablate(tmp_path) == 0
    assert (_study_dir(tmp_path) / "report.md").is_file()
    assert "skipping the plots: cannot write" in caplog.text
    assert "(No space left on device); free space" in caplog.text


def test_a_report_that_cannot_be_written_is_one_sentence_and_exit_1(
    tmp_path: Path, fake_runs: None, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def denied(*args: Any, **kwargs: Any) -> Path:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(refresh, "write_report", denied)
    assert _ablate(tmp_path) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"error: cannot write {_study_dir(tmp_path) / 'report.md'} (Permission denied); make "
        "the folder writable (or pass --results with one you can write to), then rerun the "
        "same command."
    )


def test_a_lost_record_of_a_finished_run_is_rebuilt_from_its_checkpoint(tmp_path: Path) -> None:
    """No retraining: the final checkpoint is evaluated once and the record equals the first."""
    from bench.config import resolve
    from bench.training import train_run

    cfg = resolve({"preset": "digits-1-32", "train.epochs": 2})
    first = train_run(cfg, tmp_path, quiet=True)
    (tmp_path / "record.json").unlink()
    again = train_run(cfg, tmp_path, quiet=True)
    assert again["status"] == "complete" and again["resumed_from_epoch"] == 2
    assert again["metrics"] == first["metrics"]
    assert again["correct"] == first["correct"]


# ----------------------------------------------------------------------------------- SIGTERM


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c", "kill-9"])
def test_a_stopped_command_leaves_no_worker_and_no_running_trial(tmp_path: Path, how: str) -> None:
    """SIGTERM to the command (a scheduler), Ctrl-C (SIGINT to the whole process group) or
    kill -9 of the command: its workers stop, their trials are queued again, one line is
    printed, no traceback, no process is left behind."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    args = ["attention=ssa,vsa", "seeds=1", "preset=digits-1-32", "epochs=200"]
    cmd = [sys.executable, "-m", "bench.ablate", *args, "--workers", "2"]
    proc = subprocess.Popen(
        [*cmd, "--results", str(tmp_path), "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    deadline = time.monotonic() + 240
    while len(list(tmp_path.glob("*/runs/*/checkpoint.pt"))) < 2:  # both workers mid-run
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.5)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.kill()
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    if how != "kill-9":
        assert proc.returncode == 130, err
        assert [line for line in err.splitlines() if line.startswith("interrupted")] == [
            "interrupted: 0 of 2 runs complete. Rerun the same command to finish the rest."
        ]
    deadline = time.monotonic() + 60  # after kill -9 the workers notice on their own
    while [pid for pid in workers if _alive(pid)]:
        assert time.monotonic() < deadline, "a worker outlived its command"
        time.sleep(0.5)
    study = _journal_study(_study_dir(tmp_path))
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert TrialState.RUNNING not in states
    assert states.count(TrialState.WAITING) == 2  # both cells queued again
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 2 and all("interrupted" in t.user_attrs["error"] for t in failed)


def test_stored_records_count_as_missing_when_unreadable(tmp_path: Path) -> None:
    (tmp_path / RECORD).write_text(json.dumps([1, 2]))
    assert load_record(tmp_path) is None
    with pytest.raises(DiskError):
        raise disk_error(tmp_path, OSError(errno.EROFS, "Read-only file system"))
