"""The experiment design a reviewer can trust (issues 10 and 11), end to end through the CLIs:
distinct search trials, selection that never reads the test split, pairing evidence in every
record, a rerun of a complete study that trains nothing, and +dirty only for source changes.

Every trained run is tiny (digits, depth 1, dim 16, T 1, one epoch: about a second on one core).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

from bench import ablate, objective, search
from bench.datasets import digits
from bench.engine import open_existing_study
from bench.training import environment
from search_spaces.spaces import SPACES, SearchSpace, architecture

optuna.logging.set_verbosity(optuna.logging.WARNING)

# One tiny model shape for every run in this file.
SMALL = ["depth=1", "T=1", "mlp_ratio=1", "neuron=if", "stem=sps", "residual=sew"]


def tiny_space(name: str, attentions: tuple[str, ...], dims: tuple[int, ...]) -> SearchSpace:
    """A space with len(attentions) x len(dims) configurations, one epoch each."""
    params = architecture(
        (1, 1),
        dims,
        (1,),
        (1.0,),
        (1,),
        neurons=("if",),
        attentions=attentions,
        stems=("sps",),
        residuals=("sew",),
    )
    return SearchSpace(name, "digits", params, fixed={"epochs": 1}, note="test space")


@pytest.fixture
def spaces(monkeypatch) -> None:
    """Register this file's spaces for one test only (other tests iterate over SPACES)."""
    three = tiny_space("three-configs", ("ssa", "vsa", "sdsa"), (16,))
    six = tiny_space("six-configs", ("ssa", "vsa", "sdsa"), (16, 32))
    for space in (three, six):
        monkeypatch.setitem(SPACES, space.name, space)


class CountingTrainRun:
    """bench.objective.train_run, counting the runs that really train."""

    def __init__(self) -> None:
        self.real, self.run_ids = objective.train_run, []

    def __call__(self, cfg, out_dir, **kwargs):
        self.run_ids.append(cfg.run_id)
        return self.real(cfg, out_dir, **kwargs)


def search_study(folder: Path) -> optuna.Study:
    return open_existing_study("journal", folder, folder.name)


# ---------------------------------------------------------------------------------------------
# Distinct trials (issue 10, item 3)


def test_a_sampler_that_repeats_configurations_trains_exactly_n_distinct_ones(
    tmp_path: Path, spaces: None, monkeypatch, caplog
) -> None:
    counter = CountingTrainRun()
    monkeypatch.setattr(objective, "train_run", counter)
    argv = ["--space", "three-configs", "--sampler", "random", "--seed", "0", "--workers", "1"]
    argv += ["--confirm-seeds", "0", "--results", str(tmp_path), *SMALL]
    assert search.main(["--trials", "3", *argv]) == 0
    folder = tmp_path / "search-three-configs-random-accuracy"
    study = search_study(folder)
    repeats = [t for t in study.trials if "duplicate_of" in t.user_attrs]
    assert repeats, "seed 0 draws a configuration twice among its first trials"
    for t in repeats:  # answered with the earlier trial's result, not trained again
        first = study.trials[t.user_attrs["duplicate_of"]]
        assert t.user_attrs["run_id"] == first.user_attrs["run_id"] and t.values == first.values
    assert len(counter.run_ids) == len(set(counter.run_ids)) == 3
    assert len(list((folder / "runs").iterdir())) == 3
    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) == 3 and trials["user_attrs_run_id"].is_unique
    assert set(trials["user_attrs_run_id"]) == set(counter.run_ids)
    best = json.loads((folder / "best.json").read_text())
    assert best["summary"]["distinct_configurations"] == 3

    # A budget larger than the space: the sampler finds nothing new, the worker stops.
    assert search.main(["--trials", "4", *argv]) == 0
    assert len(counter.run_ids) == 3
    assert "space looks exhausted" in caplog.text
    assert len(pd.read_csv(folder / "trials.csv")) == 3


# ---------------------------------------------------------------------------------------------
# Selection never reads the test split (issue 10, item 1)


def scrambled_test_labels(size: int = 8):
    """digits_tensors with the test split's labels permuted (seeded): a model's test accuracy
    changes, its training and validation data do not."""
    parts, index, stats = real_digits_tensors(size)
    test = parts["test"]
    order = torch.randperm(len(test.y), generator=torch.Generator().manual_seed(0))
    parts["test"] = digits.TensorSamples(test.x, test.y[order])
    return parts, index, stats


real_digits_tensors = digits.digits_tensors


def run_search(results: Path) -> optuna.Study:
    argv = ["--space", "six-configs", "--trials", "3", "--seed", "1", "--workers", "1"]
    argv += ["--confirm-seeds", "0", "--results", str(results), *SMALL]
    assert search.main(argv) == 0
    return search_study(results / "search-six-configs-tpe-accuracy-seed1")


def test_scrambled_test_labels_do_not_change_what_the_search_selects(
    tmp_path: Path, spaces: None, monkeypatch
) -> None:
    clean = run_search(tmp_path / "clean")
    monkeypatch.setattr(digits, "digits_tensors", scrambled_test_labels)
    scrambled = run_search(tmp_path / "scrambled")

    def seen(study: optuna.Study) -> list:
        return [(t.params, t.values, t.state) for t in study.trials]

    assert seen(clean) == seen(scrambled)  # same proposals, same validation values
    assert clean.best_trial.params == scrambled.best_trial.params
    for name in ("clean", "scrambled"):
        best = json.loads((tmp_path / name / clean.study_name / "best.json").read_text())
        assert best["best"]["params"] == clean.best_trial.params
    # The scramble did reach the runs: their test accuracies differ, their val accuracies not.
    for a, b in zip(clean.trials, scrambled.trials, strict=True):
        assert a.user_attrs.get("val_acc") == b.user_attrs.get("val_acc")
    test = {
        name: [
            json.loads(p.read_text())["metrics"]["test_acc"]
            for p in sorted((tmp_path / name / clean.study_name).glob("runs/*/record.json"))
        ]
        for name in ("clean", "scrambled")
    }
    assert test["clean"] != test["scrambled"]


# ---------------------------------------------------------------------------------------------
# Pairing evidence (issue 10, item 7)


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    """Two learning rates x two seeds through the ablation CLI: the same model, other lr."""
    results = tmp_path_factory.mktemp("paired")
    argv = ["lr=0.005,0.001", "seeds=2", "epochs=1", "dim=16", "heads=1", *SMALL]
    assert (
        ablate.main([*argv, "--study", "pairs", "--workers", "1", "--results", str(results)]) == 0
    )
    return results / "pairs"


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("runs/*/record.json"))]


def test_variants_of_one_seed_share_batch_order_inputs_and_init(paired: Path) -> None:
    recs = records(paired)
    assert len(recs) == 4 and {r["status"] for r in recs} == {"complete"}
    by_seed = {s: [r["pairing"] for r in recs if r["seed"] == s] for s in (0, 1)}
    for pairs in by_seed.values():
        assert len(pairs) == 2
        for key in ("batch_order", "inputs", "init"):  # same architecture: init too
            assert pairs[0][key] == pairs[1][key], key
    for key in ("batch_order", "inputs", "init"):  # the digests do depend on the seed
        assert by_seed[0][0][key] != by_seed[1][0][key], key
    report = (paired / "report.md").read_text()
    assert "Every variant of a seed shares the batch-order and input digests" in report


def test_records_carry_the_augment_flag_that_applied(paired: Path) -> None:
    for r in records(paired):
        assert r["data"]["augment"] is False  # bench/datasets/digits.py: never augmented
        assert r["pairing"]["augment"] is False


# ---------------------------------------------------------------------------------------------
# A fresh clone (issue 11, item 1)


@pytest.fixture(scope="module")
def rerun_of_a_copy(tmp_path_factory) -> dict:
    """A tiny ablation, copied elsewhere as a committed study would be, rerun from the copy."""
    base = tmp_path_factory.mktemp("fresh")
    argv = ["attention=ssa,vsa", "seeds=1", "epochs=1", "dim=16", "heads=1", *SMALL]
    argv += ["--study", "done", "--workers", "1"]
    assert ablate.main([*argv, "--results", str(base / "original")]) == 0
    shutil.copytree(base / "original", base / "copy")
    before = {p: p.read_bytes() for p in (base / "copy" / "done").rglob("*.json")}
    out = io.StringIO()  # capsys is function-scoped
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setattr("bench.runner.train_run", no_training)
        code = ablate.main([*argv, "--results", str(base / "copy")])
    return {"code": code, "out": out.getvalue(), "folder": base / "copy" / "done", "before": before}


def no_training(*args, **kwargs):
    raise AssertionError("a complete study trained a run again")


def test_rerunning_a_complete_study_says_so_names_the_fix_and_trains_nothing(
    rerun_of_a_copy: dict,
) -> None:
    assert rerun_of_a_copy["code"] == 0
    out = rerun_of_a_copy["out"]
    assert "Study 'done' is already complete (2 of 2 runs)" in out
    assert "pass --study NEW_NAME" in out  # how to start a new one
    assert "Queued" not in out and "2 of 2 runs complete." in out
    folder = rerun_of_a_copy["folder"]
    study = open_existing_study("journal", folder, "done")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    for path, data in rerun_of_a_copy["before"].items():
        if path.name == "record.json":  # the runs themselves are untouched
            assert path.read_bytes() == data


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_dirty_only_when_tracked_source_outside_results_changes(
    tmp_path: Path, monkeypatch
) -> None:
    repo = tmp_path / "clone"
    (repo / "bench").mkdir(parents=True)
    (repo / "results" / "published").mkdir(parents=True)
    (repo / "bench" / "model.py").write_text("x = 1\n")
    (repo / "results" / "published" / "study.json").write_text("{}\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    head = git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(environment, "_REPO", repo)
    assert environment.git_commit() == head
    # Results, committed or new, and untracked files never make a run dirty.
    (repo / "results" / "published" / "study.json").write_text('{"runs": {}}\n')
    (repo / "results" / "new-study").mkdir()
    (repo / "results" / "new-study" / "record.json").write_text("{}\n")
    (repo / "notes.txt").write_text("scratch\n")
    assert environment.git_commit() == head
    assert environment.versions()["git_commit"] == head
    # A change of tracked source does.
    (repo / "bench" / "model.py").write_text("x = 2\n")
    assert environment.git_commit() == head + "+dirty"
    monkeypatch.setattr(environment, "_REPO", tmp_path / "not-a-repo")
    (tmp_path / "not-a-repo").mkdir()
    assert environment.git_commit() == "unknown"
