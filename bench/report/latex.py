"""results.tex and stats.tex of a study: the report's results table and its comparisons with
the baseline as booktabs tables (`\\usepackage{booktabs}`), every cell escaped.

Written by hand rather than with pandas' `to_latex`, which needs jinja2, a package the suite
does not depend on. The cells are the report's own (same rows, same rounding), so a paper's
table and report.md cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.files import write_text
from bench.report.compute import STATS_FILE, StudyStats, finished
from bench.report.metrics import Unit, display_unit, tested_metrics
from bench.report.sections import results_rows
from bench.report.stats_section import BASELINE_HEADER, baseline_rows
from bench.results import Study, load_study, runs_frame

__all__ = ["latex_escape", "latex_table", "write_latex"]

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "²": r"\textsuperscript{2}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(value: Any) -> str:
    """Text with LaTeX's special characters escaped (one pass, so escapes are not escaped)."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(value))


def latex_table(header: list[str], rows: list[list[Any]], *, caption: str, label: str) -> str:
    """A booktabs table: first column left-aligned, the others right-aligned."""
    spec = "l" + "r" * (len(header) - 1)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
        *(" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows),
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        r"\end{table}",
    ]
    return "% needs \\usepackage{booktabs}\n" + "\n".join(lines) + "\n"


def _label(study: Study, what: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-:" else "-" for ch in study.name)
    return f"tab:{safe}-{what}"


def _results_tex(study: Study, runs: pd.DataFrame) -> str:
    done = finished(runs)
    metrics = [m for m in tested_metrics(study) if m in done and done[m].notna().any()]
    metrics += [m for m in ("params",) if m in done and m not in metrics]
    header, rows, _ = results_rows(study, done, metrics) if metrics and len(done) else ([], [], "")
    if not rows:
        return f"% {study.name}: no finished run yet\n"
    caption = f"{study.name}: mean ± half-width of the 95% t-CI over seeds; n = finished seeds."
    return latex_table(header, rows, caption=caption, label=_label(study, "results"))


def _stats_tex(study: Study, table: pd.DataFrame, runs: pd.DataFrame) -> str:
    if table.empty:
        return f"% {study.name}: no comparison with a baseline\n"
    rows = []
    for metric in dict.fromkeys(table["metric"]):
        sub = table[table["metric"] == metric]
        unit = display_unit(metric, runs[metric]) if metric in runs else Unit(metric)
        rows += [[unit.header, *row] for row in baseline_rows(sub, unit)]
    caption = (
        f"{study.name}: each variant minus the baseline ({study.baseline}), paired by seed; "
        "exact Wilcoxon signed-rank and TOST p, Holm over all pairs of a metric; Bayesian "
        "signed-rank probabilities; four-way verdict."
    )
    return latex_table(
        ["metric", *BASELINE_HEADER], rows, caption=caption, label=_label(study, "stats")
    )


def write_latex(
    study_dir: Study | str | Path,
    *,
    runs: pd.DataFrame | None = None,
    result: StudyStats | None = None,
) -> dict[str, Path]:
    """Write <study>/results.tex and <study>/stats.tex; the comparisons come from `result`,
    else from the study's stats.csv (as the last refresh wrote it)."""
    study = study_dir if isinstance(study_dir, Study) else load_study(study_dir)
    runs = runs_frame(study) if runs is None else runs
    if result is not None:
        table = result.table
    elif (study.path / STATS_FILE).is_file():
        table = pd.read_csv(study.path / STATS_FILE)
    else:
        table = pd.DataFrame()
    return {
        "results.tex": write_text(study.path / "results.tex", _results_tex(study, runs)),
        "stats.tex": write_text(study.path / "stats.tex", _stats_tex(study, table, runs)),
    }
