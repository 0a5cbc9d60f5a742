"""Which metrics a study tests, their equivalence margins, and the units they are shown in.

Shared by the statistics, the report and the figures, so a table and a figure never disagree
on what was tested, at which margin, or in which unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from bench import stats
from bench.results import METRIC_LABELS, Study, stats_metrics

__all__ = [
    "ALPHA",
    "THROUGHPUT_NOTE",
    "Unit",
    "descriptive_only",
    "display_unit",
    "metric_label",
    "metric_margins",
    "tested_metrics",
]

ALPHA = 0.05

THROUGHPUT_NOTE = (
    "Throughput (images/s) is shown as a descriptive number only and gets no verdict: it was "
    "timed during training on a shared machine, so it follows the machine's load as much as "
    "the model (the same runs, bit-identical in accuracy, have timed 2-3x apart in two "
    "studies). A speed comparison needs a controlled timing pass (one process, fixed threads, "
    "warm-up, several rounds on the same input)."
)


def descriptive_only(metric: str) -> bool:
    """Throughputs are never tested (see THROUGHPUT_NOTE)."""
    return metric.endswith("_img_per_s")


def tested_metrics(study: Study) -> dict[str, bool]:
    """Runs-frame column -> higher_is_better of the metrics the statistics test: study.json's
    metrics (bench.results.stats_metrics) without the descriptive-only ones."""
    return {m: hib for m, hib in stats_metrics(study).items() if not descriptive_only(m)}


def metric_margins(study: Study, margins: Mapping[str, float] | None = None) -> dict[str, float]:
    """Equivalence margin (in the column's unit) of each tested metric: `margins`, else
    study.json's "margins", else bench.stats' default (+-1 point of accuracy; none, NaN, for
    other metrics)."""
    given = {**(study.meta.get("margins") or {}), **(margins or {})}
    return {m: stats.equivalence_margin(m, given) for m in tested_metrics(study)}


class Unit:
    """How a metric column is shown: values times `factor`, labelled with `name`.

    Energies are stored in mJ; a column whose values are all below 0.1 mJ is shown in uJ so that
    0.00121 mJ reads 1.21 uJ."""

    def __init__(self, metric: str, factor: float = 1.0, name: str | None = None) -> None:
        self.metric, self.factor, self.name = metric, factor, name

    def __call__(self, x: Any) -> float:
        try:
            return float(x) * self.factor
        except (TypeError, ValueError):
            return math.nan

    @property
    def header(self) -> str:
        """The column name with its shown unit, e.g. energy_paper_mj -> energy_paper (uJ)."""
        if self.factor == 1.0:
            return self.metric
        return f"{self.metric.removesuffix('_mj')} ({self.name})"


def display_unit(metric: str, values: Iterable[Any]) -> Unit:
    """uJ for an mJ column whose finite values all lie below 0.1 mJ, else the stored unit."""
    if not metric.endswith("_mj"):
        return Unit(metric)
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = np.abs(arr[np.isfinite(arr)])
    if arr.size and arr.max() < 0.1:
        return Unit(metric, 1e3, "uJ")
    return Unit(metric)


def metric_label(metric: str, unit: Unit | None = None) -> str:
    """Axis or legend label with its unit (bench.results.METRIC_LABELS), in the shown unit."""
    label = METRIC_LABELS.get(metric, metric)
    if unit is not None and unit.factor != 1.0:
        label = label.replace("(mJ)", f"({unit.name})")
    return label
