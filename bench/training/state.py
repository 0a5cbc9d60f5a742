"""What a run leaves on disk: its checkpoint (each epoch, with RNG states) and its record.

A checkpoint that cannot be read is set aside (renamed with the reason) and the run starts over,
so one bad file never fails a cell on every rerun.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.files import atomic_write, write_json

__all__ = [
    "CHECKPOINT",
    "RECORD",
    "load_checkpoint",
    "load_record",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "tensor_digest",
    "write_record",
]

log = logging.getLogger(__name__)

RECORD = "record.json"
CHECKPOINT = "checkpoint.pt"


def rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": [version, list(state), gauss],
    }


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    kind, keys, pos, has_gauss, cached = s["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, state, gauss = s["python"]
    random.setstate((version, tuple(state), gauss))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda f: torch.save(state, f), binary=True)


def load_checkpoint(path: Path, device: torch.device, run_id: str) -> dict[str, Any] | None:
    """The checkpoint of `run_id`, or None (no file, another run's file, or unreadable: then it
    is renamed to checkpoint.pt.unreadable with the reason logged, and the run starts over)."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated, corrupt, or not a checkpoint at all
        aside = path.with_name(path.name + ".unreadable")
        path.replace(aside)
        log.warning(
            "checkpoint %s could not be read (%s); set aside as %s, starting over.",
            path,
            str(err).splitlines()[0] if str(err) else type(err).__name__,
            aside,
        )
        return None
    return ckpt if isinstance(ckpt, dict) and ckpt.get("run_id") == run_id else None


def load_record(out_dir: Path) -> dict | None:
    """The record in `out_dir`, or None when there is none or it cannot be read (a corrupt
    record counts as missing, so its cell is trained again)."""
    path = Path(out_dir) / RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def write_record(out_dir: Path, record: dict[str, Any]) -> Path:
    return write_json(Path(out_dir) / RECORD, record)


def tensor_digest(h: Any, *tensors: torch.Tensor) -> None:
    """Feed the bytes of `tensors` into the hash `h` (pairing evidence: equal digests mean equal
    inputs, bit for bit)."""
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())


def state_digest(module: torch.nn.Module) -> str:
    h = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        tensor_digest(h, tensor)
    return h.hexdigest()[:16]
