"""report.md of a study: the sections in order, the figure list, and how to read the numbers."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

from bench.files import write_text
from bench.report.compute import StudyStats, compute_stats
from bench.report.factorial_section import section_factorial
from bench.report.ladder_section import section_ladder
from bench.report.pairing import section_pairing
from bench.report.search_section import section_search
from bench.report.sections import (
    demo_note,
    section_budget,
    section_compared,
    section_environment,
    section_failures,
    section_protocol,
    section_results,
)
from bench.report.speed_section import section_speed
from bench.report.stats_section import section_mcnemar, section_pairwise, section_stats
from bench.results import Study, load_study, runs_frame

__all__ = ["FIGURE_ORDER", "REPORT_FILE", "write_report"]

REPORT_FILE = "report.md"

# Figure file prefix -> caption; also the order of the figure list (the paired differences
# first: they are the answer of an ablation).
FIGURE_ORDER = {
    "paired_differences": "paired differences, variant - baseline on each seed, with the 95% "
    "t-CI of the mean and the equivalence band",
    "seeds_": "per seed, with variant mean and 95% CI: ",
    "cliques_": "Wilcoxon-Holm cliques over mean ranks: ",
    "interaction_": "interaction plot (cell means and 95% t-CI): ",
    "learning_curves": "learning curves (mean and 95% CI band over seeds)",
    "accuracy_vs_energy": "accuracy vs energy with the Pareto front",
    "search_history": "optimisation history of the distinct configurations",
    "search_intermediate": "intermediate values per epoch (pruning)",
    "search_importance": "parameter importance",
    "search_pareto": "Pareto front of the trials",
}

_HONEST = """## How to read these numbers

- **Test accuracy is the final epoch's** (`test_acc_pct`): the result of the run as trained.
  Where the dataset has a validation split, the best epoch is chosen on validation
  (`best_val_acc_over_epochs_pct`, `test_acc_at_best_val_epoch_pct`);
  `best_test_acc_over_epochs_optimistic_pct` picks the best epoch *on the test set* and is
  therefore optimistic; it is shown for comparison with papers that report it, never as the
  result.
- **Energy** (`energy_paper_mj`, shown in uJ where below 0.1 mJ) is the *theoretical*
  operation energy per image by the Spikformer paper's convention (45 nm CMOS: 4.6 pJ per MAC,
  0.9 pJ per accumulate; SOPs = firing rate x T x dense operations, the first layer counted as
  MACs). It is not a measurement on hardware. `energy_strict_mj` also counts layers with
  non-binary inputs as MACs.
- **Throughput** (images/s) of the training runs is descriptive only: it depends on the machine
  and its load, so it gets no verdict. Speed verdicts come only from the controlled pass (Speed
  and memory), which times every variant in one process on one batch."""


def _caption(stem: str) -> str:
    for prefix, text in FIGURE_ORDER.items():
        if stem.startswith(prefix):
            return text + (stem[len(prefix) :] if prefix.endswith("_") else "")
    return stem


def _figure_rank(path: Path) -> tuple[int, str]:
    ranks = [i for i, prefix in enumerate(FIGURE_ORDER) if path.stem.startswith(prefix)]
    return (ranks[0] if ranks else len(FIGURE_ORDER), path.stem)


def section_figures(study: Study, plots: list[Path]) -> str:
    lines = ["## Figures", ""]
    if not plots:
        return "\n".join(lines + ["No figure could be drawn yet."])
    for p in sorted(plots, key=_figure_rank):
        rel = p.relative_to(study.path).as_posix()
        lines += [f"![{_caption(p.stem)}]({rel})", ""]
    return "\n".join(lines).rstrip()


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
    search = study.kind == "search"
    sections = [
        title,
        demo_note(study),
        section_compared(study, runs),
        section_protocol(study),
        None if search else section_budget(study, runs),
        section_results(study, runs),
        section_ladder(study),
        section_pairing(study),
        section_search(ostudy) if search else section_stats(study, result, runs),
        section_pairwise(study, result, runs),
        section_mcnemar(study, result),
        section_factorial(study, result, runs),
        section_speed(study),
        section_failures(study, runs),
        section_figures(study, plots),
        section_environment(study),
        _HONEST,
    ]
    return write_text(study.path / REPORT_FILE, "\n\n".join(s for s in sections if s) + "\n")
