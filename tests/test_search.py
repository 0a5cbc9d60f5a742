"""bench.search and search_spaces: valid sampled configs, constraints, a global budget across
worker processes (journal and PostgreSQL), a killed worker's trial retried on rerun, Pareto output.

Trials that train use the smallest digits settings (1-3 epochs, depth 1, T 1); the budget tests
use a cheap fake objective that logs each execution to a file.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from bench import search
from bench.config import resolve
from components.model import ModelConfig, Spikformer, count_params
from search_spaces.spaces import LEAKY_NEURONS, SPACES, get_space, heads_param, suggest

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Fixed settings that make a trained trial take about a second.
TINY = ["epochs=2", "depth=1", "T=1", "mlp_ratio=1", "neuron=if", "stem=sps", "residual=sew"]


def ctx_for(tmp_path: Path, argv: list[str]) -> dict:
    ctx = search.plan(search.build_parser().parse_args(["--results", str(tmp_path), *argv]))
    ctx.pop("baseline")
    return ctx


def fake_objective(trial: optuna.Trial, ctx: dict) -> float:
    """Log the execution, return a value; module level so spawned workers can import it."""
    overrides = suggest(trial, search._space(ctx))
    with open(Path(ctx["study_dir"]) / "exec.log", "a") as f:
        f.write(f"{trial.number}\n")
    time.sleep(0.05)
    return overrides["dim"] / 100


def executed(ctx: dict) -> list[str]:
    return (Path(ctx["study_dir"]) / "exec.log").read_text().split()


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if "skipped" not in t.user_attrs]


# ---------------------------------------------------------------------------------------------
# The space


@pytest.mark.parametrize("name", list(SPACES))
def test_sampled_configs_are_valid_and_conditional(name: str) -> None:
    space = get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_neurons = set()
    for _ in range(80):
        trial = study.ask()
        ov = suggest(trial, space)
        study.tell(trial, 0.0)
        assert ov["dim"] % ov["heads"] == 0
        heads_names = [p for p in trial.params if p.startswith("heads_dim")]
        assert heads_names == [heads_param(ov["dim"])]  # only the sampled dim's heads param
        assert ("tau" in trial.params) == (ov["neuron"] in LEAKY_NEURONS)
        assert space.depth[0] <= ov["depth"] <= space.depth[1]
        seen_neurons.add(ov["neuron"])
        if space.dataset == "imagenet":  # no loader: check the model config alone
            ModelConfig(img_size=224, num_classes=1000, **ov)
        else:
            cfg = resolve({"dataset": space.dataset, **ov})
            model = cfg.model
            assert (model.dim, model.heads, model.T) == (ov["dim"], ov["heads"], ov["T"])
    assert seen_neurons & set(LEAKY_NEURONS) and seen_neurons - set(LEAKY_NEURONS)


def test_pinning_a_searched_key_narrows_the_space(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, ["heads=8", "neuron=if"])
    space = search._space(ctx)
    assert all(d % 8 == 0 for d in space.dims) and space.heads == (8,)
    assert "neuron" not in ctx["searched"] and "tau" not in ctx["searched"]


# ---------------------------------------------------------------------------------------------
# Constraints


def fake_train_run(cfg, out_dir, *, quiet=False, on_epoch=None):
    params = count_params(Spikformer(cfg.model))
    return {"run_id": cfg.run_id, "status": "complete", "curves": [{"epoch": 1}],
            "metrics": {"test_acc": 0.5, "params": params, "energy_paper_j": params * 1e-9}}


def test_constrained_trials_are_marked_infeasible(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("bench.train.train_run", fake_train_run)
    budget = 30_000
    ctx = ctx_for(tmp_path, ["--max-params", str(budget), "--max-energy", "0.00002", *TINY])
    study = optuna.create_study(
        directions=["maximize"], sampler=optuna.samplers.RandomSampler(seed=0)
    )
    for _ in range(25):
        trial = study.ask()
        try:
            study.tell(trial, search.train_objective(trial, ctx))
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
    states = {"over": 0, "energy": 0, "ok": 0}
    for t in study.trials:
        ov = t.user_attrs["overrides"]
        params = count_params(Spikformer(resolve({**ctx["fixed"], **ov}).model))
        assert t.constraints["params"] == params - budget
        assert t.user_attrs["constraint"][0] == params - budget
        if params > budget:  # rejected before training, never trained
            assert t.state == TrialState.PRUNED and "energy_mj" not in t.constraints
            assert "infeasible" in t.user_attrs
            states["over"] += 1
        else:
            assert t.state == TrialState.COMPLETE
            assert t.constraints["energy_mj"] == pytest.approx(params * 1e-6 - 0.00002)
            states["energy" if t.constraints["energy_mj"] > 0 else "ok"] += 1
    assert states["over"] and states["ok"] + states["energy"]
    best = search.winners(study)
    assert all(v <= 0 for t in best for v in t.constraints.values())


# ---------------------------------------------------------------------------------------------
# Workers and storages


def test_two_workers_on_one_journal_run_exactly_the_budget(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, ["--trials", "7", "--sampler", "random"])
    Path(ctx["study_dir"]).mkdir(parents=True)
    codes = search.start_workers(2, search.search_worker, (ctx, fake_objective))
    assert codes == [0, 0]
    study = search.open_search(ctx)
    ran = counted(study)
    assert len(ran) == 7 and all(t.state == TrialState.COMPLETE for t in ran)
    assert sorted(executed(ctx), key=int) == [str(t.number) for t in ran]
    # A rerun with the same budget runs nothing.
    assert search.search_worker(ctx, fake_objective) == 0


@pytest.fixture(scope="module")
def pg_url() -> str:
    from pg import postgres_server

    with postgres_server() as url:
        yield url


def test_postgres_serves_two_search_workers(pg_url: str, tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, ["--trials", "6", "--storage", pg_url])
    Path(ctx["study_dir"]).mkdir(parents=True)
    search.open_search(ctx)  # as the CLI does: create the schema once, before the workers race
    codes = search.start_workers(2, search.search_worker, (ctx, fake_objective))
    assert codes == [0, 0]
    ran = counted(search.open_search(ctx))
    assert len(ran) == 6 and all(t.state == TrialState.COMPLETE for t in ran)
    assert len(executed(ctx)) == 6


def test_killed_worker_trial_is_retried_by_a_rerun(tmp_path: Path) -> None:
    argv = ["--trials", "2", "--workers", "1", "--confirm-seeds", "0", "--sampler", "random",
            *TINY[1:], "epochs=3"]
    ctx = ctx_for(tmp_path, argv)
    Path(ctx["study_dir"]).mkdir(parents=True)
    worker = search.multiprocessing.get_context("spawn").Process(
        target=search.search_worker, args=(ctx,)
    )
    worker.start()
    deadline = time.monotonic() + 60
    while not list(Path(ctx["study_dir"]).glob("runs/*/checkpoint.pt")):  # mid-trial: epoch 1
        assert worker.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    study = search.open_search(ctx)
    killed = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert len(killed) == 1
    assert search.main(["--results", str(tmp_path), *argv]) == 0
    study = search.open_search(ctx)
    lost = study.trials[killed[0].number]
    assert lost.state == TrialState.FAIL and "died" in lost.user_attrs["error"]
    retry = [t for t in study.trials if t.system_attrs.get("bench:retry_of") == lost.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == lost.params
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 2
    trials = pd.read_csv(Path(ctx["study_dir"]) / "trials.csv")
    assert sorted(trials["state"]) == ["complete", "complete", "fail"]
    best = json.loads((Path(ctx["study_dir"]) / "best.json").read_text())
    assert best["best"]["values"]["test_acc"] == max(t.value for t in done)


def test_multi_objective_search_writes_a_non_dominated_pareto_set(tmp_path: Path) -> None:
    argv = ["--trials", "6", "--workers", "1", "--objectives", "accuracy,params",
            "--confirm-seeds", "0", *TINY[:2], "attention=ssa"]
    assert search.main(["--results", str(tmp_path), *argv]) == 0
    folder = tmp_path / "search-digits-tpe-accuracy-params"
    pareto = json.loads((folder / "pareto.json").read_text())
    points = [(e["values"]["test_acc"], e["values"]["params"]) for e in pareto["pareto"]]
    assert points

    def dominates(a, b) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    assert not any(dominates(a, b) for a in points for b in points)
    trials = pd.read_csv(folder / "trials.csv")
    done = trials[trials["state"] == "complete"]
    assert len(trials) == 6
    for _, r in done.iterrows():  # every finished trial is on the front or dominated by it
        p = (r["test_acc"], r["params"])
        assert p in points or any(dominates(q, p) for q in points)
    assert (folder / "plots" / "search_pareto.png").is_file()
    assert (folder / "report.md").is_file()


def test_single_objective_confirms_the_best_against_the_paper_config(tmp_path: Path) -> None:
    argv = ["--trials", "2", "--workers", "1", "--confirm-seeds", "2", "--sampler", "random",
            "--seed", "3", *TINY, "epochs=1", "heads=4"]  # paper config: 2 heads
    argv.remove("epochs=2")
    assert search.main(["--results", str(tmp_path), *argv]) == 0
    folder = tmp_path / "search-digits-random-accuracy-seed3"
    best = json.loads((folder / "best.json").read_text())["best"]
    assert best["ablate_command"].startswith("python -m bench.ablate ")
    confirm = tmp_path / "search-digits-random-accuracy-seed3-confirm"
    meta = json.loads((confirm / "study.json").read_text())
    assert meta["baseline"] == "default config" and meta["seeds"] == [1, 2]
    assert f"search trial {best['trial']}" in meta["variants"]
    stats = pd.read_csv(confirm / "stats.csv")
    assert set(stats["variant"]) == {f"search trial {best['trial']}"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--objectives", "accuracy,speed"], "not a list of distinct objectives"),
        (["--objectives", "accuracy,energy", "--pruner", "median"], "cannot prune"),
        (["--space", "mnist"], "Unknown search space 'mnist'"),
        (["--sampler", "cmaes"], "choose one of tpe, random"),
        (["attention=ssa,vsa"], "use python -m bench.ablate for sweeps"),
        (["dataset=cifar11"], "Unknown dataset"),
    ],
)
def test_user_errors_are_one_sentence_before_any_work(
    tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    assert search.main(["--results", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path, capsys) -> None:
    assert search.main(["--results", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "200 trials" in out and '"n_startup_trials": 10' in out
    assert not any(tmp_path.iterdir())
