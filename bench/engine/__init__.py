"""The study engine shared by ablations and searches: storage, queue of cells, sampled budget,
recovery of trials whose worker died, local workers, samplers and pruners.

It imports Optuna and nothing of the commands, and it is the only code that opens a storage.
It knows nothing about models: it calls a function and stores what it returns.
"""

from bench.engine.progress import StudyProgress, warnings_above_bars
from bench.engine.queue import cell_progress, cell_status, enqueue_cells, run_queue
from bench.engine.recovery import DEFAULT_MAX_RETRY, RetryStaleTrial
from bench.engine.sampled import budget_progress, budget_trials, run_sampled
from bench.engine.samplers import PRUNERS, SAMPLERS, make_pruner, make_sampler
from bench.engine.storage import (
    JOURNAL_NAME,
    load_study,
    masked_command,
    open_existing_study,
    open_storage,
    public_url,
    storage_kind,
)
from bench.engine.trials import AlreadyTrained
from bench.engine.workers import choose_workers, start_workers, worker_setup

__all__ = [
    "DEFAULT_MAX_RETRY",
    "JOURNAL_NAME",
    "PRUNERS",
    "SAMPLERS",
    "AlreadyTrained",
    "RetryStaleTrial",
    "StudyProgress",
    "budget_progress",
    "budget_trials",
    "cell_progress",
    "cell_status",
    "choose_workers",
    "enqueue_cells",
    "load_study",
    "make_pruner",
    "make_sampler",
    "masked_command",
    "open_existing_study",
    "open_storage",
    "public_url",
    "run_queue",
    "run_sampled",
    "start_workers",
    "storage_kind",
    "warnings_above_bars",
    "worker_setup",
]
