"""report.md and stats.csv of a study, from its tidy tables (bench.results) and, for a search,
its distinct trials. Statistics come from `bench.stats` only; this module formats.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from bench import stats
from bench.results import (
    METRIC_LABELS,
    Study,
    load_study,
    runs_frame,
    stats_metrics,
)

__all__ = ["StudyStats", "compute_stats", "write_report", "write_stats_csv"]

log = logging.getLogger(__name__)

REPORT_FILE = "report.md"
STATS_FILE = "stats.csv"

# Extra columns of the per-variant table beyond the compared metrics (descriptive only).
_DESCRIPTIVE = [
    "best_test_acc_over_epochs_optimistic_pct",
    "energy_strict_mj",
    "mean_firing_rate",
    "params",
    "eval_img_per_s",
]
# Header of an empty stats.csv, so that it still parses as a table.
_STATS_HEADER = [
    "dataset",
    "metric",
    "variant",
    "baseline",
    "n",
    "n_dropped",
    "mean_baseline",
    "mean_variant",
    "diff",
    "ci_low",
    "ci_high",
    "p_wilcoxon",
    "p_wilcoxon_holm",
    "p_t",
    "p_t_holm",
    "d_z",
    "rank_biserial",
    "significant",
    "verdict",
]
_PROTOCOL = [
    ("preset", ("preset",)),
    ("epochs", ("train", "epochs")),
    ("batch size", ("train", "batch_size")),
    ("learning rate (peak)", ("train", "lr")),
    ("min lr", ("train", "min_lr")),
    ("warmup epochs", ("train", "warmup_epochs")),
    ("weight decay", ("train", "weight_decay")),
    ("label smoothing", ("train", "label_smoothing")),
    ("mixup / cutmix", ("train", "mixup")),
    ("amp", ("train", "amp")),
    ("depth x dim, heads", ("model", "depth")),
    ("time steps T", ("model", "T")),
    ("neuron", ("model", "neuron")),
    ("attention", ("model", "attention")),
    ("stem", ("model", "stem")),
]


@dataclass
class StudyStats:
    """Statistics of a study: the tidy table (stats.csv), Friedman and pairwise tables for
    k > 2, and why a metric could not be tested."""

    table: pd.DataFrame
    friedman: list[dict[str, Any]] = field(default_factory=list)
    pairwise: pd.DataFrame = field(default_factory=pd.DataFrame)
    skipped: dict[str, str] = field(default_factory=dict)


def _stats_input(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs only: a failed or pruned run has no result, and its seed drops out of the
    pairs (bench.stats reports it under n_dropped)."""
    return runs[runs["status"] == "complete"].reset_index(drop=True)


def compute_stats(study: Study, runs: pd.DataFrame | None = None) -> StudyStats:
    """bench.stats.analyse per metric (Holm families are per metric either way), so that a metric
    that cannot be tested (missing values, one variant) is skipped with its reason instead of
    sinking the rest. Search studies have no baseline and get no tests."""
    runs = runs_frame(study) if runs is None else runs
    complete = _stats_input(runs)
    out = StudyStats(pd.DataFrame(columns=_STATS_HEADER))
    metrics = stats_metrics(study)
    if study.kind != "ablation" or not study.baseline:
        out.skipped = {m: "a search has no baseline to compare with" for m in metrics}
        return out
    tables, pairwise = [], []
    for metric, hib in metrics.items():
        if metric not in runs.columns:
            out.skipped[metric] = f"no run records the metric {metric!r}"
            continue
        try:
            tables.append(stats.analyse(complete, study.baseline, [metric], {metric: hib}))
        except ValueError as err:
            out.skipped[metric] = str(err)
            continue
        if complete["variant"].nunique() > 2:
            try:
                out.friedman.append(stats.friedman_test(complete, metric, higher_is_better=hib))
                pairwise.append(stats.analyse_pairwise(complete, [metric]))
            except ValueError as err:
                out.skipped[f"{metric} (Friedman)"] = str(err)
    if tables:
        out.table = pd.concat(tables, ignore_index=True)
    if pairwise:
        out.pairwise = pd.concat(pairwise, ignore_index=True)
    return out


def write_stats_csv(study_dir: Study | str | Path, result: StudyStats | None = None) -> Path:
    """Write stats.csv: one row per (dataset, metric, variant vs baseline), bench.stats columns."""
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    result = compute_stats(study) if result is None else result
    path = study.path / STATS_FILE
    result.table.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------- format


def _num(x: Any) -> str:
    """4 significant digits; large counts as integers with separators."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("+inf" if x > 0 else "-inf")
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _pm(mean: float, half: float) -> str:
    """mean ± half-width, the half-width to 2 significant digits and the mean to the same
    decimal place (more digits than the CI supports would be noise)."""
    if not math.isfinite(half) or not math.isfinite(mean):
        return _num(mean)
    if half == 0:
        return f"{_num(mean)} ± 0"
    decimals = min(12, max(0, 1 - math.floor(math.log10(abs(half)))))
    sep = "," if abs(mean) >= 1e4 else ""
    return f"{mean:{sep}.{decimals}f} ± {half:{sep}.{decimals}f}"


def _p(x: Any) -> str:
    x = float(x)
    return "n/a" if math.isnan(x) else (f"{x:.2e}" if 0 < x < 1e-3 else f"{x:.3g}")


def _table(header: list[str], rows: Iterable[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _variant_name(v: str, baseline: str | None) -> str:
    return f"{v} (baseline)" if v == baseline else str(v)


def _short_verdict(row: pd.Series) -> str:
    if row["min_possible_p_holm"] >= 0.05:
        return "no verdict (n too small)"
    if not row["significant"]:
        return "no significant difference"
    better = (row["diff"] > 0) == bool(row["higher_is_better"])
    return "better" if better else "worse"


def _distinct(values: Iterable[Any]) -> str:
    counts = Counter("n/a" if v is None else str(v) for v in values)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{v} ({n} runs)" for v, n in counts.most_common())


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    return d


# --------------------------------------------------------------------------------------- sections


def _section_compared(study: Study, runs: pd.DataFrame) -> str:
    meta = study.meta
    variants = meta.get("variants") or {}
    status = Counter(runs["status"])
    lines = [
        "## What was compared",
        "",
        f"- kind: {study.kind}; dataset: `{study.dataset or _distinct(runs['dataset'])}`",
    ]
    if study.kind == "ablation":
        lines.append(f"- baseline: `{study.baseline}`")
        lines.append(
            f"- seeds: {', '.join(map(str, study.seeds))} (n = {len(study.seeds)}; "
            "seed s fixes init, data order and augmentation for every variant)"
        )
        lines.append("- variants:")
        for label, overrides in variants.items():
            ov = ", ".join(f"`{k}={v}`" for k, v in (overrides or {}).items()) or "no overrides"
            lines.append(f"  - `{label}`{' (baseline)' if label == study.baseline else ''}: {ov}")
    fixed = meta.get("fixed") or {}
    if fixed:
        lines.append("- fixed settings: " + ", ".join(f"`{k}={v}`" for k, v in fixed.items()))
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
    lines.append(
        f"- runs: {len(runs)} recorded"
        + (f" ({by_status})" if by_status else "")
        + f", {len(study.missing)} not run yet"
        + (
            f", {len(study.ignored)} record(s) ignored as not part of this study"
            if study.ignored
            else ""
        )
    )
    if meta.get("created"):
        lines.append(f"- created: {meta['created']}")
    if meta.get("command"):
        lines += ["", "Command:", "", "```", str(meta["command"]), "```"]
    return "\n".join(lines)


def _section_protocol(study: Study) -> str:
    recs = [r for r in study.records if r.get("config")]
    if not recs:
        return "## Protocol\n\nNo run record holds a config yet."
    rows = []
    for name, path in _PROTOCOL:
        if name == "depth x dim, heads":
            vals = [
                f"{_get(r['config'], ('model', 'depth'))} x "
                f"{_get(r['config'], ('model', 'dim'))}, "
                f"{_get(r['config'], ('model', 'heads'))} heads"
                for r in recs
            ]
        elif name == "mixup / cutmix":
            vals = [
                f"{_get(r['config'], ('train', 'mixup'))} / "
                f"{_get(r['config'], ('train', 'cutmix'))}"
                for r in recs
            ]
        else:
            vals = [_get(r["config"], path) for r in recs]
        rows.append([name, _distinct(vals)])
    data = [r.get("data") or {} for r in recs]
    rows.append(
        [
            "train / test samples",
            _distinct(f"{d.get('train_size')} / {d.get('test_size')}" for d in data),
        ]
    )
    rows.append(["split", _distinct(d.get("split") for d in data)])
    return "\n".join(
        [
            "## Protocol",
            "",
            f"From the configs of the {len(recs)} recorded runs (a value that differs between runs "
            "is listed with its count).",
            "",
            _table(["setting", "value"], rows),
        ]
    )


def _summary_metrics(study: Study, runs: pd.DataFrame) -> list[str]:
    wanted = list(stats_metrics(study)) + _DESCRIPTIVE
    have = [m for m in dict.fromkeys(wanted) if m in runs.columns]
    done = _stats_input(runs)
    return [m for m in have if done[m].notna().any()]


def _section_summary(study: Study, runs: pd.DataFrame) -> str:
    done = _stats_input(runs)
    metrics = _summary_metrics(study, runs)
    if study.kind == "search":  # one run per trial: the best trials below, all in runs.csv
        return (
            f"## Results\n\n{len(done)} finished runs, one per trial, are in `runs.csv`; "
            "the best trials are listed below."
        )
    if done.empty or not metrics:
        return "## Results\n\nNo finished run yet."
    summary = stats.summarize(done, metrics, by=["variant"])
    order = [v for v in study.variants if v in set(done["variant"])]
    rows = []
    for v in order:
        s = summary[summary["variant"] == v].set_index("metric")
        row: list[Any] = [_variant_name(v, study.baseline), int(s["n"].max())]
        for m in metrics:
            mean, lo, hi = s.loc[m, "mean"], s.loc[m, "ci_low"], s.loc[m, "ci_high"]
            row.append(_pm(mean, (hi - lo) / 2))
        rows.append(row)
    legend = "; ".join(f"`{m}`: {_label(m)}" for m in metrics)
    return "\n".join(
        [
            "## Results",
            "",
            "Mean ± half-width of the 95% t-confidence interval over seeds (finished runs only); "
            "n = number of finished seeds.",
            "",
            _table(["variant", "n", *metrics], rows),
            "",
            f"Columns: {legend}.",
        ]
    )


def _section_stats(study: Study, result: StudyStats) -> str:
    parts = ["## Statistics against the baseline", ""]
    if study.kind != "ablation":
        return "\n".join(parts + ["A search has no baseline; see the search figures below."])
    parts.append(
        "Paired by seed: exact Wilcoxon signed-rank test and paired t-test of variant - "
        f"baseline (`{study.baseline}`), both Holm-corrected over the variants of a metric; "
        "mean difference with its 95% t-CI; effect sizes d_z (mean / sd of the differences) "
        "and matched-pairs rank-biserial r. The verdict follows the Wilcoxon-Holm p at 0.05."
    )
    table = result.table
    for metric in dict.fromkeys(table["metric"]) if len(table) else []:
        sub = table[table["metric"] == metric]
        hib = bool(sub["higher_is_better"].iloc[0])
        rows = [
            [
                r["variant"],
                r["n"],
                f"{_num(r['diff'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]",
                _p(r["p_wilcoxon_holm"]),
                _p(r["p_t_holm"]),
                _num(r["d_z"]),
                _num(r["rank_biserial"]),
                _short_verdict(r),
            ]
            for _, r in sub.iterrows()
        ]
        parts += [
            "",
            f"### {metric} ({_label(metric)}; {'higher' if hib else 'lower'} is better)",
            "",
            _table(
                [
                    "variant",
                    "n pairs",
                    "diff [95% CI]",
                    "p Wilcoxon (Holm)",
                    "p t (Holm)",
                    "d_z",
                    "rank-biserial",
                    "verdict",
                ],
                rows,
            ),
            "",
            *[f"- {v}" for v in sub["verdict"]],
        ]
        dropped = sub[sub["n_dropped"] > 0]
        for _, r in dropped.iterrows():
            parts.append(
                f"- {r['variant']}: seed(s) {r['dropped_seeds']} dropped "
                "(no finished run for both it and the baseline)."
            )
    for metric, reason in result.skipped.items():
        parts += ["", f"{metric}: not tested: {reason}"]
    if result.friedman:
        rows = [
            [
                f["metric"],
                f["k"],
                f["n_blocks"],
                _num(f["statistic"]),
                _p(f["p"]),
                ", ".join(
                    f"{v} {_num(r)}"
                    for v, r in sorted(f["mean_ranks"].items(), key=lambda kv: kv[1])
                ),
            ]
            for f in result.friedman
        ]
        parts += [
            "",
            "### Friedman test (all variants, k > 2)",
            "",
            "Blocks are the seeds finished for every variant; mean rank 1 = best.",
            "",
            _table(["metric", "k", "n seeds", "chi-square", "p", "mean ranks"], rows),
        ]
        if len(result.pairwise):
            rows = [
                [
                    r["metric"],
                    r["variant_a"],
                    r["variant_b"],
                    _num(r["diff"]),
                    _p(r["p_wilcoxon_holm"]),
                    "yes" if r["significant"] else "no",
                ]
                for _, r in result.pairwise.iterrows()
            ]
            parts += [
                "",
                "Pairwise Wilcoxon signed-rank, Holm over all pairs of a metric (the bars of "
                "the critical-difference diagrams):",
                "",
                _table(["metric", "a", "b", "mean a - b", "p Wilcoxon (Holm)", "p < 0.05"], rows),
            ]
    return "\n".join(parts)


def _section_search(ostudy: optuna.Study | None) -> str:
    """The best distinct configurations of a search (Pareto-optimal ones when there are several
    objectives), chosen on validation accuracy."""
    lines = ["## Best trials", ""]
    if ostudy is None:
        return "\n".join(lines + ["The study storage holds no Optuna study for this folder."])
    done = [t for t in ostudy.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return "\n".join(lines + ["No trial has finished yet."])
    names = ostudy.metric_names or [f"objective {i}" for i in range(len(ostudy.directions))]
    if len(ostudy.directions) > 1:
        best, what = ostudy.best_trials, "Pareto-optimal configurations"
    else:
        maximize = ostudy.direction == optuna.study.StudyDirection.MAXIMIZE
        best = sorted(done, key=lambda t: (-t.value if maximize else t.value, t.number))[:10]
        what = f"the {len(best)} best configurations ({'max' if maximize else 'min'}imised)"
    params = sorted({p for t in best for p in t.params})
    rows = [
        [t.number, *(_num(v) for v in t.values), *(_num(t.params.get(p)) for p in params)]
        for t in best
    ]
    counts = Counter(t.state.name.lower() for t in ostudy.trials)
    lines += [
        f"{len(ostudy.trials)} distinct configurations ("
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"), each counted once; {what}, selected on the validation split:",
        "",
        _table(["trial", *names, *params], rows),
    ]
    return "\n".join(lines)


def _section_failures(study: Study, runs: pd.DataFrame) -> str:
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
        lines.append(
            "- not run yet: "
            + "; ".join(
                f"`{v}` seed(s) {', '.join(map(str, seeds))}" for v, seeds in by_variant.items()
            )
        )
    for path in study.ignored:
        lines.append(f"- ignored record (not part of this study): `{path.relative_to(study.path)}`")
    lines += ["", "These runs are left out of the results and the statistics."]
    return "\n".join(lines)


_CAPTIONS = {
    "seeds_": "per seed, with variant mean and 95% CI: ",
    "learning_curves": "learning curves (mean and 95% CI band over seeds)",
    "accuracy_vs_energy": "accuracy vs energy with the Pareto front",
    "cd_": "critical-difference diagram: ",
    "search_history": "optimisation history",
    "search_importance": "parameter importance",
    "search_pareto": "Pareto front of the trials",
    "search_intermediate": "intermediate values (pruning)",
}


def _section_figures(study: Study, plots: list[Path]) -> str:
    lines = ["## Figures", ""]
    if not plots:
        return "\n".join(lines + ["No figure could be drawn yet."])
    for p in plots:
        stem = p.stem
        caption = stem
        for prefix, text in _CAPTIONS.items():
            if stem.startswith(prefix):
                caption = text + (stem[len(prefix) :] if prefix.endswith("_") else "")
        rel = p.relative_to(study.path).as_posix()
        lines += [f"![{caption}]({rel})", ""]
    return "\n".join(lines).rstrip()


def _section_environment(study: Study) -> str:
    recs = study.records
    if not recs:
        return "## Environment\n\nNo run records."
    versions = sorted({k for r in recs for k in (r.get("versions") or {})})
    rows = [
        ["device", _distinct(r.get("device") for r in recs)],
        ["processes (world size)", _distinct(r.get("world_size") for r in recs)],
    ]
    rows += [[k, _distinct((r.get("versions") or {}).get(k) for r in recs)] for k in versions]
    note = ""
    if any(str((r.get("versions") or {}).get("git_commit", "")).endswith("+dirty") for r in recs):
        note = (
            "\n\nA commit marked `+dirty` had uncommitted changes when the run started; "
            "that code cannot be checked out again exactly."
        )
    return "## Environment\n\n" + _table(["", "values (runs)"], rows) + note


_HONEST = """## How to read these numbers

- **Test accuracy is the final epoch's** (`test_acc_pct`): the result of the run as trained.
  `best_test_acc_over_epochs_optimistic_pct` picks the best epoch *on the test set* and is
  therefore optimistic; it is shown for comparison with papers that report it, never as the
  result.
- **Energy** (`energy_paper_mj`) is the *theoretical* operation energy per image by the Spikformer
  paper's convention (45 nm CMOS: 4.6 pJ per MAC, 0.9 pJ per accumulate; SOPs = firing rate x
  T x dense operations, the first layer counted as MACs). It is not a measurement on hardware.
  `energy_strict_mj` also counts layers with non-binary inputs as MACs.
- Throughput (images/s) depends on the machine and its load; compare it only between runs on the
  same device (see Environment)."""


def write_report(
    study_dir: Study | str | Path,
    *,
    runs: pd.DataFrame | None = None,
    result: StudyStats | None = None,
    plots: list[Path] | None = None,
    ostudy: optuna.Study | None = None,
) -> Path:
    """Write <study>/report.md from the stored runs; the frames, statistics and figure paths are
    computed when not given (figures: the PNGs already in plots/)."""
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    runs = runs_frame(study) if runs is None else runs
    result = compute_stats(study, runs) if result is None else result
    if plots is None:
        plots = sorted((study.path / "plots").glob("*.png"))
    sweep = ", ".join(study.sweep_keys)
    title = f"# {study.name}" + (f": {sweep} on {study.dataset}" if sweep else "")
    sections = [
        title,
        _section_compared(study, runs),
        _section_protocol(study),
        _section_summary(study, runs),
        _section_search(ostudy) if study.kind == "search" else _section_stats(study, result),
        _section_failures(study, runs),
        _section_figures(study, plots),
        _section_environment(study),
        _HONEST,
    ]
    path = study.path / REPORT_FILE
    path.write_text("\n\n".join(sections) + "\n")
    return path
