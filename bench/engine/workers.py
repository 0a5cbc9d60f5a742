"""Local worker processes: how many, how each one starts, and the parent that waits for them.

Every command starts its workers here (ablations, searches, confirmations), so a worker's share
of the cores, its GPU and its exit are handled once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import optuna
import torch

from bench.engine.progress import StudyProgress

__all__ = ["choose_workers", "interruptible", "start_workers", "worker_index", "worker_setup"]

STOP_TIMEOUT = 60.0  # seconds a worker gets to queue its trial again after a stop signal
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


def _stop_once(signum: int, frame: Any) -> None:
    """The first SIGINT or SIGTERM raises KeyboardInterrupt; later ones are ignored, so the
    interrupted trial is failed and queued again before the process ends."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM (a scheduler, `kill`) stops the body like Ctrl-C does: one KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _stop_once)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _watch_parent(parent: int) -> None:
    """Stop this worker like Ctrl-C when its parent dies (kill -9): no orphan keeps running."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGINT)


def _worker_main(target: Callable[..., Any], args: tuple[Any, ...], parent: int) -> None:
    """A worker process: stop signals as in `interruptible`, a watch on the parent, and a quiet
    exit (code 130, no traceback) when stopped; the parent prints the one line."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _stop_once)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        target(*args)
    except KeyboardInterrupt:
        sys.exit(130)


def _stop(procs: list[Any]) -> None:
    """Pass a stop on to every worker (SIGTERM reaches only this process; after Ctrl-C the
    workers ignore the second signal), wait for them to requeue their trials, then kill."""
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()  # its RUNNING trial is recovered by the next worker on this machine
            p.join()


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
    procs = [
        ctx.Process(target=_worker_main, args=(target, args, os.getpid()), name=f"bench-worker-{i}")
        for i in range(n)
    ]
    with interruptible():  # held until the workers have stopped: a second signal is ignored
        try:
            for p in procs:
                p.start()
            if progress is not None:
                progress.watch(procs)
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            _stop([p for p in procs if p.pid is not None])
            raise
    return [p.exitcode if p.exitcode is not None else -1 for p in procs]
