"""A search's confirmation: its winners re-trained on fresh seeds against the dataset's default
config and the paper's parts at the winner's size, all at one budget, as an ablation study.

The search chose its winners on the validation split; the confirmation is the first and only
reader of the test split for them. Every compared model gets the dataset's own protocol (epochs,
schedule, batch) and the same seeds, so differences are not budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from bench.config import RunConfig, canonical_key, resolve
from bench.engine import check_fingerprint, storage_kind
from bench.objective import SearchPlan
from bench.plan import AblationPlan, decisive_seeds
from bench.records import records_location
from bench.runner import open_cells_study, run_cells, speed_pass_after, status_line
from bench.search_outputs import MAX_CONFIRMED, pick_confirmed, winners
from bench.studyfile import StudyFile
from search_spaces.spaces import params_to_overrides

__all__ = ["BASELINE_LABEL", "PAPER_PARTS_LABEL", "confirm_plan", "run_confirm"]

BASELINE_LABEL = "default config"  # the dataset's preset (paper model, or our CPU model)
PAPER_PARTS_LABEL = "paper parts at the winner's size"  # LIF, SSA, SPS, SEW at its depth/width
_PAPER_PARTS = {"neuron": "lif", "attention": "ssa", "stem": "sps", "residual": "sew"}
_SEARCH_ONLY = ("train.epochs",)  # a search's short per-trial budget: not the confirmation's


def _setting(cfg: RunConfig, key: str) -> Any:
    """A short key's value in a resolved config (model fields, or top-level such as preset)."""
    return getattr(cfg.model, key) if hasattr(cfg.model, key) else getattr(cfg, key)


def confirm_plan(
    chosen: list[optuna.trial.FrozenTrial], plan: SearchPlan, n_seeds: int | None
) -> AblationPlan | None:
    """The default config (baseline), the paper's parts at the first winner's size and each
    winner, on `n_seeds` seeds not used in the search (None: enough for a decisive verdict,
    `decisive_seeds`). None when no winner differs from the baseline."""
    fixed = {k: v for k, v in plan.fixed.items() if k != "seed" and k not in _SEARCH_ONLY}
    base_cfg = resolve(fixed)
    winners_ov = {t.number: params_to_overrides(t.params) for t in chosen}
    sized = {**winners_ov[chosen[0].number], **_PAPER_PARTS}
    sized.pop("tau", None)  # the paper's LIF keeps its tau
    if "preset" in sized:  # a family search: the paper's family at the winner's widths
        sized["preset"] = base_cfg.preset
    keys: list[str] = []
    for ov in [*winners_ov.values(), sized]:
        for k, v in ov.items():
            if _setting(base_cfg, k) != v and k not in keys:
                keys.append(k)
    if not keys:
        return None

    def values(ov: dict[str, Any]) -> dict[str, Any]:
        return {canonical_key(k): ov.get(k, _setting(base_cfg, k)) for k in keys}

    base = values({})
    variants = {BASELINE_LABEL: base}
    if values(sized) != base:
        variants[PAPER_PARTS_LABEL] = values(sized)
    for number, ov in winners_ov.items():
        if values(ov) not in variants.values():
            variants[f"search trial {number}"] = values(ov)
    train_seed = int(plan.fixed.get("seed", 0))
    n_seeds = n_seeds or decisive_seeds(len(variants))
    seeds = [s for s in range(n_seeds + 1) if s != train_seed][:n_seeds]
    return AblationPlan(variants, fixed, seeds, keys)


def run_confirm(
    ostudy: optuna.Study, plan: SearchPlan, n_seeds: int | None, results: Path, workers: int
) -> Path | None:
    """Train the confirmation (resuming one that started) and return its folder."""
    chosen = winners(ostudy)
    if len(ostudy.directions) > 1:
        chosen = pick_confirmed(chosen, MAX_CONFIRMED)
    if not chosen:
        print("No feasible trial finished: nothing to confirm.")
        return None
    cplan = confirm_plan(chosen, plan, n_seeds)
    if cplan is None:
        print("The best config is the default config itself: nothing to confirm.")
        return None
    name = f"{plan.study}-confirm"
    cdir = results / name
    cells = cplan.cells()
    first = cplan.first()
    budget = cplan.budget()
    print(
        f"Confirming {len(cplan.variants) - 1} config(s) vs the default config on seeds "
        f"{cplan.seeds} at {budget['epochs']} epochs each: {len(cells)} runs -> {cdir}/"
    )
    st = open_cells_study(name, plan.storage, cdir)
    info = StudyFile(
        kind="ablation",
        name=name,
        dataset=first.data.name,
        command=f"(confirmation of search {plan.study})",
        fixed=cplan.fixed,
        storage=storage_kind(plan.storage),
        metrics={"test_acc_pct": True, "energy_paper_mj": False, "sops_paper_m": False},
        baseline=cplan.baseline,
        sweep_keys=cplan.sweep_keys,
        variants=cplan.variants,
        seeds=cplan.seeds,
        runs={c.run_id: {"variant": c.variant, "seed": c.seed} for c in cells},
        search_study=plan.study,
        budget=budget,
        plugins=plan.plugins,
    )
    check_fingerprint(st, info.fingerprint)  # another machine's confirmation of this name
    info.merged_into(cdir / "study.json").write(cdir)
    artifacts = records_location(plan.storage is not None, plan.artifacts, cdir, st)
    run_cells(
        st,
        cells,
        cdir,
        plan.storage,
        workers,
        values=cplan.variants,
        plugins=plan.plugins,
        artifacts=artifacts,
    )
    speed_pass_after(st, cells, cdir)
    print(f"Confirmation: {status_line(st, cells)}")
    return cdir
