"""The training loop: build, one epoch, evaluate, checkpoint -> one run record."""

from bench.training.environment import resolve_device, versions
from bench.training.run import StopRun, train_run
from bench.training.state import CHECKPOINT, RECORD, load_record
from bench.training.steps import RunFailed

__all__ = [
    "CHECKPOINT",
    "RECORD",
    "RunFailed",
    "StopRun",
    "load_record",
    "resolve_device",
    "train_run",
    "versions",
]
