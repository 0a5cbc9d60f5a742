"""Input checks and reshaping of the tidy runs table shared by the bench.stats modules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = [
    "check_columns",
    "check_unique",
    "complete_blocks",
    "datasets",
    "direction",
    "select_dataset",
    "wide",
]


def check_columns(
    runs: pd.DataFrame, metrics: Iterable[str], keys: Iterable[str] = ("variant", "seed")
) -> None:
    for col in keys:
        if col not in runs.columns:
            raise ValueError(
                f"the runs table has no {col!r} column; it needs one row per run with "
                f"{', '.join(map(repr, keys))} and metric columns."
            )
    for metric in metrics:
        if metric not in runs.columns:
            raise ValueError(
                f"metric column {metric!r} is not in the runs table "
                f"(columns: {', '.join(map(str, runs.columns))}); pass one of those."
            )


def select_dataset(runs: pd.DataFrame, dataset: str | None) -> tuple[pd.DataFrame, str | None]:
    """Rows of one dataset; with dataset=None the table must hold at most one dataset."""
    if "dataset" not in runs.columns:
        if dataset is not None:
            raise ValueError(
                f"dataset={dataset!r} was asked for but the runs table has no 'dataset' column."
            )
        return runs, None
    present = [d for d in pd.unique(runs["dataset"]) if pd.notna(d)]
    if dataset is None:
        if len(present) > 1:
            raise ValueError(
                f"the runs table holds several datasets ({', '.join(map(str, present))}); "
                f"pass dataset= one of them."
            )
        return runs, (present[0] if present else None)
    if dataset not in present:
        raise ValueError(
            f"dataset {dataset!r} has no runs (datasets present: "
            f"{', '.join(map(str, present)) or 'none'}); pass one of those."
        )
    return runs[runs["dataset"] == dataset], dataset


def check_unique(df: pd.DataFrame, keys: list[str], dataset: str | None) -> None:
    """One run per (keys) combination, e.g. per (variant, seed)."""
    dup = df.duplicated(subset=keys, keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        where = ", ".join(f"{k} {row[k]!r}" for k in keys)
        raise ValueError(
            f"dataset {dataset!r} has {int(dup.sum())} rows sharing a ({', '.join(keys)}), e.g. "
            f"{where}; keep one run per {' and '.join(keys)}."
        )


def wide(df: pd.DataFrame, metric: str, dataset: str | None) -> pd.DataFrame:
    """Seed x variant table of one metric; NaN where a run is missing or has no value."""
    check_unique(df, ["variant", "seed"], dataset)
    values = pd.to_numeric(df[metric], errors="coerce")
    table = df.assign(_value=values).pivot(index="seed", columns="variant", values="_value")
    # Order of first appearance, so tables follow the order the user listed the variants in.
    return table.reindex(columns=list(pd.unique(df["variant"]))).sort_index()


def complete_blocks(
    runs: pd.DataFrame, metric: str, dataset: str | None
) -> tuple[pd.DataFrame, str | None, list[Any]]:
    """Seed x variant values restricted to seeds that have a value for every variant."""
    check_columns(runs, [metric])
    df, ds = select_dataset(runs, dataset)
    table = wide(df, metric, ds)
    complete = table.notna().all(axis=1)
    return table[complete], ds, list(table.index[~complete])


def datasets(runs: pd.DataFrame) -> list[str | None]:
    if "dataset" not in runs.columns:
        return [None]
    return [d for d in pd.unique(runs["dataset"]) if pd.notna(d)]


def direction(higher_is_better: Mapping[str, bool], metric: str) -> bool:
    if metric not in higher_is_better:
        raise ValueError(
            f"higher_is_better has no entry for metric {metric!r}; add {metric!r}: True or False."
        )
    return bool(higher_is_better[metric])
