"""Report sections that describe a study: what was compared, protocol, budget, results,
failures, environment, and how to read the numbers."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from typing import Any

import pandas as pd

from bench import stats
from bench.config import resolve
from bench.report.compute import finished
from bench.report.fmt import distinct, get, markdown_table, num, pm, variant_name
from bench.report.metrics import (
    THROUGHPUT_NOTE,
    Unit,
    descriptive_only,
    display_unit,
    metric_label,
    tested_metrics,
)
from bench.results import Study
from bench.training.environment import PACKAGES

__all__ = [
    "demo_note",
    "section_budget",
    "section_compared",
    "section_environment",
    "section_failures",
    "section_protocol",
    "section_results",
    "results_rows",
]

# Columns shown beside the tested metrics, never tested.
DESCRIPTIVE = [
    "val_acc_pct",
    "best_val_acc_over_epochs_pct",
    "test_acc_at_best_val_epoch_pct",
    "best_test_acc_over_epochs_optimistic_pct",
    "energy_strict_mj",
    "mean_firing_rate",
    "params",
    "train_img_per_s",
    "eval_img_per_s",
]
_PROTOCOL = [
    ("epochs", ("train", "epochs")),
    ("cool-down epochs", ("train", "cooldown_epochs")),
    ("batch size", ("train", "batch_size")),
    ("learning rate (peak)", ("train", "lr")),
    ("min lr", ("train", "min_lr")),
    ("warmup epochs", ("train", "warmup_epochs")),
    ("weight decay", ("train", "weight_decay")),
    ("label smoothing", ("train", "label_smoothing")),
    ("amp", ("train", "amp")),
    ("augment (setting)", ("data", "augment")),
    ("time steps T", ("model", "T")),
    ("neuron", ("model", "neuron")),
    ("attention", ("model", "attention")),
    ("stem", ("model", "stem")),
    ("residual", ("model", "residual")),
]
_NOT_OVERRIDES = {"data.root", "data.workers", "data.name", "seed", "device", "preset"}
_VERSION_ORDER = ["python", *PACKAGES]
DIGITS = ("digits", "digits16")


def demo_note(study: Study) -> str | None:
    """The sentence every digits report carries."""
    if (study.dataset or "") not in DIGITS:
        return None
    return (
        "**CPU demonstration:** these runs train small models for a few epochs on scikit-learn's "
        "8x8 handwritten digits (1,797 images); they show how the suite works and what its "
        "statistics say, not a paper-scale result on CIFAR, ImageNet or neuromorphic data."
    )


def section_compared(study: Study, runs: pd.DataFrame) -> str:
    meta = study.meta
    lines = [
        "## What was compared",
        "",
        f"- kind: {study.kind}; dataset: `{study.dataset or distinct(runs['dataset'])}`",
    ]
    if meta.get("search_study"):
        lines.append(f"- confirmation of the search `{meta['search_study']}`")
    if study.kind == "ablation":
        lines.append(f"- baseline: `{study.baseline}`")
        lines.append(
            f"- seeds: {', '.join(map(str, study.seeds))} (n = {len(study.seeds)}; "
            "seed s fixes init, data order and augmentation for every variant)"
        )
        lines.append("- variants:")
        for label, overrides in (meta.get("variants") or {}).items():
            ov = ", ".join(f"`{k}={v}`" for k, v in (overrides or {}).items()) or "no overrides"
            lines.append(f"  - `{label}`{' (baseline)' if label == study.baseline else ''}: {ov}")
    if meta.get("fixed"):
        lines.append(
            "- fixed settings: " + ", ".join(f"`{k}={v}`" for k, v in meta["fixed"].items())
        )
    if meta.get("plugins"):
        lines.append("- plugin modules: " + ", ".join(f"`{p}`" for p in meta["plugins"]))
    status = ", ".join(f"{n} {s}" for s, n in sorted(Counter(runs["status"]).items()))
    ignored = f", {len(study.ignored)} record(s) ignored as not part of this study"
    lines.append(
        f"- runs: {len(runs)} recorded"
        + (f" ({status})" if status else "")
        + f", {len(study.missing)} not run yet"
        + (ignored if study.ignored else "")
    )
    if meta.get("created"):
        lines.append(f"- created: {meta['created']}")
    if meta.get("command"):
        lines += ["", "Command:", "", "```", str(meta["command"]), "```"]
    return "\n".join(lines)


@lru_cache(maxsize=32)
def _preset_config(dataset: str, preset: str) -> dict[str, Any] | None:
    try:  # through JSON, as records store it (tuples become lists)
        return json.loads(json.dumps(resolve({"data.name": dataset, "preset": preset}).to_dict()))
    except ValueError:  # a preset or dataset this installation does not know (a plugin's)
        return None


def _flat(cfg: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{sec}.{k}": v
        for sec in ("model", "data", "train")
        for k, v in (cfg.get(sec) or {}).items()
        if f"{sec}.{k}" not in _NOT_OVERRIDES
    }


def preset_text(recs: list[dict[str, Any]]) -> str:
    """'digits-2-32 (overridden: train.epochs=3, model.attention=ssa/vsa)': every setting in
    which some run differs from its preset and the dataset's protocol."""
    presets = distinct(get(r["config"], ("preset",)) for r in recs)
    changed: set[str] = set()
    values: dict[str, list[Any]] = {}
    for rec in recs:
        cfg = rec["config"]
        base = _preset_config(str(get(cfg, ("data", "name"))), str(cfg.get("preset")))
        if base is None:
            continue
        ref, own = _flat(base), _flat(cfg)
        changed |= {k for k, v in own.items() if k in ref and ref[k] != v}
        for key, value in own.items():
            if value not in values.setdefault(key, []):
                values[key].append(value)
    if not changed:
        return presets
    keys = [k for k in values if k in changed]  # config order: model, data, train
    parts = ", ".join(f"{k}={_values_text(values[k])}" for k in keys)
    return f"{presets} (overridden: {parts})"


def _values_text(values: list[Any], most: int = 8) -> str:
    """'ssa/vsa'; a searched number with many values as its range ('49 values in [1.51, 3.95]')."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if numbers and len(values) > most:
        return f"{len(values)} values in [{min(values):.3g}, {max(values):.3g}]"
    return "/".join(map(str, values))


def section_protocol(study: Study) -> str:
    recs = [r for r in study.records if r.get("config")]
    if not recs:
        return "## Protocol\n\nNo run record holds a config yet."
    rows = [["preset", preset_text(recs)]]
    rows.append(
        [
            "depth x dim, heads",
            distinct(
                f"{get(r['config'], ('model', 'depth'))} x {get(r['config'], ('model', 'dim'))}, "
                f"{get(r['config'], ('model', 'heads'))} heads"
                for r in recs
            ),
        ]
    )
    rows += [[name, distinct(get(r["config"], path) for r in recs)] for name, path in _PROTOCOL]
    data = [r.get("data") or {} for r in recs]
    sizes = (
        f"{d.get('train_size')} / {d.get('val_size', 'none')} / {d.get('test_size')}" for d in data
    )
    rows.append(["train / validation / test samples", distinct(sizes)])
    rows.append(["split", distinct(d.get("split") for d in data)])
    return "\n".join(
        [
            "## Protocol",
            "",
            f"From the configs of the {len(recs)} recorded runs (a value that differs between runs "
            "is listed with its count).",
            "",
            markdown_table(["setting", "value"], rows),
        ]
    )


def _schedule(cfg: dict[str, Any]) -> str:
    t = cfg.get("train") or {}
    return (
        f"cosine {num(t.get('lr'))} -> {num(t.get('min_lr'))}, "
        f"{t.get('warmup_epochs')} warm-up epoch(s)"
    )


def _budget_rows(study: Study, runs: pd.DataFrame) -> list[list[Any]]:
    done = finished(runs)
    by_run = {r["run_id"]: r for r in study.records if r.get("config")}
    energy = display_unit("energy_paper_mj", done.get("energy_paper_mj", []))
    rows = []
    for v in [v for v in study.variants if v in set(done["variant"])]:
        d = done[done["variant"] == v]
        cfgs = [by_run[i]["config"] for i in d["run_id"] if i in by_run]
        t = [c.get("train") or {} for c in cfgs]
        row: list[Any] = [variant_name(v, study.baseline)]
        row.append(distinct(x.get("epochs", 0) + x.get("cooldown_epochs", 0) for x in t))
        row.append(distinct(_schedule(c) for c in cfgs))
        row.append(distinct(x.get("batch_size") for x in t))
        row.append(f"{len(d)}: {', '.join(map(str, sorted(d['seed'].dropna())))}")
        row.append(distinct(num(p) for p in d["params"]))
        for unit in (Unit("test_acc_pct"), energy):
            s = stats.summarize(d, [unit.metric], by=["variant"]).iloc[0]
            row.append(pm(unit(s["mean"]), unit((s["ci_high"] - s["ci_low"]) / 2)))
        rows.append(row)
    return rows


def section_budget(study: Study, runs: pd.DataFrame) -> str:
    """Epochs, schedule, batch and seeds of every compared model, beside its parameter count,
    accuracy and energy: a gap between models that got different budgets is not their design."""
    lines = ["## Budget and models", ""]
    needed = {"test_acc_pct", "energy_paper_mj", "params"}
    rows = _budget_rows(study, runs) if needed <= set(runs.columns) else []
    if not rows:
        return "\n".join(lines + ["No finished run yet."])
    energy = display_unit("energy_paper_mj", finished(runs)["energy_paper_mj"])
    header = [
        "variant",
        "epochs",
        "schedule",
        "batch",
        "seeds (finished)",
        "parameters",
        "test_acc_pct",
        energy.header,
    ]
    same = all(len({str(r[i]) for r in rows}) == 1 for i in (1, 2, 3))
    seeds = ", ".join(map(str, study.seeds)) or "as listed"
    verdict = (
        f"Every model got the same budget: the same epochs, schedule and batch size, on the "
        f"same seeds ({seeds})."
        if same
        else "The budgets differ between models (see the table): part of any gap is budget."
    )
    if len({r[4] for r in rows}) > 1:
        verdict += " Not every run finished (see the failed runs below)."
    stated = study.meta.get("budget") or {}
    if stated:
        verdict += (
            " Budget set by the study: " + ", ".join(f"{k}={v}" for k, v in stated.items()) + "."
        )
    return "\n".join(
        lines
        + [
            verdict,
            "",
            markdown_table(header, rows),
            "",
            "Accuracy and energy: mean ± half-width of the 95% t-CI over the finished seeds.",
        ]
    )


def results_rows(
    study: Study, done: pd.DataFrame, metrics: list[str]
) -> tuple[list[str], list[list[Any]], str]:
    """(header, rows, legend) of the per-variant table: mean ± 95% t-CI half-width of each
    metric in its shown unit."""
    summary = stats.summarize(done, metrics, by=["variant"])
    units = {m: display_unit(m, done[m]) for m in metrics}
    rows = []
    for v in [v for v in study.variants if v in set(done["variant"])]:
        s = summary[summary["variant"] == v].set_index("metric")
        row: list[Any] = [variant_name(v, study.baseline), int(s["n"].max())]
        for m in metrics:
            u = units[m]
            row.append(pm(u(s.loc[m, "mean"]), u((s.loc[m, "ci_high"] - s.loc[m, "ci_low"]) / 2)))
        rows.append(row)
    legend = "; ".join(f"`{units[m].header}`: {metric_label(m, units[m])}" for m in metrics)
    return ["variant", "n", *(units[m].header for m in metrics)], rows, legend


def _results_table(study: Study, done: pd.DataFrame, metrics: list[str]) -> str:
    header, rows, legend = results_rows(study, done, metrics)
    return markdown_table(header, rows) + f"\n\nColumns: {legend}."


def section_results(study: Study, runs: pd.DataFrame) -> str:
    done = finished(runs)
    if study.kind == "search":  # one run per trial: the best trials below, all in runs.csv
        return (
            f"## Results\n\n{len(done)} finished runs, one per trial, are in `runs.csv`; "
            "the best trials are listed below."
        )
    have = [m for m in runs.columns if m in done and done[m].notna().any()]
    tested = [m for m in tested_metrics(study) if m in have]
    extra = [m for m in DESCRIPTIVE if m in have and m not in tested]
    if done.empty or not (tested or extra):
        return "## Results\n\nNo finished run yet."
    parts = [
        "## Results",
        "",
        "Mean ± half-width of the 95% t-confidence interval over seeds (finished runs only); "
        "n = number of finished seeds.",
    ]
    if tested:
        parts += ["", "Compared metrics (tested below):", "", _results_table(study, done, tested)]
    if extra:
        parts += ["", "Descriptive columns (not tested):", "", _results_table(study, done, extra)]
    if any(descriptive_only(m) for m in extra):
        parts += ["", THROUGHPUT_NOTE]
    return "\n".join(parts)


def section_failures(study: Study, runs: pd.DataFrame) -> str:
    bad = runs[runs["status"] != "complete"]
    lines = ["## Failed, unfinished and missing runs", ""]
    if bad.empty and not study.missing and not study.ignored:
        return "\n".join(lines + ["None: every run of the study finished."])
    for _, r in bad.iterrows():
        error = str(r["error"]).strip().splitlines()[0] if isinstance(r["error"], str) else ""
        lines.append(
            f"- `{r['variant']}` seed {r['seed']} (run `{r['run_id']}`): "
            f"{r['status']}{': ' + error if error else ''}"
        )
    if study.missing:
        by_variant: dict[str, list[int]] = {}
        for v, seed in study.missing:
            by_variant.setdefault(v, []).append(seed)
        missing = "; ".join(
            f"`{v}` seed(s) {', '.join(map(str, s))}" for v, s in by_variant.items()
        )
        lines.append(f"- not run yet: {missing}")
    for path in study.ignored:
        lines.append(f"- ignored record (not part of this study): `{path.relative_to(study.path)}`")
    lines += ["", "These runs are left out of the results and the statistics."]
    return "\n".join(lines)


def section_environment(study: Study) -> str:
    """Device and every package version, as the records hold them (never assumed)."""
    recs = study.records
    if not recs:
        return "## Environment\n\nNo run records."
    held = {k for r in recs for k in (r.get("versions") or {})}
    order = [k for k in _VERSION_ORDER if k in held]
    order += sorted(held - set(order) - {"git_commit"}) + (
        ["git_commit"] if "git_commit" in held else []
    )
    rows = [
        ["device", distinct(r.get("device") for r in recs)],
        ["processes (world size)", distinct(r.get("world_size") for r in recs)],
    ]
    rows += [
        [k, distinct((r.get("versions") or {}).get(k, "not recorded") for r in recs)] for k in order
    ]
    note = ""
    if any(str((r.get("versions") or {}).get("git_commit", "")).endswith("+dirty") for r in recs):
        note = (
            "\n\nA commit marked `+dirty` had uncommitted changes to tracked source when the run "
            "started; that code cannot be checked out again exactly."
        )
    return (
        "## Environment\n\nVersions as each run record stores them.\n\n"
        + markdown_table(["", "values (runs)"], rows)
        + note
    )
