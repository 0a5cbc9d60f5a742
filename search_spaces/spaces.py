"""Named search spaces for `python -m bench.search`, as data: each searched setting is a `Param`
(a distribution, and when it applies), and one generic `suggest` / `pin` / `describe` works for
every space, built-in or registered by a plugin (`register_space`).

Parameter names are the short config keys (depth, dim, mlp_ratio, T, neuron, tau, attention, stem,
residual), so a trial's params read like `bench.ablate` overrides. Two parameters are conditional:

- heads: only divisors of dim are valid, and an Optuna distribution is fixed per parameter name,
  so heads is suggested under a name per dim, `heads_dim<D>`, whose choices are the divisors of D
  among the space's head counts: every sampled (dim, heads) pair is valid by construction and
  each heads value keeps its meaning for TPE and the importance plot.
- tau: only for neurons that leak (registry metadata `leaky=True`); IF has no tau to search.

Each space names its parts explicitly: registering a new part does not change any space (a
plugin that wants its part searched registers a space that names it). TPE with `group=True`
models each conditional sub-space on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from components.registry import (
    ATTENTION,
    NEURON,
    RESIDUAL,
    STEM,
    UnknownNameError,
    unknown_choice_message,
)

__all__ = [
    "SPACES",
    "Param",
    "SearchSpace",
    "get_space",
    "heads_param",
    "leaky_neurons",
    "params_to_overrides",
    "register_space",
    "suggest",
]

_PARTS = {"neuron": NEURON, "attention": ATTENTION, "stem": STEM, "residual": RESIDUAL}


def leaky_neurons() -> list[str]:
    """Neurons with a time constant, read from the registry when asked (plugins count)."""
    return NEURON.where(leaky=True)


def heads_param(dim: int) -> str:
    return f"heads_dim{dim}"


def _heads_for(values: tuple, so_far: dict[str, Any]) -> tuple:
    return tuple(h for h in values if so_far["dim"] % h == 0)


@dataclass(frozen=True)
class Param:
    """One searched setting. kind: "int" (values = inclusive (lo, hi)), "log_float" ((lo, hi),
    log scale) or "categorical" (values = choices). `choices` narrows the values given what was
    sampled before (heads by dim), `optuna_name` names the Optuna parameter (heads_dim<D>),
    `when` says whether the setting applies at all (tau for leaky neurons)."""

    name: str
    kind: str
    values: tuple
    choices: Callable[[tuple, dict[str, Any]], tuple] | None = None
    optuna_name: Callable[[dict[str, Any]], str] | None = None
    when: Callable[[dict[str, Any]], bool] | None = None

    def suggest(self, trial: Any, so_far: dict[str, Any]) -> Any:
        name = self.optuna_name(so_far) if self.optuna_name else self.name
        lo, hi = (self.values[0], self.values[-1])
        if self.kind == "int":
            return trial.suggest_int(name, lo, hi)
        if self.kind == "log_float":
            return trial.suggest_float(name, lo, hi, log=True) if lo < hi else float(lo)
        options = self.choices(self.values, so_far) if self.choices else self.values
        return trial.suggest_categorical(name, list(options))

    def pinned(self, value: Any) -> Param:
        return replace(self, values=(value, value) if self.kind != "categorical" else (value,))

    def size(self) -> float:
        if self.kind == "int":
            return self.values[1] - self.values[0] + 1
        if self.kind == "log_float":
            return 1 if self.values[0] == self.values[1] else float("inf")
        return len(self.values)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "values": list(self.values)}
        if self.optuna_name is not None:  # one Optuna parameter per value of a parent
            out["optuna_name"] = {"heads": "heads_dim<dim>"}.get(self.name, f"{self.name}_<family>")
        if self.choices is not None:
            out["only"] = {"heads": "divisors of dim"}.get(self.name, "the family's own values")
        if self.when is not None:
            out["only_for"] = leaky_neurons()
        return out


def _is_leaky(so_far: dict[str, Any]) -> bool:
    return NEURON.meta(so_far["neuron"]).get("leaky", False)


@dataclass(frozen=True)
class SearchSpace:
    """One named space: its params in sampling order, its dataset and shared fixed settings."""

    name: str
    dataset: str
    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)  # settings every trial shares
    note: str = ""

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def check(self) -> None:
        """Every part exists and every dim has at least one valid head count."""
        for p in self.params:
            if p.name in _PARTS:
                for value in p.values:
                    _PARTS[p.name].check(value)
        names = [p.name for p in self.params]
        if "dim" in names and "heads" in names:
            heads = self.param("heads").values
            for d in self.param("dim").values:
                if not _heads_for(heads, {"dim": d}):
                    raise ValueError(
                        f"Space '{self.name}': dim={d} has no divisor among heads {heads}; "
                        "add a head count that divides it."
                    )

    def pin(self, fixed: dict[str, Any]) -> SearchSpace:
        """The space with the params named in `fixed` (short keys) reduced to that one value,
        so a user's `dim=64` on the command line wins over the space."""
        params = tuple(p.pinned(fixed[p.name]) if p.name in fixed else p for p in self.params)
        space = replace(self, params=params)
        if "heads" in fixed and "dim" in [p.name for p in params]:
            dims = tuple(d for d in space.param("dim").values if d % fixed["heads"] == 0)
            if not dims:
                raise ValueError(
                    f"heads={fixed['heads']} divides none of the dims "
                    f"{space.param('dim').values} of space '{self.name}'; fix dim too or pick "
                    f"heads from {self.param('heads').values}."
                )
            space = replace(
                space,
                params=tuple(
                    replace(p, values=dims) if p.name == "dim" else p for p in space.params
                ),
            )
        space.check()
        return space

    def searched(self) -> list[str]:
        """The short keys this space varies (more than one possible value)."""
        out = []
        for p in self.params:
            size = p.size()
            if p.name == "heads":
                size = max(len(_heads_for(p.values, {"dim": d})) for d in self.param("dim").values)
            if p.when is not None and not set(self.param("neuron").values) & set(leaky_neurons()):
                size = 1
            if size > 1:
                out.append(p.name)
        return out

    def describe(self) -> dict[str, Any]:
        """JSON-able description (study.json)."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            **{p.name: p.describe() for p in self.params},
            "fixed": dict(self.fixed),
            "note": self.note,
        }


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Ask `trial` (optuna.Trial) for one point of `space`; return it as short-key overrides.
    A param with one choice is still suggested (Optuna records it as a fixed param), so every
    trial of a space has the same unconditional params."""
    out: dict[str, Any] = {}
    for p in space.params:
        if p.when is None or p.when(out):
            out[p.name] = p.suggest(trial, out)
    if "mlp_ratio" in out:
        out["mlp_ratio"] = float(out["mlp_ratio"])
    return out


def params_to_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """A finished trial's params -> the same short-key overrides `suggest` returned."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        conditional = [n for n in ("depth", "dim", "heads") if key.startswith(f"{n}_")]
        if conditional:  # heads_dim<D>, depth_<family>, ...: one setting under several names
            out[conditional[0]] = value
        else:
            out[key] = float(value) if key in ("mlp_ratio", "tau") else value
    return out


def architecture(
    depth: tuple[int, int],
    dims: tuple[int, ...],
    heads: tuple[int, ...],
    mlp_ratios: tuple[float, ...],
    T: tuple[int, ...],
    *,
    neurons: tuple[str, ...] = ("lif", "plif", "if"),
    tau: tuple[float, float] = (1.5, 4.0),
    attentions: tuple[str, ...] = (
        "ssa",
        "vsa",
        "vsa_float_v",
        "identity_map",
        "relu_map",
        "leakyrelu_map",
        "sdsa",
        "qk_token",
        "qk_channel",
    ),
    stems: tuple[str, ...] = ("sps", "sps_norpe", "sps_pool_first", "conv"),
    residuals: tuple[str, ...] = ("sew", "ms"),
) -> tuple[Param, ...]:
    """The params of a Spikformer-shaped space, in sampling order."""
    return (
        Param("depth", "int", depth),
        Param("dim", "categorical", dims),
        Param(
            "heads",
            "categorical",
            heads,
            choices=_heads_for,
            optuna_name=lambda s: heads_param(s["dim"]),
        ),
        Param("mlp_ratio", "categorical", mlp_ratios),
        Param("T", "categorical", T),
        Param("neuron", "categorical", neurons),
        Param("tau", "log_float", tau, when=_is_leaky),
        Param("attention", "categorical", attentions),
        Param("stem", "categorical", stems),
        Param("residual", "categorical", residuals),
    )


SPACES: dict[str, SearchSpace] = {}


def register_space(space: SearchSpace) -> SearchSpace:
    """Add a space (a plugin's own, naming its parts); a name is registered once."""
    if space.name in SPACES:
        raise ValueError(f"search space '{space.name}' is registered twice.")
    SPACES[space.name] = space
    return space


def get_space(name: str) -> SearchSpace:
    if name not in SPACES:
        raise UnknownNameError(unknown_choice_message("search space", name, list(SPACES)))
    return SPACES[name]


# CPU: one trial takes ~5-60 s on one core (5 epochs of the embedded 8x8 digits).
register_space(
    SearchSpace(
        "digits",
        "digits",
        architecture((1, 3), (16, 32, 48, 64), (1, 2, 4, 8), (1.0, 2.0, 4.0), (1, 2, 4)),
        fixed={"epochs": 5},
        note="CPU search on the embedded digits; 5 epochs per trial",
    )
)
# Around the paper's CIFAR models (4-384, 4-256, 2-384), paper protocol.
register_space(
    SearchSpace(
        "cifar",
        "cifar10",
        architecture(
            (2, 8), (192, 256, 384, 512), (4, 6, 8, 12, 16), (2.0, 3.0, 4.0), (1, 2, 4, 6)
        ),
        note="GPU; paper protocol (300 epochs) unless epochs= is given",
    )
)
# Around the paper's event models (2-256, T=16 frames).
register_space(
    SearchSpace(
        "dvs",
        "cifar10_dvs",
        architecture((1, 4), (128, 256, 384), (4, 8, 16), (2.0, 4.0), (8, 10, 16)),
        note="GPU; CIFAR10-DVS frames = T",
    )
)
# The paper's ImageNet sizes (8-384 .. 8-768).
register_space(
    SearchSpace(
        "imagenet",
        "imagenet",
        architecture((6, 10), (384, 512, 768), (8, 12, 16), (4.0,), (1, 2, 4)),
        note="GPU, several; paper protocol",
    )
)
