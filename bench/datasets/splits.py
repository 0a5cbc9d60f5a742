"""Fixed train / validation / test splits, independent of the run seed.

Every split is a pure function of the data's file names or label order and a fixed split seed,
and is written to the dataset's split file with everything needed to redo it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.files import write_text

__all__ = ["SPLIT_SEED", "stratified_split", "user_of", "write_split_file"]

SPLIT_SEED = 0  # fixed: every run, seed and variant sees the same splits


def _take(n: int, size: float | int) -> int:
    return int(round(size * n)) if isinstance(size, float) else int(size)


def stratified_split(
    labels: Sequence[int], sizes: dict[str, float | int], seed: int = SPLIT_SEED
) -> dict[str, list[int]]:
    """Indices per split, drawn class by class.

    One generator seeded with `seed` permutes each class's indices in turn (classes in sorted
    order); the first k_1 go to the first split named in `sizes`, the next k_2 to the second, and
    so on; the rest is "train". A float size is a fraction of the class (Python `round`), an int a
    count; every class keeps at least one training sample. Lists come back sorted.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {name: [] for name in sizes}
    out["train"] = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for name, size in sizes.items():
            k = max(0, min(_take(len(members), size), len(members) - 1 - start))
            out[name] += members[start : start + k].tolist()
            start += k
        out["train"] += members[start:].tolist()
    return {name: sorted(idx) for name, idx in out.items()}


_USER = re.compile(r"user(\d+)_")


def user_of(path: str | os.PathLike) -> int:
    """The subject number of a DVS128 Gesture recording: tonic's `user<NN>_<lighting>/<k>.npy`
    and spikingjelly's `user<NN>_<lighting>_<k>.npz` both carry it."""
    found = _USER.findall(Path(path).as_posix())
    if not found:
        raise ValueError(f"{path} does not name its user (expected user<NN>_... in the path).")
    return int(found[-1])


def write_split_file(path: Path, content: dict) -> tuple[str | None, str]:
    """Write the split file (unchanged content leaves the file untouched).

    Returns (the path written or None if the folder is not writable, the sha1 of the content),
    so a record can carry the split's fingerprint even from a read-only data root.
    """
    text = json.dumps(content, indent=1) + "\n"
    digest = hashlib.sha1(text.encode()).hexdigest()
    try:
        write_text(path, text, if_changed=True)
    except OSError:
        return None, digest
    return str(path), digest
