"""What a search leaves beside its report: trials.csv and best.json (one objective) or
pareto.json (several), from the study in its storage.

Every table counts each configuration once: trials answered from an earlier trial's result
(the sampler proposed a configuration already trained) and trials skipped over the budget are
left out, and so are trials outside a parameter or energy constraint when winners are chosen.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from bench.files import write_json
from bench.results import Study
from search_spaces.spaces import params_to_overrides

__all__ = ["MAX_CONFIRMED", "distinct_study", "pick_confirmed", "winners", "write_search_outputs"]

MAX_CONFIRMED = 3  # Pareto configs re-trained with seeds (each costs confirm-seeds runs)
_DROPPED = ("skipped", "duplicate_of")  # user attrs of trials that are not a distinct config


def distinct_trials(ostudy: optuna.Study) -> list[FrozenTrial]:
    return [
        t for t in ostudy.get_trials(deepcopy=False) if not any(k in t.user_attrs for k in _DROPPED)
    ]


def distinct_study(ostudy: optuna.Study) -> optuna.Study:
    """An in-memory copy holding each distinct configuration once (figures and importance)."""
    copy = optuna.create_study(directions=ostudy.directions, study_name=ostudy.study_name)
    copy.add_trials([t for t in distinct_trials(ostudy) if t.state != TrialState.WAITING])
    if ostudy.metric_names:
        with warnings.catch_warnings():  # experimental in Optuna 5, stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            copy.set_metric_names(ostudy.metric_names)
    return copy


def _feasible(t: FrozenTrial) -> bool:
    return all(v <= 0 for v in t.constraints.values())


def winners(ostudy: optuna.Study) -> list[FrozenTrial]:
    """The best feasible distinct trial, or the feasible Pareto set (Optuna's `best_trials`
    over the feasible ones, equal points once, best first objective first)."""
    feasible = [
        t for t in distinct_trials(ostudy) if t.state == TrialState.COMPLETE and _feasible(t)
    ]
    if not feasible:
        return []
    copy = optuna.create_study(directions=ostudy.directions)
    copy.add_trials(feasible)  # the copy numbers them 0..n-1 in this order
    if len(ostudy.directions) == 1:
        return [feasible[copy.best_trial.number]]  # ties: the earliest trial
    unique: dict[tuple[float, ...], FrozenTrial] = {}
    for t in sorted((feasible[b.number] for b in copy.best_trials), key=lambda t: t.number):
        unique.setdefault(tuple(t.values), t)
    maximize = ostudy.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return sorted(unique.values(), key=lambda t: t.values[0], reverse=maximize)


def pick_confirmed(front: list[FrozenTrial], k: int) -> list[FrozenTrial]:
    """Up to k configs spread along the front (its two ends and the middle)."""
    if len(front) <= k:
        return list(front)
    idx = sorted({round(i * (len(front) - 1) / (k - 1)) for i in range(k)})
    return [front[i] for i in idx]


def trials_frame(ostudy: optuna.Study) -> pd.DataFrame:
    """One row per distinct configuration (Optuna's `trials_dataframe` of the distinct copy)."""
    copy = distinct_study(ostudy)
    if not copy.trials:
        return pd.DataFrame(columns=["number", "state"])
    frame = copy.trials_dataframe(
        attrs=("number", "state", "values", "params", "user_attrs", "duration", "constraints")
    )
    frame = frame.drop(
        columns=[c for c in frame.columns if c in ("user_attrs_traceback", "user_attrs_overrides")]
    )
    frame["state"] = frame["state"].str.lower()
    if "duration" in frame:
        frame["duration_s"] = frame.pop("duration").dt.total_seconds()
    return frame


def ablate_command(meta: dict[str, Any], overrides: dict[str, Any]) -> str:
    """A ready `bench.ablate` line for a trial: its settings on top of the search's fixed ones,
    with the first setting where it differs from the default config swept (its value first,
    then the default's), on the confirmation's number of seeds."""
    short = {"data.name": "dataset"}
    fixed = {
        short.get(k, k.rsplit(".", 1)[-1]): v
        for k, v in (meta.get("fixed") or {}).items()
        if k not in ("seed", "train.epochs")
    }  # ablate pairs its own seeds and budget
    base = meta.get("baseline_config") or {}
    differ = [k for k, v in overrides.items() if k in base and base[k] != v]
    parts = [f"{k}={v}" for k, v in {**fixed, **overrides}.items() if not differ or k != differ[0]]
    if differ:
        parts.append(f"{differ[0]}={overrides[differ[0]]},{base[differ[0]]}")
    seeds = [f"seeds={meta['confirm_seeds']}"] if meta.get("confirm_seeds") else []
    return " ".join(["python -m bench.ablate", *parts, *seeds])  # else ablate's own default


def _entry(t: FrozenTrial, names: list[str]) -> dict[str, Any]:
    return {
        "trial": t.number,
        "values": dict(zip(names, t.values, strict=True)),
        "params": t.params,
        "overrides": params_to_overrides(t.params),
        "run_id": t.user_attrs.get("run_id"),
        "user_attrs": {k: v for k, v in t.user_attrs.items() if k != "traceback"},
    }


def _summary(frame: pd.DataFrame, epochs: int) -> dict[str, Any]:
    ran = frame[frame["state"].isin(["complete", "pruned"])] if len(frame) else frame
    if "user_attrs_infeasible" in ran:  # rejected by the parameter budget: not a pruning
        ran = ran[ran["user_attrs_infeasible"].isna()]
    full = len(ran) * epochs
    run = int(ran["user_attrs_epochs_run"].fillna(0).sum()) if "user_attrs_epochs_run" in ran else 0
    seconds = ran["user_attrs_seconds"] if "user_attrs_seconds" in ran else pd.Series(dtype=float)
    return {
        "distinct_configurations": int(len(frame)),
        "trials": {s: int(n) for s, n in frame["state"].value_counts().items()}
        if len(frame)
        else {},
        "epochs_run": run,
        "epochs_without_pruning": full,
        "epochs_saved_fraction": 1 - run / full if full else None,
        "mean_seconds_per_trial": float(seconds.mean()) if seconds.notna().any() else None,
    }


def write_search_outputs(study: Study, ostudy: optuna.Study) -> dict[str, Path]:
    """trials.csv and best.json / pareto.json of a search folder."""
    frame = trials_frame(ostudy)
    frame.to_csv(study.path / "trials.csv", index=False)
    written = {"trials.csv": study.path / "trials.csv"}
    names = ostudy.metric_names or [f"value_{i}" for i in range(len(ostudy.directions))]
    best = winners(ostudy)
    entries = [_entry(t, names) for t in best]
    for e in entries:
        e["ablate_command"] = ablate_command(study.meta, e["overrides"])
    out: dict[str, Any] = {
        "selected_on": "validation split (the test split is read only by the confirmation)",
        "summary": _summary(frame, int(study.meta.get("epochs") or 0)),
        "confirm_study": study.meta.get("confirm_study"),
    }
    if len(ostudy.directions) == 1:
        out.update(
            objective=names[0],
            direction=ostudy.direction.name.lower(),
            best=entries[0] if entries else None,
        )
        name = "best.json"
    else:
        out.update(
            objectives=names,
            directions=[d.name.lower() for d in ostudy.directions],
            pareto=entries,
            confirmed_trials=[t.number for t in pick_confirmed(best, MAX_CONFIRMED)],
        )
        name = "pareto.json"
    written[name] = write_json(study.path / name, out)
    return written
