"""report.md, stats.csv and the LaTeX tables of a study, from its tidy tables (bench.results)
and, for a search, its distinct trials. Statistics come from `bench.stats` only (computed once
per refresh in bench.report.compute); the other modules format.

Modules: compute (StudyStats: one Holm family per metric, McNemar, factorial), metrics (which
metrics are tested, margins, shown units), sections / stats_section / factorial_section /
pairing / search_section (the report's sections), write (report.md), latex (results.tex and
stats.tex), fmt (numbers and tables).
"""

from bench.report.compute import StudyStats, compute_stats, write_stats_csv
from bench.report.write import write_report

__all__ = ["StudyStats", "compute_stats", "write_report", "write_stats_csv"]
