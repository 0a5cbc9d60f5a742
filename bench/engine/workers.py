"""Local worker processes: how many, how each one starts, and the parent that waits for them.

Every command starts its workers here (ablations, searches, confirmations), so a worker's share
of the cores, its GPU and its exit are handled once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import optuna
import torch

from bench.engine.progress import StudyProgress

__all__ = ["choose_workers", "start_workers", "worker_index", "worker_setup"]


def choose_workers(value: str, n_jobs: int) -> int:
    """--workers: a number, or auto = one per GPU, else one per CPU core (at most 4): small CPU
    models train faster as several one-thread processes than as one multi-thread process.
    ValueError with one sentence for anything else."""
    if value == "auto":
        if torch.cuda.is_available():
            return torch.cuda.device_count()
        return max(1, min(os.cpu_count() or 1, 4, n_jobs))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"--workers {value}: pass a number >= 1 or auto.")
    return int(value)


def threads_per_worker(workers: int) -> int:
    """CPU threads of one worker: its share of the cores (one GPU worker keeps them all)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def worker_index() -> int:
    """0 in the main process, i in the process `start_workers` named bench-worker-i."""
    name = multiprocessing.current_process().name
    return int(name.rsplit("-", 1)[-1]) if name.startswith("bench-worker-") else 0


def worker_setup(threads: int) -> int:
    """Start-up of every worker process: quiet Optuna, its threads, its own GPU when there are
    several; returns the worker's index."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(threads)
    index = worker_index()
    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        torch.cuda.set_device(index % torch.cuda.device_count())
    return index


def start_workers(
    n: int,
    target: Callable[..., Any],
    args: tuple[Any, ...],
    progress: StudyProgress | None = None,
) -> list[int]:
    """Run `target(*args)` in `n` fresh processes (spawn: safe with CUDA and threads), redraw
    `progress` until all have ended, and return their exit codes; a worker that dies does not
    stop the others."""
    if n < 1:
        raise ValueError(f"Number of workers is {n}; pass at least 1.")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args, name=f"bench-worker-{i}") for i in range(n)]
    for p in procs:
        p.start()
    try:
        if progress is not None:
            progress.watch(procs)
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        # Ctrl-C reaches the workers too; each ends its trial cleanly, so wait for them.
        for p in procs:
            p.join()
        raise
    return [p.exitcode if p.exitcode is not None else -1 for p in procs]
