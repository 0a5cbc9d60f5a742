"""Samplers and pruners by name, each with every setting pinned (Optuna's defaults change
between versions: TPE in 5.0 made `multivariate` depend on the number of objectives). The
settings a factory used are returned beside the object and recorded in study.json."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.samplers._tpe.sampler import (
    default_gamma,
    default_gamma_multiobjective,
    default_weights,
)

__all__ = ["PRUNERS", "SAMPLERS", "make_pruner", "make_sampler"]

Settings = dict[str, Any]

TPE: Settings = {
    "n_startup_trials": 10,
    "n_ei_candidates": 24,
    "multivariate": True,
    "group": True,  # conditional params (heads_dim<D>, tau) get their own sub-space models
    "constant_liar": True,  # parallel workers: running trials count as bad, no duplicate picks
    "prior_weight": 1.0,
    "consider_magic_clip": True,
    "consider_endpoints": False,
}
NSGA2: Settings = {
    "population_size": 20,
    "crossover_prob": 0.9,
    "swapping_prob": 0.5,
    "mutation_prob": None,
}
GP: Settings = {"n_startup_trials": 10, "deterministic_objective": False}
MEDIAN: Settings = {
    "n_startup_trials": 5,
    "n_warmup_steps": 2,
    "interval_steps": 1,
    "n_min_trials": 5,
}
HYPERBAND: Settings = {"min_resource": 1, "reduction_factor": 3, "bootstrap_count": 0}


def _tpe(seed: int, n_objectives: int) -> tuple[optuna.samplers.BaseSampler, Settings]:
    gamma = default_gamma if n_objectives == 1 else default_gamma_multiobjective
    sampler = optuna.samplers.TPESampler(**TPE, gamma=gamma, weights=default_weights, seed=seed)
    return sampler, {**TPE, "gamma": gamma.__name__, "weights": default_weights.__name__}


def _random(seed: int, n_objectives: int) -> tuple[optuna.samplers.BaseSampler, Settings]:
    return optuna.samplers.RandomSampler(seed=seed), {}


def _nsga2(seed: int, n_objectives: int) -> tuple[optuna.samplers.BaseSampler, Settings]:
    return optuna.samplers.NSGAIISampler(**NSGA2, seed=seed), dict(NSGA2)


def _gp(seed: int, n_objectives: int) -> tuple[optuna.samplers.BaseSampler, Settings]:
    sampler = optuna.samplers.GPSampler(**GP, seed=seed, warn_independent_sampling=False)
    return sampler, dict(GP)


SAMPLERS: dict[str, Callable[[int, int], tuple[optuna.samplers.BaseSampler, Settings]]] = {
    "tpe": _tpe,
    "random": _random,
    "nsga2": _nsga2,
    "gp": _gp,
}

PRUNERS: dict[str, Callable[[int], tuple[optuna.pruners.BasePruner, Settings]]] = {
    "median": lambda epochs: (optuna.pruners.MedianPruner(**MEDIAN), dict(MEDIAN)),
    "hyperband": lambda epochs: (
        optuna.pruners.HyperbandPruner(**HYPERBAND, max_resource=epochs),
        {**HYPERBAND, "max_resource": epochs},
    ),
    "none": lambda epochs: (optuna.pruners.NopPruner(), {}),
}


def make_sampler(
    name: str, seed: int, n_objectives: int
) -> tuple[optuna.samplers.BaseSampler, Settings]:
    """The sampler `name` and its settings (seed included); ValueError for an unknown name."""
    if name not in SAMPLERS:
        raise ValueError(f"--sampler {name}: choose one of {', '.join(SAMPLERS)}.")
    with warnings.catch_warnings():
        # Passing TPE's deprecated-but-valid arguments is the only way to pin them in Optuna 5.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler, settings = SAMPLERS[name](seed, n_objectives)
    return sampler, {**settings, "seed": seed}


def make_pruner(name: str, epochs: int) -> tuple[optuna.pruners.BasePruner, Settings]:
    """The pruner `name` over `epochs` epochs and its settings; ValueError for an unknown name."""
    if name not in PRUNERS:
        raise ValueError(f"--pruner {name}: choose one of {', '.join(PRUNERS)}.")
    return PRUNERS[name](epochs)
