"""The factorial section of report.md: with two or more swept keys crossed, an n-way
repeated-measures ANOVA and the aligned rank transform (main effects and interactions), and the
simple effects of each key within each level of the others."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench import stats
from bench.report.compute import StudyStats
from bench.report.fmt import markdown_table, num, p_text
from bench.report.metrics import ALPHA, Unit, display_unit, metric_label
from bench.results import Study

__all__ = ["section_factorial"]


def _anova_table(fa: dict[str, Any]) -> str:
    art = fa["art"].set_index("effect")
    rows = [
        [
            r["effect"],
            f"{int(r['df'])}, {int(r['df_error'])}",
            num(r["F"], 3),
            p_text(r["p"]),
            p_text(r["p_gg"]),
            num(r["partial_eta_sq"], 3),
            num(art.loc[r["effect"], "F"], 3),
            p_text(art.loc[r["effect"], "p"]),
        ]
        for _, r in fa["anova"].iterrows()
    ]
    header = [
        "effect",
        "df (effect, error)",
        "F",
        "p",
        "p (Greenhouse-Geisser)",
        "partial eta²",
        "ART F",
        "ART p",
    ]
    return markdown_table(header, rows)


def _interaction_text(fa: dict[str, Any]) -> list[str]:
    art = fa["art"].set_index("effect")
    lines = []
    for _, r in fa["anova"].iterrows():
        if ":" not in r["effect"]:
            continue
        keys = r["effect"].split(":")
        p_art = art.loc[r["effect"], "p"]
        both = r["p"] < ALPHA and p_art < ALPHA
        either = r["p"] < ALPHA or p_art < ALPHA
        if both:
            what = f"the effect of {keys[0]} depends on {' and '.join(keys[1:])}"
        elif either:
            what = "the two analyses disagree; read the simple effects"
        else:
            what = "no interaction shown (not evidence that there is none)"
        lines.append(
            f"- interaction {' x '.join(keys)}: RM-ANOVA p = {p_text(r['p'])}, ART p = "
            f"{p_text(p_art)}: {what}."
        )
    return lines


def _simple_table(fa: dict[str, Any], unit: Unit) -> str:
    rows = [
        [
            r["factor"],
            r["within"],
            f"{r['level']} - {r['reference']}",
            int(r["n"]),
            f"{num(unit(r['diff']))} [{num(unit(r['ci_low']))}, {num(unit(r['ci_high']))}]",
            p_text(r["p_wilcoxon_holm"]),
            p_text(r["p_t_holm"]),
            p_text(r["slice_p"]),
        ]
        for _, r in fa["simple_effects"].iterrows()
    ]
    header = [
        "key",
        "within",
        "levels",
        "n",
        "diff [95% CI]",
        "p Wilcoxon (Holm)",
        "p t (Holm)",
        "slice RM-ANOVA p",
    ]
    return markdown_table(header, rows)


def _metric_part(metric: str, fa: dict[str, Any], runs: pd.DataFrame) -> list[str]:
    unit = display_unit(metric, runs[metric]) if metric in runs else Unit(metric)
    levels = " x ".join(f"{k} ({', '.join(map(str, v))})" for k, v in fa["levels"].items())
    dropped = (
        f"; seeds {', '.join(map(str, fa['dropped_subjects']))} left out (missing a cell)"
        if fa["dropped_subjects"]
        else ""
    )
    return [
        "",
        f"### {metric} ({metric_label(metric, unit)})",
        "",
        f"{levels}; n = {len(fa['subjects'])} seeds{dropped}.",
        "",
        _anova_table(fa),
        "",
        *_interaction_text(fa),
        "",
        "Simple effects: each key's levels compared within each level of the other keys, "
        "paired by seed (Holm over the rows of a key):",
        "",
        _simple_table(fa, unit),
    ]


def section_factorial(study: Study, result: StudyStats, runs: pd.DataFrame) -> str:
    if not result.factorial:
        why = result.skipped.get("factorial analysis")
        if why and len(study.sweep_keys) >= 2:
            return f"## Factorial analysis\n\nNot computed: {why}."
        return ""
    parts = [
        "## Factorial analysis",
        "",
        f"The swept keys ({', '.join(study.sweep_keys)}) are crossed, so the variants are "
        "analysed as a factorial design rather than as unrelated variants: "
        f"{stats.FACTORIAL_METHOD}. An interaction means the effect of one key depends on "
        "the level of another; the interaction plots draw the cell means.",
    ]
    for metric, fa in result.factorial.items():
        parts += _metric_part(metric, fa, runs)
    for what, reason in result.skipped.items():
        if "(factorial)" in what:
            parts += ["", f"{what}: not analysed: {reason}"]
    return "\n".join(parts)
