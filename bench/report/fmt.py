"""Number and table formatting shared by report.md and the LaTeX tables."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["distinct", "get", "markdown_table", "num", "p_text", "pm", "variant_name"]


def num(x: Any, digits: int = 4) -> str:
    """`digits` significant digits; large counts as integers with separators; n/a for NaN."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("+inf" if x > 0 else "-inf")
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def pm(mean: float, half: float) -> str:
    """mean ± half-width, the half-width to 2 significant digits and the mean to the same
    decimal place (more digits than the CI supports would be noise)."""
    if not math.isfinite(half) or not math.isfinite(mean):
        return num(mean)
    if half == 0:
        return f"{num(mean)} ± 0"
    decimals = min(12, max(0, 1 - math.floor(math.log10(abs(half)))))
    sep = "," if abs(mean) >= 1e4 else ""
    return f"{mean:{sep}.{decimals}f} ± {half:{sep}.{decimals}f}"


def p_text(x: Any) -> str:
    """A p-value or probability: 3 significant digits, scientific below 1e-3."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(x):
        return "n/a"
    return f"{x:.2e}" if 0 < x < 1e-3 else f"{x:.3g}"


def markdown_table(header: list[str], rows: Iterable[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def variant_name(v: Any, baseline: str | None) -> str:
    return f"{v} (baseline)" if v == baseline else str(v)


def distinct(values: Iterable[Any]) -> str:
    """The one value, or every value with its count of runs (most frequent first)."""
    counts = Counter("n/a" if v is None else str(v) for v in values)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{v} ({n} runs)" for v, n in counts.most_common())


def get(d: Any, path: tuple[str, ...]) -> Any:
    """d[path[0]][path[1]]..., None where a level is missing."""
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    return d
