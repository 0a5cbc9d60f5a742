"""One search trial: sample a configuration, train it, return the objective values.

Selection reads the validation split only: the objective is the final validation accuracy and
the pruner sees validation accuracy per epoch. A configuration already trained in the study is
answered from its trial (`AlreadyTrained`), so `--trials N` means N distinct configurations.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from bench.config import ConfigError, resolve
from bench.engine import (
    AlreadyTrained,
    budget_progress,
    load_study,
    make_pruner,
    make_sampler,
    open_storage,
    run_sampled,
    start_workers,
    warnings_above_bars,
    worker_setup,
)
from bench.engine.recovery import MACHINE
from bench.plugins import load_plugins
from bench.records import publish_run, records_location
from bench.training import StopRun, train_run
from components.model import Spikformer, count_params
from search_spaces.spaces import SearchSpace, get_space, suggest

__all__ = [
    "OBJECTIVES",
    "SearchPlan",
    "open_search",
    "run_search",
    "search_worker",
    "train_objective",
]

# Objective name -> (record metric, direction); energy:<model> takes any ladder entry.
ENERGY_MODELS = ("paper", "paper_once", "strict", "value_weighted", "memory", "fp16", "int8")
OBJECTIVES: dict[str, tuple[str, str]] = {
    "accuracy": ("val_acc", "maximize"),
    "energy": ("energy_paper_mj", "minimize"),
    "params": ("params", "minimize"),
    **{f"energy:{m}": (f"energy_{m}_mj", "minimize") for m in ENERGY_MODELS},
}


class TrialFailed(RuntimeError):
    """A trial whose run failed (NaN loss, out of memory, bad combination); the search goes on."""


@dataclass
class SearchPlan:
    """Everything a search worker needs (it crosses process boundaries: plain data only)."""

    study: str
    study_dir: str
    storage: str | None
    space: str
    pinned: dict[str, Any]
    fixed: dict[str, Any]
    objectives: list[str]
    sampler: str
    seed: int
    pruner: str
    trials: int
    epochs: int
    workers: int
    threads: int
    max_params: int | None = None
    max_energy_mj: float | None = None
    dataset: str = "digits"
    sampler_settings: dict[str, Any] = field(default_factory=dict)
    pruner_settings: dict[str, Any] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)  # imported by every worker first
    artifacts: str | None = None  # where records are shared (bench/records.py); None: here only

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return [OBJECTIVES[o][0] for o in self.objectives]

    def space_obj(self) -> SearchSpace:
        return get_space(self.space).pin(self.pinned)


def worker_seed(seed: int, parallel: bool) -> int:
    """The sampler seed of this process: the study seed itself for a lone worker (reproducible),
    else derived from it and this worker's identity, unique across processes and machines, so
    two workers never draw the same start-up configurations."""
    if not parallel:
        return seed
    blob = f"{seed}|{MACHINE}|{os.getpid()}".encode()
    return int(hashlib.sha1(blob).hexdigest()[:8], 16)


def open_search(plan: SearchPlan, parallel: bool = False) -> optuna.Study:
    """This process's handle on the study, with its own sampler and the pruner."""
    seed = worker_seed(plan.seed, parallel)
    sampler, _ = make_sampler(plan.sampler, seed, len(plan.objectives))
    pruner, _ = make_pruner(plan.pruner, plan.epochs)
    storage = open_storage(plan.storage, Path(plan.study_dir))
    study = load_study(
        plan.study,
        storage,
        directions=plan.directions,
        sampler=sampler,
        pruner=pruner,
        metric_names=plan.metric_names,
    )
    return study


def _already_trained(trial: optuna.Trial, run_id: str) -> None:
    """Raise AlreadyTrained when another distinct trial of the study holds this run."""
    for t in trial.study.get_trials(deepcopy=False):
        if t.number == trial.number or t.user_attrs.get("run_id") != run_id:
            continue
        if "duplicate_of" in t.user_attrs or "skipped" in t.user_attrs:
            continue
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            raise AlreadyTrained(t.number, t.state, t.values)
        if t.state == TrialState.RUNNING:  # trained right now by another worker
            raise AlreadyTrained(t.number, TrialState.FAIL, None)


def _check_params(trial: optuna.Trial, plan: SearchPlan, cfg: Any) -> None:
    """A parameter budget is known before training: an infeasible model is never trained."""
    if not plan.max_params:
        return
    params = count_params(Spikformer(cfg.model))
    excess = float(params - plan.max_params)
    trial.set_constraint("params", excess)
    if excess > 0:
        trial.set_user_attr("params", params)
        trial.set_user_attr("infeasible", f"{params} parameters > the budget of {plan.max_params}")
        raise optuna.TrialPruned()  # c-TPE learns from its constraint value


def train_objective(trial: optuna.Trial, plan: SearchPlan) -> list[float]:
    """Sample, train, return the objective values. A pruned run raises TrialPruned; a failed
    run or invalid config raises TrialFailed (the engine fails the trial and goes on)."""
    overrides = suggest(trial, plan.space_obj())
    trial.set_user_attr("overrides", overrides)
    try:
        cfg = resolve({**plan.fixed, **overrides})
    except ConfigError as err:  # impossible by construction; if it happens, only this trial
        raise TrialFailed(f"invalid combination {overrides}: {err}") from None
    trial.set_user_attr("run_id", cfg.run_id)
    _already_trained(trial, cfg.run_id)
    _check_params(trial, plan, cfg)
    prune = len(plan.objectives) == 1 and plan.pruner != "none"

    def on_epoch(epoch: int, row: dict[str, Any]) -> None:
        trial.set_user_attr("epochs_run", epoch)
        if prune:
            trial.report(row["val_acc"], epoch)
            if trial.should_prune():
                raise StopRun(f"pruned after epoch {epoch} by the {plan.pruner} pruner")

    started = time.perf_counter()
    out = Path(plan.study_dir) / "runs" / cfg.run_id
    record = train_run(
        cfg, out, quiet=True, on_epoch=on_epoch, tags={"study": plan.study, "trial": trial.number}
    )
    location = records_location(
        plan.storage is not None, plan.artifacts, out.parent.parent, trial.study
    )
    publish_run(trial.study, out.parent.parent, location, cfg.run_id)  # every machine sees it
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
    trial.set_user_attr("epochs_run", len(record.get("curves") or []))
    if record["status"] == "pruned":
        raise optuna.TrialPruned(record.get("error"))
    if record["status"] != "complete":
        raise TrialFailed(str(record.get("error") or f"run ended as {record['status']}"))
    metrics = dict(record["metrics"])
    for m in ENERGY_MODELS:  # the ladder in mJ per image, as the objectives name it
        metrics[f"energy_{m}_mj"] = metrics.get(f"energy_{m}_j", float("nan")) * 1e3
    for key in ("val_acc", "energy_paper_mj", "params", "sops_paper"):
        if key in metrics:
            trial.set_user_attr(key, metrics[key])
    if plan.max_energy_mj:  # known only after training (firing rates)
        trial.set_constraint("energy_mj", float(metrics["energy_paper_mj"] - plan.max_energy_mj))
    return [float(metrics[OBJECTIVES[o][0]]) for o in plan.objectives]


def search_worker(plan: SearchPlan) -> int:
    """Entry point of one worker process: trials until the global budget is used up."""
    worker_setup(plan.threads)
    load_plugins(plan.plugins)
    study = open_search(plan, parallel=plan.workers > 1 or plan.storage is not None)
    return run_sampled(
        study, lambda trial: train_objective(trial, plan), n_trials=plan.trials, wait=True
    )


def run_search(plan: SearchPlan) -> optuna.Study:
    """Run the search here (one worker) or in `plan.workers` processes; returns the study."""
    # several machines (a database) or several workers: each draws its own sampler seed
    study = open_search(plan, parallel=plan.storage is not None)
    progress = budget_progress(study, plan.trials)
    try:
        with warnings_above_bars():
            if plan.workers == 1:
                run_sampled(
                    study,
                    lambda trial: train_objective(trial, plan),
                    n_trials=plan.trials,
                    progress=progress,
                    wait=True,
                )
            else:
                codes = start_workers(plan.workers, search_worker, (plan,), progress=progress)
                if any(codes):
                    print(f"warning: worker exit codes {codes}")
    finally:
        progress.close()
    return study
