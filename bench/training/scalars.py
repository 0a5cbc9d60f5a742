"""Optional per-run TensorBoard scalars (`log=tensorboard`): every number of an epoch's row
(loss, accuracies, learning rate, epoch time, firing rates) under RUN_DIR/tensorboard/, beside
the record. The record stays the result; these files are for watching a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["LOG_DIR", "ScalarLog"]

LOG_DIR = "tensorboard"


class ScalarLog:
    """Write an epoch row's numbers as scalars named `group/name` (train/loss, val/acc, ...)."""

    def __init__(self, kind: str, out_dir: Path) -> None:
        self.writer = None
        if kind == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter  # tensorboard: optional, heavy

            self.writer = SummaryWriter(log_dir=str(Path(out_dir) / LOG_DIR))

    def epoch(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for name, value in _scalars(row):
            self.writer.add_scalar(name, value, row["epoch"])
        self.writer.flush()  # a killed run keeps what it logged

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _scalars(row: dict[str, Any]) -> list[tuple[str, float]]:
    """'val_acc' -> 'val/acc', 'lr' -> 'train/lr', firing rates -> 'firing_rate/<layer>'."""
    out = []
    for key, value in row.items():
        if key == "firing_rates":
            out += [(f"firing_rate/{k}", float(v)) for k, v in sorted(value.items())]
        elif key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
            group, _, name = key.partition("_")
            if group not in ("train", "val", "test"):
                group, name = "train", key
            out.append((f"{group}/{name}", float(value)))
    return out
