"""An ablation's plan: `key=a,b` overrides -> variants x seeds -> cells for the engine's queue.

Several sweeps form a Cartesian product; the first value of each swept key is the baseline.
Every (variant, seed) is resolved here, so a bad value fails before anything is written or run.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from typing import Any

from bench.config import ConfigError, RunConfig, parse_overrides, resolve
from bench.stats.wilcoxon import min_possible_p, seeds_needed
from components.registry import unknown_choice_message
from search_spaces.ablations import ABLATIONS

__all__ = [
    "DEFAULT_SEEDS",
    "AblationPlan",
    "Cell",
    "apply_ablation_preset",
    "decisive_seeds",
    "expand",
    "undecidable_note",
]

# Seeds of a two-variant ablation when none are given: the fewest pairs with which the exact
# Wilcoxon test can reach p < 0.05 at all (2 / 2**6 = 0.031). More variants get more, below.
DEFAULT_SEEDS = 6
ALPHA = 0.05  # the verdicts' level (bench.stats)


def decisive_seeds(n_variants: int, least: int = DEFAULT_SEEDS) -> int:
    """The seeds at which any pair of `n_variants` can be called better or worse: the exact
    Wilcoxon test, Holm over the family of all k(k-1)/2 pairs, can reach p < 0.05 (3 variants:
    7, 4: 8, 6: 10); at least `least`."""
    pairs = max(1, n_variants * (n_variants - 1) // 2)
    return max(least, seeds_needed(ALPHA, pairs))


def undecidable_note(n_variants: int, n_seeds: int) -> str | None:
    """A warning when `n_seeds` are too few for any better/worse verdict among the variants."""
    pairs = max(1, n_variants * (n_variants - 1) // 2)
    if min_possible_p(n_seeds, pairs) < ALPHA:
        return None
    return (
        f"note: with {n_seeds} seeds no pair can be called better or worse (the exact Wilcoxon "
        f"test, Holm over {pairs} pair(s), cannot go below p = "
        f"{min_possible_p(n_seeds, pairs):.3g}); seeds={decisive_seeds(n_variants, 1)} or more "
        "make it possible."
    )


@dataclass(frozen=True)
class Cell:
    """One (variant, seed) of a study: the engine queues {"run_id", "config"} dicts of it."""

    run_id: str
    variant: str
    seed: int
    run: RunConfig

    def payload(self, study: str) -> dict[str, Any]:
        config = {"run": self.run.to_dict(), "variant": self.variant, "seed": self.seed}
        return {"run_id": self.run_id, "config": {**config, "study": study}}


@dataclass(frozen=True)
class AblationPlan:
    variants: dict[str, dict[str, Any]]  # label -> canonical overrides of the swept keys
    fixed: dict[str, Any]  # canonical key -> value, the same for every run
    seeds: list[int]
    sweep_keys: list[str]  # short names, in the order given

    @property
    def baseline(self) -> str:
        return next(iter(self.variants))

    def cells(self) -> list[Cell]:
        out = []
        for label, values in self.variants.items():
            for seed in self.seeds:
                cfg = resolve({**self.fixed, **values, "seed": seed})
                out.append(Cell(cfg.run_id, label, seed, cfg))
        return out

    def first(self) -> RunConfig:
        """The baseline's config (seed 0): dataset, preset and protocol of the whole study."""
        return resolve({**self.fixed, **next(iter(self.variants.values()))})

    def budget(self) -> dict[str, Any]:
        """What every compared model gets (the baseline's protocol; variants that sweep a
        training setting say so in their own label)."""
        cfg = self.first()
        t = cfg.train
        return {
            "protocol": cfg.protocol,
            "epochs": t.epochs + t.cooldown_epochs,
            "schedule": f"cosine over {t.epochs}, warm-up {t.warmup_epochs}, cooldown "
            f"{t.cooldown_epochs}",
            "batch_size": t.batch_size,
            "lr": t.lr,
        }

    def default_name(self) -> str:
        """'digits-attention-ssa-vsa'; fixed settings add a short hash (two studies with other
        fixed settings never share a folder), and a long grid keeps only its keys."""
        sweeps: dict[str, list[str]] = {}
        for values in self.variants.values():
            for key, value in values.items():
                short = key.split(".")[-1]
                if str(value) not in sweeps.setdefault(short, []):
                    sweeps[short].append(str(value))
        name = "-".join(
            [self.first().data.name] + [f"{k}-{'-'.join(v)}" for k, v in sweeps.items()]
        )
        if len(name) > 60:
            digest = hashlib.sha1(name.encode()).hexdigest()[:6]
            name = "-".join([self.first().data.name, *sweeps, digest])
        fixed = {k: v for k, v in self.fixed.items() if k != "data.name"}
        if fixed:
            blob = ",".join(f"{k}={fixed[k]}" for k in sorted(fixed))
            name += "-" + hashlib.sha1(blob.encode()).hexdigest()[:6]
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def variant_label(values: dict[str, Any]) -> str:
    """{'model.attention': 'vsa', 'model.T': 2} -> 'attention=vsa T=2'."""
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())


def _seeds(values: list[Any]) -> list[int]:
    seeds = list(range(values[0])) if len(values) == 1 and isinstance(values[0], int) else values
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(
            "seeds must be a count (seeds=6) or a list of non-negative integers (seeds=0,1,2)."
        )
    if len(set(seeds)) != len(seeds):
        raise ConfigError("seeds lists a seed twice: give each seed once.")
    return seeds


def expand(args: list[str], default_seeds: int = DEFAULT_SEEDS) -> AblationPlan:
    """Overrides -> the plan; every mistake is a ConfigError with one sentence."""
    parsed = parse_overrides(apply_ablation_preset(args))
    given = parsed.pop("seeds", None)
    seeds = _seeds(given) if given is not None else None
    if "seed" in parsed:
        raise ConfigError("seed= fixes one seed; an ablation pairs several: use seeds=N.")
    sweeps = {k: v for k, v in parsed.items() if len(v) > 1}
    if not sweeps:
        raise ConfigError(
            "Nothing to compare: sweep at least one setting with two values, "
            "for example attention=ssa,vsa."
        )
    for key, values in sweeps.items():
        if len(set(map(str, values))) != len(values):
            raise ConfigError(f"{key} lists a value twice: give each value once.")
    variants = {}
    for combo in itertools.product(*sweeps.values()):
        values = dict(zip(sweeps, combo, strict=True))
        variants[variant_label(values)] = values
    fixed = {k: v[0] for k, v in parsed.items() if len(v) == 1}
    if seeds is None:
        seeds = list(range(decisive_seeds(len(variants), default_seeds)))
    return AblationPlan(variants, fixed, seeds, [k.split(".")[-1] for k in sweeps])


def apply_ablation_preset(args: list[str]) -> list[str]:
    """`ablation=NAME` expands into the preset's sweeps and fixed settings; the user's own
    settings win."""
    named = [a for a in args if a.startswith("ablation=")]
    if not named:
        return args
    name = named[0].partition("=")[2]
    if name not in ABLATIONS:
        raise ConfigError(unknown_choice_message("ablation", name, list(ABLATIONS)))
    preset = ABLATIONS[name]
    given = {a.partition("=")[0] for a in args if a not in named}
    out = [f"{k}={','.join(map(str, v))}" for k, v in preset.sweeps.items() if k not in given]
    out += [f"{k}={v}" for k, v in preset.fixed.items() if k not in given]
    return out + [a for a in args if a not in named]
