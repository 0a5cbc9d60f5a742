"""Named search spaces for `python -m bench.search`: what may vary, as data, and `suggest`, the one
function that asks an Optuna trial for it.

Parameter names are the short config keys (depth, dim, mlp_ratio, T, neuron, tau, attention, stem,
residual), so a trial's params read like `bench.ablate` overrides. Two parameters are conditional:

- heads: only divisors of dim are valid, and an Optuna distribution is fixed per parameter name,
  so heads is suggested under a name per dim, `heads_dim<D>`, whose choices are the divisors of D
  among the space's head counts. Every sampled (dim, heads) pair is valid by construction and
  each heads value keeps its meaning (a "divisor index" would mean different head counts for
  different dims and mislead TPE and the importance plot).
- tau: only for neurons that leak (lif, lif_sj, plif); an IF neuron has no tau to search.

TPE with `group=True` models each such sub-space on its own. Constraints (a parameter or energy
budget) are not part of the space: `bench.search` sets them on the trial (`set_constraint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from components.neurons import LEAKY
from components.registry import (
    ATTENTION,
    NEURON,
    RESIDUAL,
    STEM,
    UnknownNameError,
    unknown_choice_message,
)

# Neurons whose membrane leaks with time constant tau; `tau` is searched only for these.
LEAKY_NEURONS = LEAKY
# Registered duplicates that would only waste trials: lif_sj is `lif` run by spikingjelly's code.
SAME_AS = {"lif_sj": "lif"}


def _choices(names: list[str]) -> tuple[str, ...]:
    return tuple(n for n in names if n not in SAME_AS)


@dataclass(frozen=True)
class SearchSpace:
    """One named space: ranges and choices, the dataset it is meant for, fixed settings."""

    name: str
    dataset: str
    depth: tuple[int, int]  # inclusive int range
    dims: tuple[int, ...]
    heads: tuple[int, ...]  # candidate head counts; per dim only its divisors are offered
    mlp_ratios: tuple[float, ...]
    T: tuple[int, ...]
    neurons: tuple[str, ...]
    tau: tuple[float, float]  # float range (log scale), for LEAKY_NEURONS only
    attentions: tuple[str, ...]
    stems: tuple[str, ...]
    residuals: tuple[str, ...]
    fixed: dict[str, Any] = field(default_factory=dict)  # settings every trial shares
    note: str = ""

    def heads_for(self, dim: int) -> tuple[int, ...]:
        return tuple(h for h in self.heads if dim % h == 0)

    def check(self) -> None:
        """Every choice exists and every dim has at least one valid head count."""
        for registry, names in (
            (ATTENTION, self.attentions),
            (NEURON, self.neurons),
            (STEM, self.stems),
            (RESIDUAL, self.residuals),
        ):
            for n in names:
                registry.check(n)
        for d in self.dims:
            if not self.heads_for(d):
                raise ValueError(
                    f"Space '{self.name}': dim={d} has no divisor among heads {self.heads}."
                )
        if self.depth[0] < 1 or self.depth[0] > self.depth[1]:
            raise ValueError(f"Space '{self.name}': depth range {self.depth} is empty.")

    def pin(self, fixed: dict[str, Any]) -> SearchSpace:
        """The space with the searched keys named in `fixed` (short keys) reduced to that one
        value, so a user's `dim=64` on the command line wins over the space."""
        one = {
            "depth": lambda v: {"depth": (int(v), int(v))},
            "dim": lambda v: {"dims": (v,)},
            "heads": lambda v: {"heads": (v,)},
            "mlp_ratio": lambda v: {"mlp_ratios": (float(v),)},
            "T": lambda v: {"T": (v,)},
            "neuron": lambda v: {"neurons": (v,)},
            "tau": lambda v: {"tau": (float(v), float(v))},
            "attention": lambda v: {"attentions": (v,)},
            "stem": lambda v: {"stems": (v,)},
            "residual": lambda v: {"residuals": (v,)},
        }
        changes: dict[str, Any] = {}
        for key, value in fixed.items():
            if key in one:
                changes.update(one[key](value))
        space = replace(self, **changes)
        if "heads" in fixed:  # keep only dims that the fixed head count divides
            dims = tuple(d for d in space.dims if d % fixed["heads"] == 0)
            if not dims:
                raise ValueError(
                    f"heads={fixed['heads']} divides none of the dims {space.dims} of space "
                    f"'{self.name}'; fix dim too or pick heads from {self.heads}."
                )
            space = replace(space, dims=dims)
        space.check()
        return space

    def searched(self) -> list[str]:
        """The short keys this space varies (more than one value)."""
        sizes = {
            "depth": self.depth[1] - self.depth[0] + 1,
            "dim": len(self.dims),
            "heads": max(len(self.heads_for(d)) for d in self.dims),
            "mlp_ratio": len(self.mlp_ratios),
            "T": len(self.T),
            "neuron": len(self.neurons),
            "tau": 2 if self.tau[0] != self.tau[1] and set(self.neurons) & set(LEAKY_NEURONS)
            else 1,
            "attention": len(self.attentions),
            "stem": len(self.stems),
            "residual": len(self.residuals),
        }
        return [k for k, n in sizes.items() if n > 1]

    def describe(self) -> dict[str, Any]:
        """JSON-able description (study.json)."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "depth": list(self.depth),
            "dim": list(self.dims),
            "heads": {str(d): list(self.heads_for(d)) for d in self.dims},
            "mlp_ratio": list(self.mlp_ratios),
            "T": list(self.T),
            "neuron": list(self.neurons),
            "tau": {"range": list(self.tau), "log": True, "only_for": list(LEAKY_NEURONS)},
            "attention": list(self.attentions),
            "stem": list(self.stems),
            "residual": list(self.residuals),
            "fixed": dict(self.fixed),
            "note": self.note,
        }


def heads_param(dim: int) -> str:
    return f"heads_dim{dim}"


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Ask `trial` (optuna.Trial) for one point of `space`; return it as short-key overrides.

    A list with one choice is still suggested (Optuna records it as a fixed param), so every trial
    of a space has the same unconditional params."""
    lo, hi = space.depth
    out: dict[str, Any] = {"depth": trial.suggest_int("depth", lo, hi)}
    dim = trial.suggest_categorical("dim", list(space.dims))
    out["dim"] = dim
    out["heads"] = trial.suggest_categorical(heads_param(dim), list(space.heads_for(dim)))
    out["mlp_ratio"] = float(trial.suggest_categorical("mlp_ratio", list(space.mlp_ratios)))
    out["T"] = trial.suggest_categorical("T", list(space.T))
    out["neuron"] = trial.suggest_categorical("neuron", list(space.neurons))
    if out["neuron"] in LEAKY_NEURONS:
        t_lo, t_hi = space.tau
        out["tau"] = trial.suggest_float("tau", t_lo, t_hi, log=True) if t_lo < t_hi else t_lo
    out["attention"] = trial.suggest_categorical("attention", list(space.attentions))
    out["stem"] = trial.suggest_categorical("stem", list(space.stems))
    out["residual"] = trial.suggest_categorical("residual", list(space.residuals))
    return out


def params_to_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """A finished trial's params -> the same short-key overrides `suggest` returned."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key.startswith("heads_dim"):
            out["heads"] = value
        else:
            out[key] = float(value) if key in ("mlp_ratio", "tau") else value
    return out


_ALL_ATTENTION = _choices(ATTENTION.names())
_ALL_NEURONS = _choices(NEURON.names())
_ALL_STEMS = _choices(STEM.names())
_ALL_RESIDUALS = _choices(RESIDUAL.names())

SPACES: dict[str, SearchSpace] = {
    s.name: s
    for s in [
        # CPU: one trial takes ~5-60 s on one core (5 epochs of the embedded 8x8 digits).
        SearchSpace(
            "digits",
            "digits",
            depth=(1, 3),
            dims=(16, 32, 48, 64),
            heads=(1, 2, 4, 8),
            mlp_ratios=(1.0, 2.0, 4.0),
            T=(1, 2, 4),
            neurons=_ALL_NEURONS,
            tau=(1.5, 4.0),
            attentions=_ALL_ATTENTION,
            stems=_ALL_STEMS,
            residuals=_ALL_RESIDUALS,
            fixed={"epochs": 5},
            note="CPU search on the embedded digits; 5 epochs per trial",
        ),
        # Around the paper's CIFAR models (4-384, 4-256, 2-384), paper protocol.
        SearchSpace(
            "cifar",
            "cifar10",
            depth=(2, 8),
            dims=(192, 256, 384, 512),
            heads=(4, 6, 8, 12, 16),
            mlp_ratios=(2.0, 3.0, 4.0),
            T=(1, 2, 4, 6),
            neurons=_ALL_NEURONS,
            tau=(1.5, 4.0),
            attentions=_ALL_ATTENTION,
            stems=_ALL_STEMS,
            residuals=_ALL_RESIDUALS,
            note="GPU; paper protocol (300 epochs) unless epochs= is given",
        ),
        # Around the paper's event models (2-256, T=16 frames).
        SearchSpace(
            "dvs",
            "cifar10_dvs",
            depth=(1, 4),
            dims=(128, 256, 384),
            heads=(4, 8, 16),
            mlp_ratios=(2.0, 4.0),
            T=(8, 10, 16),
            neurons=_ALL_NEURONS,
            tau=(1.5, 4.0),
            attentions=_ALL_ATTENTION,
            stems=_ALL_STEMS,
            residuals=_ALL_RESIDUALS,
            note="GPU; CIFAR10-DVS frames = T",
        ),
        # The paper's ImageNet sizes (8-384 .. 8-768); no ImageNet loader yet.
        SearchSpace(
            "imagenet",
            "imagenet",
            depth=(6, 10),
            dims=(384, 512, 768),
            heads=(8, 12, 16),
            mlp_ratios=(4.0,),
            T=(1, 2, 4),
            neurons=_ALL_NEURONS,
            tau=(1.5, 4.0),
            attentions=_ALL_ATTENTION,
            stems=_ALL_STEMS,
            residuals=_ALL_RESIDUALS,
            note="model sizes only: the suite has no ImageNet loader yet",
        ),
    ]
}


def get_space(name: str) -> SearchSpace:
    if name not in SPACES:
        raise UnknownNameError(unknown_choice_message("search space", name, list(SPACES)))
    return SPACES[name]
