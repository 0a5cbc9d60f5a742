"""`python -m bench.search`: an Optuna search over a named space, then a seeded confirmation.

    python -m bench.search --trials 200                         # digits on CPU, TPE, accuracy
    python -m bench.search --objectives accuracy,energy         # Pareto front (TPE, no pruning)
    python -m bench.search --space cifar --storage postgresql://user@host/db   # on each machine
    python -m bench.search --sampler random --seed 3 --study digits-random-3   # baseline search

Every trial draws one config from the space (search_spaces/spaces.py), resolves it with the
positional settings (dataset=..., epochs=...) and trains it into results/<study>/runs/<run_id>/.
--trials is a global budget shared by every worker on every machine; rerunning the command
resumes the study up to that budget and retries trials whose worker died. Afterwards the best
config (or up to 3 Pareto configs) is re-trained on --confirm-seeds fresh seeds against the
dataset's default config in the ablation study results/<study>-confirm/ (paired statistics, CIs).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import torch

from bench import ablate
from bench.config import SHORT_KEYS, ConfigError, canonical_key, parse_overrides, resolve
from bench.study import (
    load_study,
    open_storage,
    run_sampled,
    start_workers,
)
from search_spaces.spaces import (
    SPACES,
    SearchSpace,
    get_space,
    params_to_overrides,
    suggest,
)

DEFAULT_TRIALS = 200
BASELINE_LABEL = "default config"  # the dataset's preset (paper model, or our CPU model for digits)
DEFAULT_CONFIRM_SEEDS = 6  # the fewest pairs with which an exact Wilcoxon test can reach p < 0.05
MAX_CONFIRMED = 3  # Pareto configs re-trained with seeds (each costs confirm-seeds runs)

# Objective name -> (record metric, user attr / metric name, direction).
OBJECTIVES: dict[str, tuple[str, str]] = {
    "accuracy": ("test_acc", "maximize"),
    "energy": ("energy_paper_mj", "minimize"),
    "params": ("params", "minimize"),
}
SAMPLERS = ("tpe", "random", "nsga2", "gp")
PRUNERS = ("median", "hyperband", "none")
# Every sampler and pruner setting is pinned here (Optuna's defaults change between versions:
# TPE in 5.0 made multivariate depend on the number of objectives) and recorded in study.json.
TPE = {
    "n_startup_trials": 10,
    "n_ei_candidates": 24,
    "multivariate": True,
    "group": True,  # conditional params (heads_dim<D>, tau) get their own sub-space models
    "constant_liar": True,  # parallel workers: running trials count as bad, no duplicate picks
    "prior_weight": 1.0,
    "consider_magic_clip": True,
    "consider_endpoints": False,
    "gamma": "default_gamma",  # multi-objective: default_gamma_multiobjective
    "weights": "default_weights",  # optuna's own function, passed explicitly
}
NSGA2 = {"population_size": 20, "crossover_prob": 0.9, "swapping_prob": 0.5, "mutation_prob": None}
GP = {"n_startup_trials": 10, "deterministic_objective": False}
MEDIAN = {"n_startup_trials": 5, "n_warmup_steps": 2, "interval_steps": 1, "n_min_trials": 5}
HYPERBAND = {"min_resource": 1, "reduction_factor": 3, "bootstrap_count": 0}  # max: epochs


class TrialFailed(RuntimeError):
    """A trial whose run failed (NaN loss, out of memory, bad combination); the search goes on."""


# ----------------------------------------------------------------------------------------------
# Plan: sampler, pruner, objectives


def parse_objectives(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in OBJECTIVES]
    if bad or not names or len(set(names)) != len(names):
        raise ConfigError(
            f"--objectives {text!r} is not a list of distinct objectives: use accuracy, "
            "accuracy,energy or accuracy,params."
        )
    return names


def directions(objectives: list[str]) -> list[str]:
    return [OBJECTIVES[o][1] for o in objectives]


def make_sampler(
    name: str, seed: int, n_objectives: int
) -> tuple[optuna.samplers.BaseSampler, dict[str, Any]]:
    """The sampler with every setting pinned, and those settings (for study.json)."""
    with warnings.catch_warnings():
        # Passing TPE's deprecated-but-valid arguments is the only way to pin them in Optuna 5.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            from optuna.samplers._tpe.sampler import (
                default_gamma,
                default_gamma_multiobjective,
                default_weights,
            )

            gamma = default_gamma if n_objectives == 1 else default_gamma_multiobjective
            kw = {k: v for k, v in TPE.items() if k not in ("gamma", "weights")}
            sampler = optuna.samplers.TPESampler(
                **kw, gamma=gamma, weights=default_weights, seed=seed
            )
            return sampler, {**TPE, "gamma": gamma.__name__, "seed": seed}
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed), {"seed": seed}
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(**NSGA2, seed=seed), {**NSGA2, "seed": seed}
        if name == "gp":
            sampler = optuna.samplers.GPSampler(**GP, seed=seed, warn_independent_sampling=False)
            return sampler, {**GP, "seed": seed}
    raise ConfigError(f"--sampler {name}: choose one of {', '.join(SAMPLERS)}.")


def make_pruner(name: str, epochs: int) -> tuple[optuna.pruners.BasePruner, dict[str, Any]]:
    if name == "median":
        return optuna.pruners.MedianPruner(**MEDIAN), dict(MEDIAN)
    if name == "hyperband":
        settings = {**HYPERBAND, "max_resource": epochs}
        return optuna.pruners.HyperbandPruner(**settings), settings
    return optuna.pruners.NopPruner(), {}


# ----------------------------------------------------------------------------------------------
# One trial


def _space(ctx: dict[str, Any]) -> SearchSpace:
    return get_space(ctx["space"]).pin(ctx["pinned"])


def train_objective(trial: optuna.Trial, ctx: dict[str, Any]) -> list[float]:
    """Sample a config, train it, return the objective values. A pruned run raises TrialPruned;
    a failed run or invalid config raises TrialFailed (the engine fails the trial, goes on)."""
    from bench.train import RECORD, StopRun, atomic_save, train_run
    from components.model import Spikformer, count_params

    overrides = suggest(trial, _space(ctx))
    trial.set_user_attr("overrides", overrides)
    try:
        cfg = resolve({**ctx["fixed"], **overrides})
    except ConfigError as err:  # impossible by construction; if it happens, only this trial
        raise TrialFailed(f"invalid combination {overrides}: {err}") from None
    trial.set_user_attr("run_id", cfg.run_id)
    constraint: dict[str, float] = {}
    if ctx.get("max_params"):  # known before training: an infeasible model is never trained
        params = count_params(Spikformer(cfg.model))
        constraint["params"] = float(params - ctx["max_params"])
        trial.set_constraint("params", constraint["params"])
        trial.set_user_attr("constraint", list(constraint.values()))
        if constraint["params"] > 0:
            trial.set_user_attr("params", params)
            trial.set_user_attr(
                "infeasible", f"{params} parameters > the budget of {ctx['max_params']}"
            )
            raise optuna.TrialPruned()  # c-TPE learns from its constraint value

    prune = len(ctx["objectives"]) == 1 and ctx["pruner"] != "none"

    def on_epoch(epoch: int, row: dict[str, Any]) -> None:
        trial.set_user_attr("epochs_run", epoch)
        if prune:
            trial.report(row["test_acc"], epoch)
            if trial.should_prune():
                raise StopRun(f"pruned after epoch {epoch} by the {ctx['pruner']} pruner")

    out = Path(ctx["study_dir"]) / "runs" / cfg.run_id
    started = time.perf_counter()
    record = train_run(cfg, out, quiet=True, on_epoch=on_epoch)
    record.update(study=ctx["study"], trial=trial.number)
    atomic_save(record, out / RECORD, as_json=True)
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
    trial.set_user_attr("epochs_run", len(record.get("curves") or []))
    if record["status"] == "pruned":
        raise optuna.TrialPruned(record.get("error"))
    if record["status"] != "complete":
        raise TrialFailed(str(record.get("error") or f"run ended as {record['status']}"))
    metrics = dict(record["metrics"])
    if "energy_paper_j" in metrics:
        metrics["energy_paper_mj"] = metrics["energy_paper_j"] * 1e3
    for key in ("test_acc", "energy_paper_mj", "params", "sops_paper", "train_img_per_s"):
        if key in metrics:
            trial.set_user_attr(key, metrics[key])
    if ctx.get("max_energy_mj"):  # known only after training (firing rates)
        constraint["energy_mj"] = float(metrics["energy_paper_mj"] - ctx["max_energy_mj"])
        trial.set_constraint("energy_mj", constraint["energy_mj"])
        trial.set_user_attr("constraint", list(constraint.values()))
    return [float(metrics[OBJECTIVES[o][0]]) for o in ctx["objectives"]]


def open_search(ctx: dict[str, Any], worker: int = 0) -> optuna.Study:
    """This process's handle on the study, with its own sampler (seed + worker: two workers
    with one seed would propose the same random start-up trials) and pruner."""
    sampler, _ = make_sampler(ctx["sampler"], ctx["seed"] + 1009 * worker, len(ctx["objectives"]))
    pruner, _ = make_pruner(ctx["pruner"], ctx["epochs"])
    storage = open_storage(ctx["storage"], Path(ctx["study_dir"]))
    study = load_study(
        ctx["study"], storage, directions=directions(ctx["objectives"]), sampler=sampler,
        pruner=pruner,
    )
    names = [OBJECTIVES[o][0] for o in ctx["objectives"]]
    if study.metric_names != names:  # axis labels of optuna's plots and the dashboard
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    return study


def search_worker(ctx: dict[str, Any], objective: Any = None) -> int:
    """One worker (process): run trials until the study's global budget is used up.
    `objective(trial, ctx)` defaults to training (`train_objective`)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(ctx.get("threads") or torch.get_num_threads())
    name = multiprocessing.current_process().name
    index = int(name.rsplit("-", 1)[-1]) if name.startswith("bench-worker-") else 0
    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        torch.cuda.set_device(index % torch.cuda.device_count())
    study = open_search(ctx, index)
    fn = objective or train_objective
    return run_sampled(
        study, lambda trial: fn(trial, ctx), n_trials=ctx["trials"], progress=index == 0
    )


# ----------------------------------------------------------------------------------------------
# Outputs: trials.csv, best.json / pareto.json (also regenerated by bench.report.refresh)


def _feasible(t: optuna.trial.FrozenTrial) -> bool:
    return all(v <= 0 for v in t.constraints.values())


def winners(ostudy: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best feasible trial, or the feasible Pareto set (best first objective first)."""
    done = [
        t for t in ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if _feasible(t)
    ]
    if not done:
        return []
    if len(ostudy.directions) == 1:
        sign = 1 if ostudy.direction == optuna.study.StudyDirection.MAXIMIZE else -1
        return [max(done, key=lambda t: (sign * t.value, -t.number))]
    signs = [1 if d == optuna.study.StudyDirection.MAXIMIZE else -1 for d in ostudy.directions]

    def dominates(a: optuna.trial.FrozenTrial, b: optuna.trial.FrozenTrial) -> bool:
        pa = [s * v for s, v in zip(signs, a.values, strict=True)]
        pb = [s * v for s, v in zip(signs, b.values, strict=True)]
        return all(x >= y for x, y in zip(pa, pb, strict=True)) and pa != pb

    front = [t for t in done if not any(dominates(o, t) for o in done)]
    unique: dict[tuple[float, ...], optuna.trial.FrozenTrial] = {}
    for t in sorted(front, key=lambda t: t.number):  # equal points: the earliest trial
        unique.setdefault(tuple(t.values), t)
    return sorted(unique.values(), key=lambda t: -signs[0] * t.values[0])


def pick_confirmed(front: list[optuna.trial.FrozenTrial], k: int) -> list[optuna.trial.FrozenTrial]:
    """Up to k configs spread along the front (its two ends and the middle)."""
    if len(front) <= k:
        return list(front)
    idx = sorted({round(i * (len(front) - 1) / (k - 1)) for i in range(k)})
    return [front[i] for i in idx]


def _trial_entry(t: optuna.trial.FrozenTrial, names: list[str]) -> dict[str, Any]:
    return {
        "trial": t.number,
        "values": dict(zip(names, t.values, strict=True)),
        "params": t.params,
        "overrides": params_to_overrides(t.params),
        "run_id": t.user_attrs.get("run_id"),
        "user_attrs": {k: v for k, v in t.user_attrs.items() if k != "traceback"},
    }


def trials_frame(ostudy: optuna.Study) -> Any:
    import pandas as pd

    names = ostudy.metric_names or [f"value_{i}" for i in range(len(ostudy.directions))]
    rows = []
    for t in ostudy.get_trials(deepcopy=False):
        if "skipped" in t.user_attrs:
            continue  # over the budget or a duplicate: ended without running
        row: dict[str, Any] = {"number": t.number, "state": t.state.name.lower()}
        for i, n in enumerate(names):
            row[n] = t.values[i] if t.values else None
        row.update({f"param_{k}": v for k, v in t.params.items()})
        for k, v in t.user_attrs.items():
            if k not in ("traceback", "overrides"):
                row[k] = json.dumps(v) if isinstance(v, (dict, list)) else v
        row["feasible"] = _feasible(t)
        row["retry_of"] = t.system_attrs.get("bench:retry_of")
        if t.datetime_start and t.datetime_complete:
            row["duration_s"] = (t.datetime_complete - t.datetime_start).total_seconds()
        rows.append(row)
    return pd.DataFrame(rows)


def ablate_command(meta: dict[str, Any], overrides: dict[str, Any]) -> str:
    """A ready `bench.ablate` line: the winner's settings, with the first setting in which it
    differs from the baseline swept (winner value first, then the baseline's)."""
    short = {v: k for k, v in SHORT_KEYS.items() if k not in ("workers",)}  # data.name: dataset
    fixed = {
        short.get(k, k): v for k, v in (meta.get("fixed") or {}).items() if k != "seed"
    }  # ablate pairs its own seeds
    base = meta.get("baseline_config") or {}
    settings = {**fixed, **overrides}
    diff = [k for k, v in overrides.items() if k in base and base[k] != v]
    parts = [f"{k}={v}" for k, v in settings.items() if not diff or k != diff[0]]
    if diff:
        parts.append(f"{diff[0]}={overrides[diff[0]]},{base[diff[0]]}")
    seeds = meta.get("confirm_seeds") or ablate.DEFAULT_SEEDS
    return "python -m bench.ablate " + " ".join(parts) + f" seeds={seeds}"


def write_search_outputs(study_dir: str | Path) -> dict[str, Path]:
    """trials.csv and best.json (one objective) or pareto.json (several), from the storage."""
    from bench.plots import optuna_study
    from bench.results import load_study as load_folder
    from bench.train import atomic_save

    folder = load_folder(study_dir)
    ostudy = optuna_study(folder)
    if ostudy is None:
        return {}
    path = Path(study_dir)
    frame = trials_frame(ostudy)
    frame.to_csv(path / "trials.csv", index=False)
    written = {"trials.csv": path / "trials.csv"}
    names = ostudy.metric_names or [f"value_{i}" for i in range(len(ostudy.directions))]
    best = winners(ostudy)
    ran = frame[frame["state"].isin(["complete", "pruned"])] if len(frame) else frame
    if "infeasible" in ran:  # rejected by the parameter budget before training: not a pruning
        ran = ran[ran["infeasible"].isna()]
    epochs_full = int(len(ran)) * int(folder.meta.get("epochs") or 0)
    epochs_run = int(ran["epochs_run"].fillna(0).sum()) if "epochs_run" in ran else 0
    summary = {
        "trials": {s: int(n) for s, n in frame["state"].value_counts().items()}
        if len(frame) else {},
        "epochs_run": epochs_run,
        "epochs_without_pruning": epochs_full,
        "epochs_saved_fraction": 1 - epochs_run / epochs_full if epochs_full else None,
        "mean_seconds_per_trial": float(ran["seconds"].mean())
        if "seconds" in ran and ran["seconds"].notna().any() else None,
    }
    entries = [_trial_entry(t, names) for t in best]
    for e in entries:
        e["ablate_command"] = ablate_command(folder.meta, e["overrides"])
    confirm = folder.meta.get("confirm_study")
    if len(ostudy.directions) == 1:
        out = {"objective": names[0], "direction": ostudy.direction.name.lower(),
               "best": entries[0] if entries else None, "summary": summary,
               "confirm_study": confirm}
        atomic_save(out, path / "best.json", as_json=True)
        written["best.json"] = path / "best.json"
    else:
        confirmed = [t.number for t in pick_confirmed(best, MAX_CONFIRMED)]
        out = {"objectives": names, "directions": [d.name.lower() for d in ostudy.directions],
               "pareto": entries, "confirmed_trials": confirmed, "summary": summary,
               "confirm_study": confirm}
        atomic_save(out, path / "pareto.json", as_json=True)
        written["pareto.json"] = path / "pareto.json"
    return written


# ----------------------------------------------------------------------------------------------
# Confirmation: winners vs the paper config on fresh seeds, as an ablation study


def confirm_plan(
    chosen: list[optuna.trial.FrozenTrial], fixed: dict[str, Any], n_seeds: int, train_seed: int
) -> dict[str, Any] | None:
    """An ablate plan: the dataset's paper config (baseline) and each winner, on seeds not used
    in the search (the search picked its winner on seed `train_seed`: reusing it would flatter
    the winner). None when no winner differs from the baseline."""
    base_cfg = resolve(fixed)
    winners_ov = {t.number: params_to_overrides(t.params) for t in chosen}
    keys: list[str] = []
    for ov in winners_ov.values():
        for k, v in ov.items():
            if getattr(base_cfg.model, k) != v and k not in keys:
                keys.append(k)
    if not keys:
        return None
    base = {canonical_key(k): getattr(base_cfg.model, k) for k in keys}
    variants: dict[str, dict[str, Any]] = {BASELINE_LABEL: base}
    for number, ov in winners_ov.items():
        values = {canonical_key(k): ov.get(k, getattr(base_cfg.model, k)) for k in keys}
        if values != base:
            variants[f"search trial {number}"] = values
    seeds = [s for s in range(n_seeds + 1) if s != train_seed][:n_seeds]
    return {"variants": variants, "fixed": fixed, "seeds": seeds, "baseline": BASELINE_LABEL,
            "sweep_keys": keys}


def run_confirm(
    ostudy: optuna.Study, ctx: dict[str, Any], args: argparse.Namespace, workers_arg: str
) -> Path | None:
    chosen = winners(ostudy)
    if len(ostudy.directions) > 1:
        chosen = pick_confirmed(chosen, MAX_CONFIRMED)
    if not chosen:
        print("No feasible trial finished: nothing to confirm.")
        return None
    fixed = {k: v for k, v in ctx["fixed"].items() if k != "seed"}
    plan = confirm_plan(chosen, fixed, args.confirm_seeds, ctx["train_seed"])
    if plan is None:
        print("The best config is the default config itself: nothing to confirm.")
        return None
    name = f"{ctx['study']}-confirm"
    cdir = Path(args.results) / name
    cells = ablate.build_cells(plan, name)
    workers = ablate.choose_workers(workers_arg, len(cells))
    print(
        f"Confirming {len(plan['variants']) - 1} config(s) vs the default config on seeds "
        f"{plan['seeds']}: {len(cells)} runs -> {cdir}/"
    )
    info = {
        "kind": "ablation",
        "name": name,
        "command": f"(confirmation of search {ctx['study']})",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": resolve(fixed).data.name,
        "baseline": plan["baseline"],
        "sweep_keys": plan["sweep_keys"],
        "variants": plan["variants"],
        "seeds": plan["seeds"],
        "fixed": plan["fixed"],
        "storage": "journal" if ctx["storage"] is None else _public_url(ctx["storage"]),
        "search_study": ctx["study"],
        "metrics": {"test_acc": True, "energy_paper_mj": False, "sops_paper_m": False},
    }
    ablate.write_study_json(cdir / "study.json", info)
    st = load_study(name, open_storage(ctx["storage"], cdir), directions=ablate.DIRECTIONS)
    ablate.work_queue(st, cells, cdir, ctx["storage"], workers)
    print("Confirmation: ", end="")
    ablate.report_outcome(st, cells, cdir)
    return cdir


# ----------------------------------------------------------------------------------------------
# CLI


def _public_url(url: str) -> str:
    """The storage URL without its password (study.json is committed; the password belongs in
    ~/.pgpass or PGPASSWORD, which psycopg2 reads when reopening the URL)."""
    head, sep, tail = url.partition("://")
    if "@" in tail:
        cred, _, host = tail.partition("@")
        return f"{head}{sep}{cred.split(':', 1)[0]}@{host}"
    return url


def default_study_name(space: str, sampler: str, objectives: list[str], seed: int) -> str:
    name = f"search-{space}-{sampler}-{'-'.join(objectives)}" + (f"-seed{seed}" if seed else "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def write_study_json(path: Path, info: dict[str, Any]) -> None:
    """Create study.json, or check that a rerun continues the same search (budget may grow)."""
    from bench.train import atomic_save

    if path.exists():
        old = json.loads(path.read_text())
        same = ("kind", "space", "fixed", "objectives", "sampler", "pruner", "constraints")
        if any(old.get(k) != info.get(k) for k in same):
            diff = [k for k in same if old.get(k) != info.get(k)]
            raise ConfigError(
                f"Study folder {path.parent} holds a different search ({', '.join(diff)} "
                "differ); pass --study NAME to start a new one."
            )
        info["created"] = old.get("created", info["created"])
    atomic_save(info, path, as_json=True)


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """Check every argument and build the worker context; raises ConfigError with one sentence."""
    if args.trials < 0:
        raise ConfigError(f"--trials {args.trials}: pass 0 or more.")
    if args.confirm_seeds < 0:
        raise ConfigError(f"--confirm-seeds {args.confirm_seeds}: pass 0 (off) or more.")
    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: pass a non-negative integer.")
    try:
        base_space = get_space(args.space)
    except KeyError as err:
        raise ConfigError(str(err)) from None
    objectives = parse_objectives(args.objectives)
    if args.sampler not in SAMPLERS:
        raise ConfigError(f"--sampler {args.sampler}: choose one of {', '.join(SAMPLERS)}.")
    pruner = args.pruner or ("median" if len(objectives) == 1 else "none")
    if pruner not in PRUNERS:
        raise ConfigError(f"--pruner {pruner}: choose one of {', '.join(PRUNERS)}.")
    if pruner != "none" and len(objectives) > 1:
        raise ConfigError(
            f"--pruner {pruner} cannot prune a multi-objective search (Optuna compares one "
            "value per epoch): drop --pruner or pass --pruner none."
        )
    parsed = parse_overrides(args.overrides)
    multi = [k for k, v in parsed.items() if len(v) > 1 or k == "seeds"]
    if multi:
        raise ConfigError(
            f"{multi[0]} has several values; a search takes one value per fixed setting "
            "(use python -m bench.ablate for sweeps)."
        )
    given = {k: v[0] for k, v in parsed.items()}
    fixed = {canonical_key(k): v for k, v in base_space.fixed.items()}
    fixed.setdefault("data.name", base_space.dataset)
    fixed.update(given)
    fixed.setdefault("seed", 0)
    pinned = {k.rsplit(".", 1)[-1]: v for k, v in fixed.items() if k.startswith("model.")}
    try:
        space = base_space.pin(pinned)
    except (ValueError, KeyError) as err:
        raise ConfigError(str(err)) from None
    fixed = {k: v for k, v in fixed.items() if k.rsplit(".", 1)[-1] not in space.searched()}
    if "model.heads" in fixed and "dim" in space.searched():
        fixed.pop("model.heads")  # pinned through the space (dims it divides)
    baseline = resolve(fixed)  # a bad fixed value (dataset, epochs, ...) fails here
    if baseline.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device={baseline.device} was asked for but no CUDA GPU is visible: "
            "use device=cpu or device=auto."
        )
    if args.max_params is not None and args.max_params <= 0:
        raise ConfigError(f"--max-params {args.max_params}: pass a positive parameter count.")
    if args.max_energy is not None and args.max_energy <= 0:
        raise ConfigError(f"--max-energy {args.max_energy}: pass a positive energy in mJ.")
    study = args.study or default_study_name(args.space, args.sampler, objectives, args.seed)
    study_dir = Path(args.results) / study
    workers = ablate.choose_workers(args.workers, max(1, args.trials))
    sampler_settings = make_sampler(args.sampler, args.seed, len(objectives))[1]
    pruner_settings = make_pruner(pruner, baseline.train.epochs)[1]
    return {
        "study": study,
        "study_dir": str(study_dir),
        "storage": args.storage,
        "space": args.space,
        "space_desc": space.describe(),
        "searched": space.searched(),
        "pinned": pinned,
        "fixed": fixed,
        "objectives": objectives,
        "sampler": args.sampler,
        "sampler_settings": sampler_settings,
        "seed": args.seed,
        "train_seed": int(fixed["seed"]),
        "pruner": pruner,
        "pruner_settings": pruner_settings,
        "trials": args.trials,
        "epochs": baseline.train.epochs + baseline.train.cooldown_epochs,
        "max_params": args.max_params,
        "max_energy_mj": args.max_energy,
        "workers": workers,
        # CPU: one thread per worker; small models gain nothing from more, and a second thread
        # on a busy machine made a digits trial ~8x slower (measured: 3 s vs 24 s).
        "threads": max(1, (os.cpu_count() or 1) // workers) if torch.cuda.is_available() else 1,
        "dataset": baseline.data.name,
        "baseline": baseline,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="fixed settings: key=value")
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                        help="global trial budget across all workers (default 200)")
    parser.add_argument("--space", default="digits", help=f"one of {', '.join(SPACES)}")
    parser.add_argument("--sampler", default="tpe", help="tpe (default), random, nsga2 or gp")
    parser.add_argument("--objectives", default="accuracy",
                        help="accuracy (default), accuracy,energy or accuracy,params")
    parser.add_argument("--pruner", default=None,
                        help="median (default, one objective), hyperband or none")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    parser.add_argument("--max-params", type=int, default=None,
                        help="constraint: at most this many parameters")
    parser.add_argument("--max-energy", type=float, default=None,
                        help="constraint: at most this energy per image (mJ, paper convention)")
    parser.add_argument("--confirm-seeds", type=int, default=DEFAULT_CONFIRM_SEEDS,
                        help="re-train the best config(s) on this many fresh seeds (0: off)")
    parser.add_argument("--study", help="study name (default: from space, sampler, objectives)")
    parser.add_argument("--storage",
                        help="postgresql://... for several machines (default: a journal file)")
    parser.add_argument("--workers", default="auto",
                        help="worker processes here (auto: one per GPU, else per CPU core, <= 4)")
    parser.add_argument("--results", default="results", help="folder of study folders")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        ctx = plan(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    base = ctx.pop("baseline")
    study_dir = Path(ctx["study_dir"])
    n_obj = len(ctx["objectives"])
    storage_text = args.storage and _public_url(args.storage)
    print(
        f"Search '{ctx['study']}': {ctx['trials']} trials (global budget) over space "
        f"'{ctx['space']}' ({', '.join(ctx['searched'])}) on {ctx['dataset']}, "
        f"{base.train.epochs} epochs each; sampler {ctx['sampler']} (seed {ctx['seed']}), "
        f"objectives {', '.join(ctx['objectives'])}, pruner {ctx['pruner']}, "
        f"{ctx['workers']} worker(s)."
    )
    if args.confirm_seeds:
        what = "the best config" if n_obj == 1 else f"up to {MAX_CONFIRMED} Pareto configs"
        print(f"Then {what} x {args.confirm_seeds} fresh seeds vs the default config "
              f"-> {study_dir}-confirm/")
    print(f"Results: {study_dir}/ (storage: {storage_text or study_dir / 'study.journal'})")
    if args.dry_run:
        print(json.dumps({"space": ctx["space_desc"], "fixed": ctx["fixed"],
                          "sampler": ctx["sampler_settings"], "pruner": ctx["pruner_settings"]},
                         indent=1))
        return 0

    info = {
        "kind": "search",
        "name": ctx["study"],
        "command": "python -m bench.search " + " ".join(sys.argv[1:] if argv is None else argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": ctx["dataset"],
        "space": ctx["space_desc"],
        "fixed": ctx["fixed"],
        "baseline_config": {k: getattr(base.model, k) for k in ctx["searched"] if k != "heads"}
        | {"heads": base.model.heads},
        "objectives": ctx["objectives"],
        "directions": directions(ctx["objectives"]),
        "sampler": {"name": ctx["sampler"], **ctx["sampler_settings"]},
        "pruner": {"name": ctx["pruner"], **ctx["pruner_settings"]},
        "constraints": {"max_params": ctx["max_params"], "max_energy_mj": ctx["max_energy_mj"]},
        "trials": ctx["trials"],
        "epochs": ctx["epochs"],
        "confirm_seeds": args.confirm_seeds,
        "confirm_study": f"{ctx['study']}-confirm" if args.confirm_seeds else None,
        "storage": "journal" if args.storage is None else _public_url(args.storage),
        "optuna": optuna.__version__,
        "metrics": {"test_acc": True, "energy_paper_mj": False, "params": False},
    }
    st = None
    try:
        write_study_json(study_dir / "study.json", info)
        st = open_search(ctx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            st.set_metric_names([OBJECTIVES[o][0] for o in ctx["objectives"]])
        if ctx["workers"] == 1:
            search_worker(ctx)
        else:
            print(f"Starting {ctx['workers']} worker processes ({ctx['threads']} thread(s) each).")
            codes = start_workers(ctx["workers"], search_worker, (ctx,))
            if any(codes):
                print(f"warning: worker exit codes {codes}", file=sys.stderr)
        from bench.report import refresh

        with warnings.catch_warnings():  # optuna's importance warns about sparse regimes
            warnings.simplefilter("ignore", UserWarning)
            written = refresh(study_dir)
        trials = st.get_trials(deepcopy=False)
        counts: dict[str, int] = {}
        for t in trials:
            if "skipped" not in t.user_attrs:
                counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
        minutes = (time.perf_counter() - started) / 60
        print(f"Search done in {minutes:.1f} min: "
              + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".")
        summary_file = written.get("best.json") or written.get("pareto.json")
        if summary_file:
            summary = json.loads(Path(summary_file).read_text())
            s = summary["summary"]
            if s.get("epochs_saved_fraction") is not None and ctx["pruner"] != "none":
                print(f"Pruning ran {s['epochs_run']} of {s['epochs_without_pruning']} epochs "
                      f"({100 * s['epochs_saved_fraction']:.0f}% saved).")
            for e in summary.get("pareto") or [summary.get("best")] or []:
                if e:
                    vals = ", ".join(f"{k} {v:.4g}" for k, v in e["values"].items())
                    print(f"  trial {e['trial']}: {vals}  {e['overrides']}")
                    print(f"    {e['ablate_command']}")
        if args.confirm_seeds:
            cdir = run_confirm(st, ctx, args, args.workers)
            if cdir is not None:
                print(f"Confirmation report: {cdir / 'report.md'}")
    except ValueError as err:  # ConfigError, storage URLs, study mismatches: one sentence
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        done = len(st.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) if st else 0
        print(f"\ninterrupted: {done} trials are complete and stored; rerun the same command "
              "to resume the search.", file=sys.stderr)
        return 130
    print(f"Report: {written.get('report.md', study_dir / 'report.md')}")
    print(f"Plots:  {study_dir / 'plots'}/")
    dash = args.storage or study_dir / "study.journal"
    print(f"Dashboard: optuna-dashboard {dash if args.storage is None else storage_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
