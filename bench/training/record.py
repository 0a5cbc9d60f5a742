"""The final numbers of a finished run, from its per-epoch curves."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

__all__ = ["combined_digests", "summarize"]


def combined_digests(history: list[dict[str, Any]]) -> dict[str, str]:
    """One digest per kind over every epoch (each epoch's digest is stored in its curve row, so
    a resumed run ends with the same digests as an uninterrupted one)."""
    out = {}
    for kind in ("batch_order", "inputs", "batch_draws"):
        h = hashlib.sha1()
        for row in history:
            h.update(str(row["digests"][kind]).encode())
        out[kind] = h.hexdigest()[:16]
    return out


def summarize(history: list[dict[str, Any]], record: dict[str, Any]) -> dict[str, Any]:
    """The result is the LAST epoch's test accuracy. The best epoch is chosen on validation;
    the best epoch on the test set is kept under a name that says it is optimistic."""
    final = history[-1]
    energy = record.get("energy", {}).get("totals", {})
    metrics: dict[str, Any] = {
        "test_acc": final["test_acc"],
        "test_loss": final["test_loss"],
        "train_acc": final["train_acc"],
        "train_loss": final["train_loss"],
        "best_test_acc_over_epochs_optimistic": max(r["test_acc"] for r in history),
        "epochs": final["epoch"],
        "train_img_per_s": float(np.median([r["train_img_per_s"] for r in history])),
        "eval_img_per_s": float(np.median([r["eval_img_per_s"] for r in history])),
        "params": record["params"],
    }
    if "val_acc" in final:
        best = max(history, key=lambda r: r["val_acc"])  # ties: the earliest epoch
        metrics.update(
            val_acc=final["val_acc"],
            val_loss=final["val_loss"],
            best_val_acc_over_epochs=best["val_acc"],
            best_val_epoch=best["epoch"],
            test_acc_at_best_val_epoch=best["test_acc"],
        )
    metrics.update(
        {k: v for k, v in energy.items() if isinstance(v, int | float) and math.isfinite(v)}
    )
    return {"metrics": metrics}
