"""Figures of a study, from its tidy tables, its statistics (bench.report.compute) and, for a
search, its distinct trials. Every figure says what n is, marks the baseline, and labels its
axes with units (energies in uJ where below 0.1 mJ).

Modules: common (style, saving, ticks), seeds (paired differences, per-seed values), curves
(learning curves), energy (accuracy vs energy, Pareto front), cliques (Wilcoxon-Holm cliques
over mean ranks), interaction (factorial cell means), search (history, intermediate values,
importance, Pareto), study (plot_study: all of them).
"""

from bench.figures.cliques import plot_cliques
from bench.figures.curves import plot_curves
from bench.figures.energy import pareto_front, plot_accuracy_energy
from bench.figures.interaction import plot_interaction
from bench.figures.search import plot_history, plot_intermediate, plot_search
from bench.figures.seeds import plot_paired_differences, plot_seeds
from bench.figures.study import plot_study

__all__ = [
    "pareto_front",
    "plot_accuracy_energy",
    "plot_cliques",
    "plot_curves",
    "plot_history",
    "plot_interaction",
    "plot_intermediate",
    "plot_paired_differences",
    "plot_search",
    "plot_seeds",
    "plot_study",
]
