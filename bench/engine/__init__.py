"""The study engine shared by ablations and searches: storage, queue of cells, sampled budget,
recovery of trials whose worker died, local workers, samplers and pruners.

It imports Optuna and nothing of the commands, and it is the only code that opens a storage.
It knows nothing about models: it calls a function and stores what it returns.
"""

from bench.engine.progress import StudyProgress, warnings_above_bars
from bench.engine.queue import (
    cell_progress,
    cell_status,
    enqueue_cells,
    finished_cells,
    run_queue,
    void_cell,
)
from bench.engine.recovery import (
    DEFAULT_MAX_RETRY,
    RetryStaleTrial,
    describe_running,
    grace_of,
    running_elsewhere,
)
from bench.engine.sampled import budget_progress, budget_trials, run_sampled
from bench.engine.samplers import PRUNERS, SAMPLERS, make_pruner, make_sampler
from bench.engine.storage import (
    DEFAULT_HEARTBEAT,
    JOURNAL_NAME,
    check_fingerprint,
    describe_liveness,
    liveness,
    load_study,
    masked_command,
    open_existing_study,
    open_storage,
    public_url,
    storage_kind,
    with_liveness,
)
from bench.engine.trials import AlreadyTrained
from bench.engine.workers import choose_workers, interruptible, start_workers, worker_setup

__all__ = [
    "DEFAULT_HEARTBEAT",
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
    "check_fingerprint",
    "describe_liveness",
    "choose_workers",
    "describe_running",
    "enqueue_cells",
    "finished_cells",
    "grace_of",
    "interruptible",
    "liveness",
    "load_study",
    "make_pruner",
    "make_sampler",
    "masked_command",
    "open_existing_study",
    "open_storage",
    "public_url",
    "running_elsewhere",
    "run_queue",
    "run_sampled",
    "start_workers",
    "storage_kind",
    "void_cell",
    "warnings_above_bars",
    "with_liveness",
    "worker_setup",
]
