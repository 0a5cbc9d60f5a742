"""Files that several processes and machines read: written atomically, group-readable.

One writer for every derived file of the suite (records, checkpoints, study files, split files,
frame caches): write a temporary file in the target folder, then rename, so a reader never sees
half a file and a crash never leaves one. `tempfile.mkstemp` creates files mode 0600; the rename
target gets 0644 minus the umask's bits instead, so collaborators on shared storage can read it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "write_json", "write_text", "read_json"]

_MODE = 0o666  # before the umask, as open() would create a file


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[Any]], None], *, binary: bool
) -> Path:
    """Call `write(f)` on a temporary file next to `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.chmod(tmp, _MODE & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_text(path: str | os.PathLike, text: str, *, if_changed: bool = False) -> Path:
    """Write `text` atomically; with `if_changed`, leave an identical file untouched."""
    path = Path(path)
    if if_changed and path.is_file() and path.read_text() == text:
        return path
    return atomic_write(path, lambda f: f.write(text), binary=False)


def write_json(path: str | os.PathLike, obj: Any, *, if_changed: bool = False) -> Path:
    """JSON with one-space indent and a final newline (stable bytes for the same content)."""
    return write_text(path, json.dumps(obj, indent=1) + "\n", if_changed=if_changed)


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
