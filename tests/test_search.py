"""bench.search and search_spaces: valid sampled configs, constraints, a global budget across
worker processes (journal and PostgreSQL), a killed worker's trial retried on rerun, Pareto output.

Trials that train use the smallest digits settings (1-3 epochs, depth 1, T 1); the budget tests
use a cheap fake objective that logs each execution to a file.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from bench import objective, search
from bench.config import resolve
from bench.confirm import BASELINE_LABEL, PAPER_PARTS_LABEL
from bench.engine import AlreadyTrained, run_sampled, start_workers, worker_setup
from bench.objective import SearchPlan, open_search, search_worker, train_objective
from bench.search_outputs import winners
from components.model import ModelConfig, Spikformer, count_params
from components.presets import FAMILIES, get_preset
from search_spaces.spaces import SPACES, get_space, heads_param, leaky_neurons, suggest

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Fixed settings that make a trained trial take about a second.
TINY = ["epochs=2", "depth=1", "T=1", "mlp_ratio=1", "neuron=if", "stem=sps", "residual=sew"]


def plan_for(tmp_path: Path, argv: list[str]) -> SearchPlan:
    return search.make_plan(search.build_parser().parse_args(["--results", str(tmp_path), *argv]))


def fake_objective(trial: optuna.Trial, plan: SearchPlan) -> float:
    """Log the execution, return a value; module level so spawned workers can import it."""
    overrides = suggest(trial, plan.space_obj())
    with open(Path(plan.study_dir) / "exec.log", "a") as f:
        f.write(f"{trial.number}\n")
    time.sleep(0.05)
    return overrides["dim"] / 100


def fake_search_worker(plan: SearchPlan) -> int:
    """`search_worker` with the fake objective: the search's own study handle (a sampler seed
    per worker, its pruner) and the engine's global budget."""
    worker_setup(plan.threads)
    study = open_search(plan, parallel=plan.workers > 1)
    return run_sampled(study, lambda trial: fake_objective(trial, plan), n_trials=plan.trials)


def executed(plan: SearchPlan) -> list[str]:
    return (Path(plan.study_dir) / "exec.log").read_text().split()


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if "skipped" not in t.user_attrs]


# ---------------------------------------------------------------------------------------------
# The space


def _has(name: str, param: str) -> bool:
    return param in [p.name for p in SPACES[name].params]


# Spikformer-shaped spaces (search_spaces.spaces.architecture) and architecture-family spaces
# (search_spaces.families: a family preset and each family's own widths).
PART_SPACES = [n for n in SPACES if _has(n, "neuron")]
FAMILY_SPACES = [n for n in SPACES if _has(n, "preset")]


def test_every_space_is_checked_by_one_of_the_space_tests() -> None:
    assert set(PART_SPACES) | set(FAMILY_SPACES) == set(SPACES)


@pytest.mark.parametrize("name", PART_SPACES)
def test_sampled_configs_are_valid_and_conditional(name: str) -> None:
    space = get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_neurons = set()
    leaky = set(leaky_neurons())
    for _ in range(80):
        trial = study.ask()
        ov = suggest(trial, space)
        study.tell(trial, 0.0)
        assert ov["dim"] % ov["heads"] == 0
        heads_names = [p for p in trial.params if p.startswith("heads_dim")]
        assert heads_names == [heads_param(ov["dim"])]  # only the sampled dim's heads param
        assert ("tau" in trial.params) == (ov["neuron"] in leaky)
        lo, hi = space.param("depth").values
        assert lo <= ov["depth"] <= hi
        seen_neurons.add(ov["neuron"])
        if space.dataset == "imagenet":  # no loader: check the model config alone
            ModelConfig(img_size=224, num_classes=1000, **ov)
        else:
            cfg = resolve({"dataset": space.dataset, **ov})
            model = cfg.model
            assert (model.dim, model.heads, model.T) == (ov["dim"], ov["heads"], ov["T"])
    assert seen_neurons & leaky and seen_neurons - leaky


@pytest.mark.parametrize("name", FAMILY_SPACES)
def test_family_spaces_sample_each_familys_own_widths_and_build(name: str) -> None:
    space = get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    families = set()
    for _ in range(40):
        trial = study.ask()
        ov = suggest(trial, space)
        study.tell(trial, 0.0)
        family = get_preset(ov["preset"]).family
        widths = {p for p in trial.params if p.rsplit("_", 1)[0] in ("depth", "dim", "heads")}
        assert widths == {f"{k}_{family}" for k in ("depth", "dim", "heads")}  # its own only
        for key in ("depth", "dim", "heads"):
            assert ov[key] in FAMILIES[family].widths[key]
        cfg = resolve({"dataset": space.dataset, **ov})
        got = (cfg.preset, cfg.model.depth, cfg.model.dim, cfg.model.heads, cfg.model.T)
        assert got == (ov["preset"], ov["depth"], ov["dim"], ov["heads"], ov["T"])
        assert count_params(Spikformer(cfg.model)) > 0  # every sampled configuration builds
        families.add(family)
    assert families == {get_preset(p).family for p in space.param("preset").values}


def test_pinning_a_searched_key_narrows_the_space(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["heads=8", "neuron=if"])
    space = plan.space_obj()
    assert all(d % 8 == 0 for d in space.param("dim").values)
    assert space.param("heads").values == (8,)
    assert "neuron" not in space.searched() and "tau" not in space.searched()


# ---------------------------------------------------------------------------------------------
# Constraints


def fake_train_run(cfg, out_dir, *, quiet=False, on_epoch=None, tags=None):
    params = count_params(Spikformer(cfg.model))
    return {
        "run_id": cfg.run_id,
        "status": "complete",
        "curves": [{"epoch": 1}],
        "metrics": {
            "val_acc": 0.5,
            "test_acc": 0.5,
            "params": params,
            "energy_paper_j": params * 1e-9,
        },
    }


def test_constrained_trials_are_marked_infeasible(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(objective, "train_run", fake_train_run)
    budget = 30_000
    plan = plan_for(tmp_path, ["--max-params", str(budget), "--max-energy", "0.00002", *TINY])
    study = optuna.create_study(
        directions=["maximize"], sampler=optuna.samplers.RandomSampler(seed=0)
    )
    repeats = {}
    for _ in range(25):
        trial = study.ask()
        try:
            study.tell(trial, train_objective(trial, plan))
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
        except AlreadyTrained as same:  # the random sampler drew a configuration again
            repeats[trial.number] = same.of_number
            study.tell(trial, same.values, state=same.state)
    states = {"over": 0, "energy": 0, "ok": 0}
    for t in study.trials:
        if t.number in repeats:  # answered from the earlier trial, checked there
            assert t.user_attrs["run_id"] == study.trials[repeats[t.number]].user_attrs["run_id"]
            continue
        ov = t.user_attrs["overrides"]
        params = count_params(Spikformer(resolve({**plan.fixed, **ov}).model))
        assert t.constraints["params"] == params - budget
        if params > budget:  # rejected before training, never trained
            assert t.state == TrialState.PRUNED and "energy_mj" not in t.constraints
            assert "infeasible" in t.user_attrs
            states["over"] += 1
        else:
            assert t.state == TrialState.COMPLETE
            assert t.constraints["energy_mj"] == pytest.approx(params * 1e-6 - 0.00002)
            states["energy" if t.constraints["energy_mj"] > 0 else "ok"] += 1
    assert states["over"] and states["ok"] + states["energy"]
    best = winners(study)
    assert all(v <= 0 for t in best for v in t.constraints.values())


def _trial(values: list[float] | None, x: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        state=TrialState.COMPLETE if values else TrialState.FAIL,
        values=values,
        params={"x": x},
        distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
    )


def test_the_winner_is_the_best_trial_even_after_a_failed_one() -> None:
    """The winners come from an in-memory copy that Optuna renumbers 0..n-1: a failed trial
    before the best must not shift the pick."""
    one = optuna.create_study(direction="maximize")
    one.add_trials([_trial(None, 0.1), _trial([0.5], 0.2), _trial([0.9], 0.3)])
    assert [t.number for t in winners(one)] == [2]
    two = optuna.create_study(directions=["maximize", "minimize"])
    front = [_trial([0.5, 10.0], 0.2), _trial([0.9, 20.0], 0.3), _trial([0.4, 30.0], 0.4)]
    two.add_trials([_trial(None, 0.1), *front])
    assert [t.number for t in winners(two)] == [2, 1]  # best first objective first


# ---------------------------------------------------------------------------------------------
# Workers and storages


def test_two_workers_on_one_journal_run_exactly_the_budget(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["--trials", "7", "--sampler", "random", "--workers", "2"])
    Path(plan.study_dir).mkdir(parents=True)
    codes = start_workers(2, fake_search_worker, (plan,))
    assert codes == [0, 0]
    study = open_search(plan)
    ran = counted(study)
    assert len(ran) == 7 and all(t.state == TrialState.COMPLETE for t in ran)
    assert sorted(executed(plan), key=int) == [str(t.number) for t in ran]
    # A rerun with the same budget runs nothing.
    assert fake_search_worker(plan) == 0


@pytest.fixture(scope="module")
def pg_url() -> str:
    from pg import postgres_server

    with postgres_server() as url:
        yield url


def test_postgres_serves_two_search_workers(pg_url: str, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["--trials", "6", "--storage", pg_url, "--workers", "2"])
    Path(plan.study_dir).mkdir(parents=True)
    open_search(plan)  # as the CLI does: create the schema once, before the workers race
    codes = start_workers(2, fake_search_worker, (plan,))
    assert codes == [0, 0]
    ran = counted(open_search(plan))
    assert len(ran) == 6 and all(t.state == TrialState.COMPLETE for t in ran)
    assert len(executed(plan)) == 6


def test_killed_worker_trial_is_retried_by_a_rerun(tmp_path: Path) -> None:
    argv = [
        "--trials",
        "2",
        "--workers",
        "1",
        "--confirm-seeds",
        "0",
        "--sampler",
        "random",
        *TINY[1:],
        "epochs=3",
    ]
    plan = plan_for(tmp_path, argv)
    folder = Path(plan.study_dir)
    folder.mkdir(parents=True)
    worker = multiprocessing.get_context("spawn").Process(target=search_worker, args=(plan,))
    worker.start()
    deadline = time.monotonic() + 60
    while not list(folder.glob("runs/*/checkpoint.pt")):  # mid-trial: epoch 1
        assert worker.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    study = open_search(plan)
    killed = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert len(killed) == 1
    assert search.main(["--results", str(tmp_path), *argv]) == 0
    study = open_search(plan)
    lost = study.trials[killed[0].number]
    assert lost.state == TrialState.FAIL and "died" in lost.user_attrs["error"]
    retry = [t for t in study.trials if t.system_attrs.get("bench:retry_of") == lost.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == lost.params
    # The rerun's sampler starts from the same seed and may propose the first configuration
    # again: that repeat is answered from its trial (duplicate_of) and is not a trained config.
    done = [
        t
        for t in study.trials
        if t.state == TrialState.COMPLETE and "duplicate_of" not in t.user_attrs
    ]
    assert len(done) == 2 and len({t.user_attrs["run_id"] for t in done}) == 2
    trials = pd.read_csv(folder / "trials.csv")
    assert sorted(trials["state"]) == ["complete", "complete", "fail"]
    best = json.loads((folder / "best.json").read_text())
    assert best["best"]["trial"] == max(done, key=lambda t: t.value).number
    assert best["best"]["values"]["val_acc"] == max(t.value for t in done)


def test_multi_objective_search_writes_a_non_dominated_pareto_set(tmp_path: Path) -> None:
    argv = [
        "--trials",
        "6",
        "--workers",
        "1",
        "--objectives",
        "accuracy,params",
        "--confirm-seeds",
        "0",
        *TINY[:2],
        "attention=ssa",
    ]
    assert search.main(["--results", str(tmp_path), *argv]) == 0
    folder = tmp_path / "search-digits-tpe-accuracy-params"
    pareto = json.loads((folder / "pareto.json").read_text())
    points = [(e["values"]["val_acc"], e["values"]["params"]) for e in pareto["pareto"]]
    assert points

    def dominates(a, b) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    assert not any(dominates(a, b) for a in points for b in points)
    trials = pd.read_csv(folder / "trials.csv")
    done = trials[trials["state"] == "complete"]
    assert len(trials) == 6
    for _, r in done.iterrows():  # every finished trial is on the front or dominated by it
        p = (r["values_val_acc"], r["values_params"])
        assert p in points or any(dominates(q, p) for q in points)
    assert (folder / "plots" / "search_pareto.png").is_file()
    assert (folder / "report.md").is_file()


# A search with a confirmation, killed in the middle of the confirmation and rerun (issue 11: a
# rerun used to die with KeyError: 'runs'). The default config has 2 heads, so heads=4 makes
# every winner differ from it.
CONFIRMED = [
    "--trials",
    "2",
    "--workers",
    "1",
    "--confirm-seeds",
    "2",
    "--sampler",
    "random",
    "--seed",
    "3",
    *TINY[1:],
    "epochs=1",
    "heads=4",
    "dim=16",  # the confirmation trains 6 runs at the digits protocol's own budget
]
REPO = Path(__file__).resolve().parents[1]


def _kill_when_a_confirmation_run_is_done(proc: subprocess.Popen, confirm: Path) -> None:
    deadline = time.monotonic() + 600
    while not list(confirm.glob("runs/*/record.json")):
        assert proc.poll() is None, f"the search ended with {proc.returncode} before the kill"
        assert time.monotonic() < deadline, "no confirmation run finished in 10 minutes"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # its own session: the search and nothing else
    proc.wait()


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory) -> dict:
    """Run the search CLI, SIGKILL it once the first confirmation run is written, rerun it."""
    results = tmp_path_factory.mktemp("confirmed")
    folder = results / "search-digits-random-accuracy-seed3"
    confirm = results / "search-digits-random-accuracy-seed3-confirm"
    argv = ["--results", str(results), *CONFIRMED]
    with open(results / "first.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.search", *argv],
            cwd=REPO,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _kill_when_a_confirmation_run_is_done(proc, confirm)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    killed = len(list(confirm.glob("runs/*/record.json")))
    code = search.main(argv)
    return {"folder": folder, "confirm": confirm, "killed_with": killed, "rerun_code": code}


def test_a_rerun_after_a_killed_confirmation_resumes_and_finishes(confirmed: dict) -> None:
    assert 1 <= confirmed["killed_with"] < 6  # killed midway: some runs done, some not
    assert confirmed["rerun_code"] == 0
    confirm = confirmed["confirm"]
    meta = json.loads((confirm / "study.json").read_text())
    assert len(meta["runs"]) == 6
    study = optuna.load_study(
        study_name=confirm.name,
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(confirm / "study.journal"))
        ),
    )
    complete = [t.user_attrs["run_id"] for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == sorted(meta["runs"])  # each cell once, none lost to the kill
    assert all(
        json.loads((confirm / "runs" / r / "record.json").read_text())["status"] == "complete"
        for r in meta["runs"]
    )
    assert (confirm / "report.md").is_file()


def test_the_confirmation_trains_the_winner_and_both_baselines_at_one_budget(
    confirmed: dict,
) -> None:
    best = json.loads((confirmed["folder"] / "best.json").read_text())["best"]
    meta = json.loads((confirmed["confirm"] / "study.json").read_text())
    assert meta["baseline"] == BASELINE_LABEL and meta["seeds"] == [1, 2]
    winner = f"search trial {best['trial']}"
    assert winner in meta["variants"]
    # The default config, the paper's parts at the winner's size and the winner, each at the
    # dataset's own budget (the digits protocol), not at the search's 1-epoch trials.
    assert set(meta["variants"]) == {BASELINE_LABEL, PAPER_PARTS_LABEL, winner}
    protocol = resolve({"dataset": "digits"}).train
    epochs = protocol.epochs + protocol.cooldown_epochs
    assert meta["budget"]["epochs"] == epochs
    records = [json.loads(p.read_text()) for p in confirmed["confirm"].glob("runs/*/record.json")]
    assert len(records) == 6 and {r["metrics"]["epochs"] for r in records} == {epochs}
    stats = pd.read_csv(confirmed["confirm"] / "stats.csv")
    assert set(stats["variant"]) == {winner, PAPER_PARTS_LABEL}


def test_the_default_confirmation_has_enough_seeds_for_a_decisive_verdict(tmp_path: Path) -> None:
    from bench.confirm import confirm_plan

    args = search.build_parser().parse_args(["--results", str(tmp_path)])
    plan = search.make_plan(args)
    params = {"depth": 1, "dim": 64, "heads_dim64": 4, "mlp_ratio": 1.0, "T": 4, "neuron": "if"}
    trial = optuna.trial.create_trial(
        params=params,
        distributions={
            k: optuna.distributions.CategoricalDistribution([v]) for k, v in params.items()
        },
        value=0.99,
    )
    cplan = confirm_plan([trial], plan, None)
    # 3 models, 3 pairs: Holm's smallest exact Wilcoxon p is 3 * 2 / 2**n, below 0.05 from
    # n = 7 (3 * 2 / 2**6 = 0.094 could never be significant)
    assert len(cplan.variants) == 3 and len(cplan.seeds) == 7
    assert plan.fixed.get("seed", 0) not in cplan.seeds  # fresh seeds, not the search's
    assert len(confirm_plan([trial], plan, 2).seeds) == 2


def test_best_json_gives_a_ready_ablate_command(confirmed: dict) -> None:
    best = json.loads((confirmed["folder"] / "best.json").read_text())["best"]
    assert best["ablate_command"].startswith("python -m bench.ablate ")


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
    assert "200 distinct configurations" in out and "'n_startup_trials': 10" in out
    assert not any(tmp_path.iterdir())
