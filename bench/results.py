"""Read a study folder (study.json + run records) into tidy tables.

A study folder, written by `bench.ablate` or `bench.search`::

    results/<study>/study.json              what was compared (variants, seeds, baseline, ...)
    results/<study>/runs/<run_id>/record.json  one record per run (bench.train format)

`load_study` reads both; `runs_frame` makes one row per run with metrics in display units
(accuracy in %, energy in mJ, SOPs in millions); `curves_frame` holds the per-epoch curves in long
format. Downstream (stats, plots, report) reads only these frames, never the raw records.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.studyfile import STUDY_FILE, read_study_file

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_LABELS",
    "Study",
    "StudyError",
    "curves_frame",
    "ladder_of",
    "load_study",
    "metric_column",
    "runs_frame",
    "stats_metrics",
    "write_runs_csv",
]

log = logging.getLogger(__name__)

RECORD_FILE = "record.json"

# Record metric -> (runs-frame column, factor): the frame holds display units, and the column
# name says which unit, so nobody has to guess whether 0.97 or 97 is an accuracy.
_CONVERSIONS: dict[str, tuple[str, float]] = {
    "test_acc": ("test_acc_pct", 100.0),
    "best_test_acc_over_epochs_optimistic": ("best_test_acc_over_epochs_optimistic_pct", 100.0),
    "val_acc": ("val_acc_pct", 100.0),
    "best_val_acc_over_epochs": ("best_val_acc_over_epochs_pct", 100.0),
    "best_val_epoch": ("best_val_epoch", 1.0),
    "test_acc_at_best_val_epoch": ("test_acc_at_best_val_epoch_pct", 100.0),
    "energy_paper_j": ("energy_paper_mj", 1e3),
    "energy_strict_j": ("energy_strict_mj", 1e3),
    **{
        f"energy_{m}_j": (f"energy_{m}_mj", 1e3)
        for m in ("paper_once", "value_weighted", "memory", "fp16", "int8", "ann_twin")
    },
    "sops_paper": ("sops_paper_m", 1e-6),
    "params": ("params", 1.0),
    "train_img_per_s": ("train_img_per_s", 1.0),
    "eval_img_per_s": ("eval_img_per_s", 1.0),
    "mean_firing_rate": ("mean_firing_rate", 1.0),
    "epochs": ("epochs", 1.0),
}
METRIC_COLUMNS = [col for col, _ in _CONVERSIONS.values()]

# Metrics compared by the statistics when study.json names none: column -> higher_is_better.
DEFAULT_METRICS: dict[str, bool] = {
    "test_acc_pct": True,
    "energy_paper_mj": False,
    "sops_paper_m": False,
}

# Axis labels with units, shared by plots and report.
METRIC_LABELS: dict[str, str] = {
    "test_acc_pct": "test accuracy, final epoch (%)",
    "best_test_acc_over_epochs_optimistic_pct": "best test accuracy over epochs (%, optimistic)",
    "val_acc_pct": "validation accuracy, final epoch (%)",
    "best_val_acc_over_epochs_pct": "best validation accuracy over epochs (%)",
    "best_val_epoch": "epoch of the best validation accuracy",
    "test_acc_at_best_val_epoch_pct": "test accuracy at the best validation epoch (%)",
    "energy_paper_mj": "energy per image, paper convention (mJ)",
    "energy_strict_mj": "energy per image, strict convention (mJ)",
    "energy_paper_once_mj": "energy per image, paper convention, first layer once (mJ)",
    "energy_value_weighted_mj": "energy per image, an integer k costs k ACs (mJ)",
    "energy_memory_mj": "energy per image with memory accesses, Lemaire et al. (mJ)",
    "energy_fp16_mj": "energy per image, fp16 operations, Horowitz 2014 (mJ)",
    "energy_int8_mj": "energy per image, int8 operations, Horowitz 2014 (mJ)",
    "energy_ann_twin_mj": "energy per image of the ANN twin (ReLU, dense MACs) (mJ)",
    "sops_paper_m": "SOPs per image (millions)",
    "params": "parameters",
    "train_img_per_s": "training throughput (images/s)",
    "eval_img_per_s": "evaluation throughput (images/s)",
    "mean_firing_rate": "mean firing rate (spikes per neuron per step)",
    "epochs": "epochs",
}

# Curves: accuracies in %, everything else as recorded.
_CURVE_SCALARS = {
    "test_acc": ("test_acc_pct", 100.0),
    "val_acc": ("val_acc_pct", 100.0),
    "train_acc": ("train_acc_pct", 100.0),
    "test_loss": ("test_loss", 1.0),
    "val_loss": ("val_loss", 1.0),
    "train_loss": ("train_loss", 1.0),
    "lr": ("lr", 1.0),
    "epoch_seconds": ("epoch_seconds", 1.0),
    "train_img_per_s": ("train_img_per_s", 1.0),
    "eval_img_per_s": ("eval_img_per_s", 1.0),
}


class StudyError(ValueError):
    """A study folder that cannot be read; the message is one sentence with the fix."""


@dataclass
class Study:
    """study.json plus the records that belong to it.

    Each kept record carries "variant" and "seed" (from the study's own run-id map when it could
    be built, else the record's labels). `missing` lists (variant, seed) cells without a record;
    `ignored` lists record files that are not part of the study.
    """

    path: Path
    meta: dict[str, Any]
    records: list[dict[str, Any]]
    missing: list[tuple[str, int]] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.name)

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", "ablation"))

    @property
    def baseline(self) -> str | None:
        return self.meta.get("baseline")

    @property
    def variants(self) -> list[str]:
        """Variant labels in the order the user gave them (tables and plots keep this order)."""
        listed = list(self.meta.get("variants") or {})
        seen = [r["variant"] for r in self.records if r.get("variant") not in listed]
        return listed + list(dict.fromkeys(seen))

    @property
    def seeds(self) -> list[int]:
        return list(self.meta.get("seeds") or [])

    @property
    def sweep_keys(self) -> list[str]:
        return list(self.meta.get("sweep_keys") or [])

    @property
    def dataset(self) -> str | None:
        return self.meta.get("dataset")


# --------------------------------------------------------------------------------------- loading


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StudyError(
            f"{what} {path} is not valid JSON ({err.msg} at line {err.lineno}); restore it or "
            f"delete it and re-run the study to write it again."
        ) from None


def _expected_run_ids(meta: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """run_id -> (variant, seed) for every cell of the study, from study.json's run map."""
    return {rid: (c["variant"], int(c["seed"])) for rid, c in (meta.get("runs") or {}).items()}


def _prefer(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether `new` replaces `old` for the same (variant, seed): complete wins, then later."""
    rank = {"complete": 2, "pruned": 1}
    key_new = (rank.get(new.get("status"), 0), str(new.get("finished") or new.get("started")))
    key_old = (rank.get(old.get("status"), 0), str(old.get("finished") or old.get("started")))
    return key_new > key_old


def load_study(study_dir: str | Path) -> Study:
    """Read study.json and every runs/*/record.json of a study folder.

    For an ablation, a record whose run id is not one of the study's variants x seeds (a stale
    run of an older config, or another study's run) is ignored with a warning. A missing folder
    or study.json, or unreadable JSON, raises StudyError with one sentence.
    """
    study_dir = Path(study_dir)
    meta = _read_meta(study_dir)
    is_ablation = meta.get("kind", "ablation") == "ablation"
    expected = _expected_run_ids(meta) if is_ablation else None
    kept: dict[Any, dict[str, Any]] = {}
    ignored: list[Path] = []
    for path in sorted((study_dir / "runs").glob(f"*/{RECORD_FILE}")):
        rec = _read_record(path, meta, expected)
        if rec is None:
            ignored.append(path)
            continue
        key: Any = (rec["variant"], rec["seed"]) if is_ablation else rec["run_id"]
        if key not in kept or _prefer(kept[key], rec):
            kept[key] = rec

    order = {v: i for i, v in enumerate(meta.get("variants") or {})}
    records = sorted(
        kept.values(),
        key=lambda r: (order.get(r["variant"], len(order)), str(r["variant"]), r.get("seed", 0)),
    )
    missing = []
    if is_ablation:
        have = {(r["variant"], r["seed"]) for r in records}
        missing = [
            (v, int(s))
            for v in meta.get("variants") or {}
            for s in meta.get("seeds") or []
            if (v, int(s)) not in have
        ]
    return Study(study_dir, meta, records, missing, ignored)


def _read_meta(study_dir: Path) -> dict[str, Any]:
    if not study_dir.is_dir():
        raise StudyError(
            f"{study_dir} is not a folder; pass a study folder such as results/<study>."
        )
    meta_path = study_dir / STUDY_FILE
    if not meta_path.is_file():
        raise StudyError(
            f"{study_dir} has no {STUDY_FILE}; pass a study folder written by bench.ablate or "
            f"bench.search (results/<study>)."
        )
    try:
        return read_study_file(meta_path).to_dict()
    except ValueError as err:
        raise StudyError(str(err)) from None


def _read_record(
    path: Path, meta: dict[str, Any], expected: dict[str, tuple] | None
) -> dict[str, Any] | None:
    """One run record labelled with its variant and seed; None (with a warning) when it cannot
    be read or, in an ablation (`expected` given), is not one of the study's cells."""
    try:
        rec = dict(_read_json(path, "run record"))
    except StudyError as err:
        log.warning("%s", err)
        return None
    rec.setdefault("run_id", path.parent.name)
    if expected is None:  # a search: every trial is its own variant
        rec.setdefault("variant", rec["run_id"])
        return rec
    cell = expected.get(rec["run_id"])
    if cell is None:
        log.warning(
            "ignoring %s: run %s is not one of the %d variants x %d seeds of study %r "
            "(a run of another config or study).",
            path,
            rec["run_id"],
            len(meta.get("variants") or {}),
            len(meta.get("seeds") or []),
            meta.get("name"),
        )
        return None
    rec["variant"], rec["seed"] = cell
    return rec


def ladder_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """The energy ladder stored in a run record, or None."""
    found = record.get("energy_ladder") or (record.get("energy") or {}).get("ladder")
    return found if isinstance(found, dict) and "energy_mj_by_component" in found else None


def _as_study(study: Study | str | Path) -> Study:
    return study if isinstance(study, Study) else load_study(study)


# --------------------------------------------------------------------------------------- frames


def _sweep_values(study: Study, label: str) -> dict[str, Any]:
    """Value of each swept key for one variant, from the variant's overrides in study.json."""
    overrides = (study.meta.get("variants") or {}).get(label) or {}
    return {
        key: next((v for k, v in overrides.items() if k.rsplit(".", 1)[-1] == key), None)
        for key in study.sweep_keys
    }


def metric_column(name: str) -> str:
    """Runs-frame column of a metric named as in a record (test_acc) or as a column already."""
    return _CONVERSIONS[name][0] if name in _CONVERSIONS else name


def _finite(x: Any) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def runs_frame(study: Study | str | Path) -> pd.DataFrame:
    """One row per run: study, variant, seed, run_id, dataset, status, error, the swept keys,
    then metrics in display units (METRIC_COLUMNS, NaN for runs without metrics) and any other
    record metric that study.json lists under "metrics" (as recorded)."""
    study = _as_study(study)
    extra = [
        m
        for m in (study.meta.get("metrics") or {})
        if metric_column(m) not in METRIC_COLUMNS and m not in study.sweep_keys
    ]
    rows = []
    for rec in study.records:
        metrics = rec.get("metrics") or {}
        cfg = rec.get("config") or {}
        dataset = (
            (cfg.get("data") or {}).get("name")
            or (rec.get("data") or {}).get("dataset")
            or study.dataset
        )
        row: dict[str, Any] = {
            "study": study.name,
            "variant": rec["variant"],
            "seed": rec.get("seed", cfg.get("seed")),
            "run_id": rec["run_id"],
            "dataset": dataset,
            "status": rec.get("status", "unknown"),
            "error": rec.get("error"),
        }
        row.update(_sweep_values(study, rec["variant"]))
        for name, (col, factor) in _CONVERSIONS.items():
            value = metrics.get(name)
            if value is None and name == "params" and metrics:
                value = rec.get("params")
            row[col] = _finite(value) * factor
        for name in extra:
            row[name] = _finite(metrics.get(name))
        rows.append(row)
    columns = [
        "study",
        "variant",
        "seed",
        "run_id",
        "dataset",
        "status",
        "error",
        *study.sweep_keys,
        *METRIC_COLUMNS,
        *extra,
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def curves_frame(
    study: Study | str | Path, statuses: tuple[str, ...] = ("complete",)
) -> pd.DataFrame:
    """Per-epoch curves in long format: variant, seed, run_id, epoch, metric, value.

    Only runs whose status is in `statuses` (by default finished ones: a failed run's partial
    curve would pull the band of its variant down at the epochs it reached). Accuracies are in %
    (metric names test_acc_pct, val_acc_pct, train_acc_pct); losses, lr and throughputs as
    recorded.
    """
    study = _as_study(study)
    rows = []
    for rec in study.records:
        if rec.get("status") not in statuses:
            continue
        for point in rec.get("curves") or []:
            for name, (metric, factor) in _CURVE_SCALARS.items():
                if name in point:
                    rows.append(
                        {
                            "variant": rec["variant"],
                            "seed": rec.get("seed"),
                            "run_id": rec["run_id"],
                            "epoch": int(point["epoch"]),
                            "metric": metric,
                            "value": _finite(point[name]) * factor,
                        }
                    )
    return pd.DataFrame(rows, columns=["variant", "seed", "run_id", "epoch", "metric", "value"])


def stats_metrics(study: Study) -> dict[str, bool]:
    """Runs-frame column -> higher_is_better for the statistics: study.json "metrics" (record or
    column names) when present, else DEFAULT_METRICS."""
    given = study.meta.get("metrics")
    if not given:
        return dict(DEFAULT_METRICS)
    return {metric_column(name): bool(hib) for name, hib in given.items()}


def write_runs_csv(study: Study | str | Path, frame: pd.DataFrame | None = None) -> Path:
    """Write runs.csv (one row per run, see runs_frame) into the study folder."""
    study = _as_study(study)
    frame = runs_frame(study) if frame is None else frame
    path = study.path / "runs.csv"
    frame.to_csv(path, index=False)
    return path
