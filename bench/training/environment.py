"""Where a run runs: device, distributed ranks, seeds, and the versions a record stores."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import subprocess
from pathlib import Path

import numpy as np
import torch

from bench.config import ConfigError

__all__ = ["device_name", "distributed_env", "resolve_device", "seed_everything", "versions"]

# Packages whose versions every record lists (read from the installed distributions).
PACKAGES = (
    "torch",
    "torchvision",
    "spikingjelly",
    "timm",
    "optuna",
    "numpy",
    "scipy",
    "pandas",
    "tonic",
)
_REPO = Path(__file__).resolve().parents[2]


def resolve_device(name: str) -> torch.device:
    """auto | cpu | cuda | cuda:N -> a device; ConfigError with one sentence otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device={name} was asked for but no CUDA GPU is visible: "
            "use device=cpu or device=auto."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"device={name!r} is not a device: use auto, cpu, cuda or cuda:N."
        ) from None


def distributed_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch draws (the initial weights among them) follow `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=_REPO, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_commit() -> str:
    """HEAD, with +dirty only when tracked source differs from it (results never count)."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return commit + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["git_commit"] = git_commit()
    return out


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
