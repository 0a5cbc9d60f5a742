"""Reopen a finished run folder: its config and a model holding its trained weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.config import RunConfig
from bench.training.state import CHECKPOINT, RECORD, load_record
from components.model import Spikformer

__all__ = ["load_run"]

_WRAPPERS = ("module.", "_orig_mod.")  # DDP and torch.compile prefixes in saved state dicts


def _unwrap(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    def bare(key: str) -> str:
        for prefix in _WRAPPERS:
            key = key.removeprefix(prefix)
        return key

    return {bare(k): v for k, v in state.items()}


def load_run(run_dir: Path | str) -> tuple[RunConfig, torch.nn.Module, dict[str, Any]]:
    """(config, model with the checkpoint's weights in eval mode, record with the checkpoint's
    `checkpoint_epoch`) of a run folder;
    ValueError with one sentence when the folder is not a finished, readable run."""
    run_dir = Path(run_dir)
    record = load_record(run_dir)
    if record is None or not (run_dir / CHECKPOINT).is_file():
        raise ValueError(
            f"{run_dir} holds no readable {RECORD} and {CHECKPOINT}; pass a run folder written "
            "by bench.train, bench.ablate or bench.search (results/<study>/runs/<run id>)."
        )
    try:
        cfg = RunConfig.from_dict(record["config"])
        ckpt = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
        model = Spikformer(cfg.model)
        model.load_state_dict(_unwrap(ckpt["model"]))
    except Exception as err:  # an old config, a corrupt or foreign checkpoint
        raise ValueError(
            f"{run_dir} cannot be reopened ({type(err).__name__}: {str(err)[:200]}); retrain it."
        ) from None
    record["checkpoint_epoch"] = ckpt.get("epoch")  # the epoch the weights are from
    return cfg, model.eval(), record
