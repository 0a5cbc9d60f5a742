"""Statistics of paired-seed studies.

Pure functions over a tidy runs table: one row per run with columns ``variant``, ``seed``,
``dataset`` (optional when there is a single dataset) and numeric metric columns. Seeds are
paired across variants (seed s fixes init, data order and augmentation for every variant), so
every comparison is on per-seed differences.

Wilcoxon convention (WILCOXON_CONVENTION, quoted by the report): zero differences are dropped
before ranking (``zero_method="wilcox"``, the default; ``"pratt"`` ranks them and gives them
no sign); tied |differences| get mid-ranks, and the p-value is exact at any n by enumerating
the sign-flip null distribution of the mid-rank sum (no normal approximation, no continuity
correction). ``wilcoxon_method`` records "exact" (no zeros or ties: scipy's exact
distribution), "exact-ties" (the enumeration) or "degenerate" (every difference zero: p = 1).
With n non-zero differences no two-sided p can go below 2 / 2**n, and Holm over m comparisons
raises that floor to m * 2 / 2**n: n = 5 can never reach p < 0.05, n = 6 can.

Modules: wilcoxon (the exact test), paired (Holm, t-CI, TOST, power, margins), bayes (Bayesian
signed-rank with ROPE), mcnemar (per-sample test on correctness vectors), family (one Holm
family per metric), verdict (four-way verdicts), compare (baseline and pairwise tables),
ranks and cliques (Friedman, Wilcoxon-Holm cliques, rank diagram), describe (summaries),
factorial (RM-ANOVA, ART, simple effects).

Effect sizes: d_z = mean difference / sd of differences; matched-pairs rank-biserial
r = (R+ - R-) / (sum of all ranks), +1 when every difference favours the variant's side.
"""

from __future__ import annotations

from bench.stats.bayes import (
    BAYES_PRIOR_STRENGTH,
    BAYES_SAMPLES,
    BayesSignedRank,
    bayes_signed_rank,
)
from bench.stats.cliques import critical_difference_diagram, maximal_cliques, wilcoxon_holm_cliques
from bench.stats.compare import (
    COMPARE_COLUMNS,
    PAIRWISE_COLUMNS,
    analyse,
    analyse_pairwise,
    compare_to_baseline,
    pairwise_wilcoxon_holm,
)
from bench.stats.describe import summarize
from bench.stats.factorial import (
    FACTORIAL_METHOD,
    art_anova,
    factorial_analysis,
    rm_anova,
    simple_effects,
)
from bench.stats.family import FAMILIES, build_family, family_pairs
from bench.stats.mcnemar import MCNEMAR_POOLING, mcnemar_exact, paired_correctness
from bench.stats.paired import (
    ACCURACY_MARGIN,
    TostResult,
    equivalence_margin,
    holm,
    metric_unit,
    paired_t,
    seeds_for_power,
    t_ci,
    tost_paired,
)
from bench.stats.ranks import friedman_test
from bench.stats.verdict import VERDICT_RULE
from bench.stats.wilcoxon import WilcoxonResult, min_possible_p, seeds_needed, wilcoxon_exact

WILCOXON_CONVENTION = (
    "Exact Wilcoxon signed-rank test, two-sided: zero differences are dropped before ranking "
    "(zero_method='wilcox'); tied |differences| get mid-ranks and the p-value comes from the "
    "exact sign-flip distribution of the mid-rank sum, enumerated at any n (no normal "
    "approximation); with n non-zero pairs no p can go below 2 / 2**n (m * 2 / 2**n after Holm "
    "over m comparisons)."
)

__all__ = [
    "ACCURACY_MARGIN",
    "BAYES_PRIOR_STRENGTH",
    "BAYES_SAMPLES",
    "COMPARE_COLUMNS",
    "FACTORIAL_METHOD",
    "FAMILIES",
    "MCNEMAR_POOLING",
    "PAIRWISE_COLUMNS",
    "VERDICT_RULE",
    "WILCOXON_CONVENTION",
    "BayesSignedRank",
    "TostResult",
    "WilcoxonResult",
    "analyse",
    "analyse_pairwise",
    "art_anova",
    "bayes_signed_rank",
    "build_family",
    "compare_to_baseline",
    "critical_difference_diagram",
    "equivalence_margin",
    "factorial_analysis",
    "family_pairs",
    "friedman_test",
    "holm",
    "maximal_cliques",
    "mcnemar_exact",
    "metric_unit",
    "min_possible_p",
    "paired_correctness",
    "paired_t",
    "pairwise_wilcoxon_holm",
    "rm_anova",
    "seeds_for_power",
    "seeds_needed",
    "simple_effects",
    "summarize",
    "t_ci",
    "tost_paired",
    "wilcoxon_exact",
    "wilcoxon_holm_cliques",
]
