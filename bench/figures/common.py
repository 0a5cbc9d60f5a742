"""Shared pieces of the figures: style, saving, variant ticks, colours, n in words.

Figures are built on `matplotlib.figure.Figure` (no pyplot state, no backend needed) inside
seaborn style contexts, so importing the package changes nobody's global matplotlib settings.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bench.files import atomic_write

__all__ = [
    "BASELINE_COLOR",
    "DPI",
    "PLOTS_DIR",
    "ROTATE_FROM",
    "complete",
    "n_text",
    "palette",
    "present",
    "save",
    "set_variant_ticks",
    "style",
    "variant_label",
]

DPI = 150
PLOTS_DIR = "plots"
BASELINE_COLOR = "0.2"
ROTATE_FROM = 6  # from this many variants on, tick labels are rotated
_WRAP = 16  # characters per tick-label line


@contextmanager
def style() -> Iterator[None]:
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        yield


def save(fig: Figure, path: Path) -> Path:
    """PNG written atomically and group-readable (bench.files)."""
    return atomic_write(
        path, lambda f: fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight"), binary=True
    )


def n_text(counts: Sequence[int], unit: str = "seeds") -> str:
    lo, hi = min(counts), max(counts)
    return f"n = {lo} {unit} per variant" if lo == hi else f"n = {lo}-{hi} {unit} per variant"


def variant_label(v: Any, baseline: str | None, width: int = _WRAP) -> str:
    """A variant as a tick label: wrapped at spaces, the baseline marked."""
    text = "\n".join(textwrap.wrap(str(v), width)) or str(v)
    return f"{text}\n(baseline)" if v == baseline else text


def set_variant_ticks(ax: Any, variants: Sequence[Any], baseline: str | None = None) -> None:
    """Variant names under positions 0..k-1, wrapped, and rotated from ROTATE_FROM on so that
    long names of many variants do not run into each other."""
    many = len(variants) >= ROTATE_FROM
    labels = [variant_label(v, baseline, 24 if many else _WRAP) for v in variants]
    ax.set_xticks(range(len(variants)), labels)
    if many:
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")


def palette(variants: Sequence[Any]) -> dict[Any, tuple[float, float, float]]:
    return dict(zip(variants, sns.color_palette("colorblind", len(variants)), strict=True))


def complete(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "complete"]


def present(order: Sequence[Any] | None, values: pd.Series) -> list[Any]:
    """`order` (all of `values` in first appearance when None), keeping those present."""
    have = set(values)
    return [v for v in (order if order is not None else pd.unique(values)) if v in have]
