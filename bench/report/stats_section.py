"""The statistics sections of report.md: the baseline table of each metric's Holm family, the
same family's pairwise table and cliques, and McNemar on the per-sample correctness vectors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bench import stats
from bench.report.compute import StudyStats
from bench.report.fmt import markdown_table, num, p_text
from bench.report.metrics import ALPHA, Unit, descriptive_only, display_unit, metric_label
from bench.results import Study, stats_metrics
from bench.stats.wilcoxon import seeds_needed

__all__ = [
    "BASELINE_HEADER",
    "baseline_rows",
    "section_mcnemar",
    "section_pairwise",
    "section_stats",
    "short_verdict",
]


def short_verdict(row: pd.Series | dict[str, Any]) -> str:
    """The four-way verdict for a table cell; inconclusive says the seeds it would need (for
    80% power against the observed effect, and no fewer than the family's Wilcoxon floor)."""
    cls = str(row["verdict_class"])
    if cls != "inconclusive":
        return cls
    n = row["seeds_for_power"]
    if not math.isfinite(n):
        return "inconclusive"
    # and at least the seeds with which the exact Wilcoxon test can reach p_holm < alpha at all
    n = max(int(n), seeds_needed(ALPHA, int(row.get("family_size", 1) or 1)))
    return f"inconclusive (needs {n} seeds)"


def _ci(row: pd.Series, unit: Unit, lo: str = "ci_low", hi: str = "ci_high") -> str:
    return f"{num(unit(row['diff']))} [{num(unit(row[lo]))}, {num(unit(row[hi]))}]"


def _margin_text(margin: float, unit: Unit) -> str:
    if not math.isfinite(margin):
        return "no equivalence margin set (verdict better, worse or inconclusive)"
    name = unit.name or ("points" if unit.metric.endswith("_pct") else "")
    return f"equivalence margin ±{num(unit(margin))} {name}".rstrip()


def _intro(study: Study, result: StudyStats) -> list[str]:
    k = len({*result.table["variant"], study.baseline}) if len(result.table) else 0
    m = k * (k - 1) // 2
    pairs = "the one pair" if m == 1 else f"all {m} pairs"
    untested = [m for m in stats_metrics(study) if descriptive_only(m)]
    lines = [
        f"Paired by seed: each comparison is on the per-seed differences variant - baseline "
        f"(`{study.baseline}`), with their mean and 95% t-CI.",
        "",
        f"- **Test**: {stats.WILCOXON_CONVENTION}",
        f"- **One Holm family per metric**: {pairs} of the {k} variants (bench.stats' "
        "all-pairs family); the baseline table, the pairwise table and the clique diagram are "
        "views of these same tests, so they cannot give one pair two verdicts.",
        f"- **Verdict**: {stats.VERDICT_RULE} A test that is not significant is never read as "
        "'no difference': it is inconclusive unless TOST shows equivalence.",
        "- **Bayesian signed-rank test** (Benavoli et al. 2017; Dirichlet-process prior of "
        f"strength {stats.BAYES_PRIOR_STRENGTH}, ROPE = the equivalence margin): P(variant "
        "better) / P(practically equivalent) / P(baseline better).",
    ]
    if untested:
        lines.append(
            f"- Not tested: {', '.join(f'`{u}`' for u in untested)} (descriptive only, see "
            "Results)."
        )
    return lines


BASELINE_HEADER = [
    "variant",
    "n pairs",
    "diff [95% CI]",
    "p Wilcoxon (Holm)",
    "p t (Holm)",
    "p TOST (Holm)",
    "P(better / equiv. / worse)",
    "d_z",
    "verdict",
]


def baseline_rows(sub: pd.DataFrame, unit: Unit) -> list[list[Any]]:
    """Rows (BASELINE_HEADER) of one metric's comparisons with the baseline, in `unit`."""
    bayes = ("p_bayes_variant_better", "p_bayes_equivalent", "p_bayes_baseline_better")
    return [
        [
            r["variant"],
            int(r["n"]),
            _ci(r, unit),
            p_text(r["p_wilcoxon_holm"]),
            p_text(r["p_t_holm"]),
            p_text(r["p_tost_holm"]),
            " / ".join(p_text(r[c]) for c in bayes),
            num(r["d_z"], 3),
            short_verdict(r),
        ]
        for _, r in sub.iterrows()
    ]


def section_stats(study: Study, result: StudyStats, runs: pd.DataFrame) -> str:
    parts = ["## Statistics against the baseline", ""]
    if study.kind != "ablation":
        return "\n".join(parts + ["A search has no baseline; see the search figures below."])
    table = result.table
    if len(table):
        parts += _intro(study, result)
    for metric in dict.fromkeys(table["metric"]) if len(table) else []:
        sub = table[table["metric"] == metric]
        hib = bool(sub["higher_is_better"].iloc[0])
        unit = display_unit(metric, runs[metric]) if metric in runs else Unit(metric)
        margin = float(sub["margin"].iloc[0])
        parts += [
            "",
            f"### {metric} ({metric_label(metric, unit)}; {'higher' if hib else 'lower'} is "
            f"better; {_margin_text(margin, unit)})",
            "",
            markdown_table(BASELINE_HEADER, baseline_rows(sub, unit)),
            "",
            *[f"- {v}" for v in sub["verdict"]],
        ]
        if unit.factor != 1.0:
            parts.append(f"- (The sentences give {metric} in its stored unit, mJ.)")
        for _, r in sub[sub["n_dropped"] > 0].iterrows():
            parts.append(
                f"- {r['variant']}: seed(s) {r['dropped_seeds']} dropped (no finished run for "
                "both it and the baseline)."
            )
    for what, reason in result.skipped.items():
        if "factorial" not in what:
            parts += ["", f"{what}: not tested: {reason}"]
    return "\n".join(parts)


def _agreement(result: StudyStats, baseline: str) -> str:
    """Says whether the pairwise rows with the baseline equal the baseline table (they are the
    same family, so a difference would be a bug, and is then said plainly)."""
    pw = result.pairwise[result.pairwise["variant_b"] == baseline]
    merged = pw.merge(
        result.table,
        left_on=["metric", "variant_a"],
        right_on=["metric", "variant"],
        suffixes=("_pw", ""),
    )
    same = np.allclose(merged["p_wilcoxon_holm_pw"], merged["p_wilcoxon_holm"], equal_nan=True)
    same &= bool((merged["verdict_class_pw"] == merged["verdict_class"]).all())
    if same and len(merged) == len(pw):
        return (
            f"Its {len(pw)} rows with the baseline are the rows of the tables above (same p "
            "and verdict: checked)."
        )
    return (
        "Warning: rows with the baseline differ from the tables above although both should "
        "be one family; trust neither and report this as a bug."
    )


def _clique_text(cl: dict[str, Any]) -> str:
    groups = [" ~ ".join(c["members"]) for c in cl["cliques"]]
    return "; ".join(groups) if groups else "none: every pair differs"


def section_pairwise(study: Study, result: StudyStats, runs: pd.DataFrame) -> str:
    """Every pair of the family, and the Wilcoxon-Holm cliques over mean ranks (k > 2)."""
    pw = result.pairwise
    if study.kind != "ablation" or pw.empty:
        return ""
    parts = [
        "## All pairs and Wilcoxon-Holm cliques",
        "",
        "Every pair of variants, from the same Holm family per metric as the tables above. "
        + _agreement(result, str(study.baseline)),
        "",
    ]
    units = {m: display_unit(m, runs[m]) for m in pd.unique(pw["metric"]) if m in runs}
    rows = [
        [
            units.get(r["metric"], Unit(r["metric"])).header,
            r["variant_a"],
            r["variant_b"],
            _ci(r, units.get(r["metric"], Unit(r["metric"]))),
            p_text(r["p_wilcoxon_holm"]),
            p_text(r["p_tost_holm"]),
            short_verdict(r),
        ]
        for _, r in pw.iterrows()
    ]
    header = ["metric", "a", "b", "a - b [95% CI]", "p Wilcoxon (Holm)", "p TOST (Holm)", "verdict"]
    parts.append(markdown_table(header, rows))
    if result.cliques:
        parts += [
            "",
            "Mean within-seed ranks (1 = best) over the seeds finished by every variant, the "
            "Friedman test, and the cliques: maximal groups in which no pair differs "
            f"(Wilcoxon-Holm p >= {ALPHA:g}); these are the bars of the clique diagrams.",
            "",
        ]
        crow = []
        for metric, cl in result.cliques.items():
            ties = {v for t in cl["ties"] for v in t}
            ranks = ", ".join(
                f"{v} {num(r, 3)}{' (tied)' if v in ties else ''}"
                for v, r in cl["mean_ranks"].items()
            )
            crow.append([metric, cl["n_blocks"], p_text(cl["friedman_p"]), ranks, _clique_text(cl)])
        parts.append(
            markdown_table(["metric", "n seeds", "Friedman p", "mean ranks", "cliques"], crow)
        )
    return "\n".join(parts)


def section_mcnemar(study: Study, result: StudyStats) -> str:
    """Exact McNemar per seed and pooled on the stored per-sample correctness vectors."""
    if study.kind != "ablation":
        return ""
    head = ["## Per-sample test: exact McNemar on the correctness vectors", ""]
    mc = result.mcnemar
    if mc.empty:
        reason = result.skipped.get("McNemar", "no correctness vectors")
        return "\n".join(head + [f"Not computed: {reason}."])
    rows = []
    for v, g in mc.groupby("variant", sort=False):
        pooled = g[g["scope"] == "pooled"].iloc[0]
        seeds = g[g["scope"] == "seed"]
        per_seed = ", ".join(
            f"{s}: {p_text(p)}" for s, p in zip(seeds["seed"], seeds["p_mcnemar"], strict=True)
        )
        rows.append(
            [
                v,
                f"{int(pooled['n_samples'])} ({len(seeds)} seeds)",
                int(pooled["only_baseline"]),
                int(pooled["only_variant"]),
                p_text(pooled["p_mcnemar"]),
                p_text(pooled["p_mcnemar_holm"]),
                per_seed,
            ]
        )
    header = [
        "variant",
        "test samples",
        "only baseline right",
        "only variant right",
        "p pooled",
        "p pooled (Holm)",
        "p per seed",
    ]
    return "\n".join(
        head
        + [
            "For each seed the test samples that exactly one of the two models classifies "
            "correctly (final epoch) are counted; the exact binomial test asks whether they split "
            f"evenly. Pooled: {stats.MCNEMAR_POOLING}. Holm over the variants against the "
            "baseline. This test treats the test images as the random draw and ignores "
            "seed-to-seed training variance, so it complements the verdicts above and never "
            "decides them.",
            "",
            markdown_table(header, rows),
        ]
    )
