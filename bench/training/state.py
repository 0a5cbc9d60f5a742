"""What a run leaves on disk: its checkpoint (each epoch, with RNG states) and its record.

A checkpoint that cannot be read is set aside (renamed with the reason) and the run starts over,
so one bad file never fails a cell on every rerun. A write that fails (disk full, no permission)
raises `DiskError`, whose message is one sentence naming the file and the fix.
"""

from __future__ import annotations

import errno
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
    "DiskError",
    "disk_error",
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


class DiskError(OSError):
    """A run's file could not be written; the message says which and what to do."""


def disk_error(path: Path, err: OSError) -> DiskError:
    """`err` writing `path` as one sentence: disk full, no permission, or the OS's words."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free space on that disk (or pass --results on another one)"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make the folder writable (or pass --results with one you can write to)"
    else:
        fix = "check that disk"
    why = err.strerror or type(err).__name__
    out = DiskError(f"cannot write {path} ({why}); {fix}, then rerun the same command.")
    out.errno = err.errno  # str() stays the sentence alone
    return out


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
    try:
        atomic_write(path, lambda f: torch.save(state, f), binary=True)
    except DiskError:
        raise
    except OSError as err:
        raise disk_error(path, err) from None
    except RuntimeError as err:  # torch wraps a failed write ("PytorchStreamWriter failed ...")
        if "write" not in str(err).lower():
            raise
        raise disk_error(path, OSError(errno.EIO, str(err).splitlines()[0])) from None


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
            "checkpoint %s could not be read (truncated or not a checkpoint: %s); set aside as "
            "%s, starting the run over.",
            path,
            type(err).__name__,
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
    path = Path(out_dir) / RECORD
    try:
        return write_json(path, record)
    except OSError as err:
        raise disk_error(path, err) from None


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
