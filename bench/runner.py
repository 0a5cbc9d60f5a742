"""The worker side of an ablation (and of a search's confirmation): queue the cells, start the
workers, train each popped cell into the study folder, and say how the study stands.

The queue holds no paths: each worker trains into the study folder of the machine it runs on,
so the same study can be worked on from several machines; each record is published to the
study's artifact store (bench.records) as soon as it is written, so every machine can read it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import optuna

from bench.config import RunConfig
from bench.engine import (
    cell_progress,
    cell_status,
    describe_running,
    enqueue_cells,
    grace_of,
    interruptible,
    load_study,
    open_storage,
    run_queue,
    running_elsewhere,
    start_workers,
    warnings_above_bars,
    worker_setup,
)
from bench.engine.workers import threads_per_worker
from bench.plan import Cell
from bench.plugins import load_plugins
from bench.records import heal, publish_run
from bench.speed import ROUNDS, run_speed_pass, speed_pass_needed
from bench.training import train_run

__all__ = [
    "DIRECTIONS",
    "exit_code",
    "open_cells_study",
    "run_cell",
    "run_cells",
    "speed_pass_after",
    "status_line",
]

DIRECTIONS = ["maximize"]  # an ablation trial's value: the run's final test accuracy
METRIC_NAMES = ["test_acc"]


def open_cells_study(name: str, storage: str | None, study_dir: Path) -> optuna.Study:
    """The Optuna study holding an ablation's cells (created on first use)."""
    return load_study(
        name,
        open_storage(storage, Path(study_dir)),
        directions=DIRECTIONS,
        metric_names=METRIC_NAMES,
    )


def run_cell(
    payload: dict[str, Any], trial: optuna.Trial, study_dir: str, artifacts: str | None = None
) -> dict[str, Any]:
    """Train one (variant, seed) cell and publish its record to the store at `artifacts`. The
    trial carries the swept settings as params and the validation accuracy per epoch, so
    optuna-dashboard can plot ablations too."""
    cfg = RunConfig.from_dict(payload["run"])
    for name, choices in (payload.get("choices") or {}).items():
        trial.suggest_categorical(name, choices)  # the enqueued value (a fixed param)

    def report(epoch: int, row: dict[str, Any]) -> None:
        if "val_acc" in row:
            trial.report(row["val_acc"], epoch)

    out = Path(study_dir) / "runs" / cfg.run_id
    tags = {"study": payload["study"], "variant": payload["variant"]}
    record = train_run(cfg, out, quiet=True, on_epoch=report, tags=tags)
    publish_run(trial.study, Path(study_dir), artifacts, cfg.run_id)
    metrics = record.get("metrics", {})
    return {
        "status": "complete" if record["status"] == "complete" else "failed",
        "values": [metrics["test_acc"]] if "test_acc" in metrics else [],
        "metrics": {"variant": payload["variant"], "seed": payload["seed"], **metrics},
        "error": record.get("error"),
    }


PLUGINS_ATTR = "plugins"  # study user attribute: modules every worker imports before popping


def cell_worker(
    storage: str | None, study_dir: str, study: str, threads: int, artifacts: str | None = None
) -> int:
    """Entry point of one worker process: import the study's plugins, then pop and train cells
    until none is waiting here or running elsewhere."""
    worker_setup(threads)
    st = open_cells_study(study, storage, Path(study_dir))
    load_plugins(st.user_attrs.get(PLUGINS_ATTR, []))
    call = functools.partial(run_cell, study_dir=study_dir, artifacts=artifacts)
    return run_queue(st, call, wait=True)


def run_cells(
    st: optuna.Study,
    cells: list[Cell],
    study_dir: Path,
    storage: str | None,
    workers: int,
    values: dict[str, dict[str, Any]] | None = None,
    plugins: list[str] | None = None,
    artifacts: str | None = None,
) -> None:
    """Queue every cell once (its variant's swept `values` become Optuna params, so
    optuna-dashboard can plot an ablation), then work through the queue: here, or in `workers`
    processes while this one draws the progress bar. Cells running elsewhere are waited for;
    SIGTERM stops the work like Ctrl-C (KeyboardInterrupt, the trials queued again)."""
    heal(st, study_dir, artifacts)
    known = st.user_attrs.get(PLUGINS_ATTR, [])
    load_plugins(known)  # a study started elsewhere with plugins: this machine needs them too
    if plugins and set(plugins) - set(known):
        st.set_user_attr(PLUGINS_ATTR, list(dict.fromkeys([*known, *plugins])))
    values = values or {}
    choices: dict[str, list[Any]] = {}
    for swept in values.values():
        for key, value in swept.items():
            name = key.rsplit(".", 1)[-1]
            if value not in choices.setdefault(name, []):
                choices[name].append(value)
    payloads = []
    for cell in cells:
        payload = cell.payload(st.study_name)
        swept = values.get(cell.variant, {})
        payload["config"]["params"] = {k.rsplit(".", 1)[-1]: v for k, v in swept.items()}
        payload["config"]["choices"] = choices
        payloads.append(payload)
    added = enqueue_cells(st, payloads)
    print(f"Queued {added} new runs; {len(cells) - added} were already queued or done.")
    running = running_elsewhere(st)
    if running:
        print(f"{describe_running(running, grace_of(st))}; this machine waits for them.")
    progress = cell_progress(st)
    try:
        with warnings_above_bars(), interruptible():
            if workers == 1:
                call = functools.partial(run_cell, study_dir=str(study_dir), artifacts=artifacts)
                run_queue(st, call, progress=progress, wait=True)
                return
            threads = threads_per_worker(workers)
            print(f"Starting {workers} worker processes ({threads} thread(s) each).")
            args = (storage, str(study_dir), st.study_name, threads, artifacts)
            codes = start_workers(workers, cell_worker, args, progress=progress)
        if any(codes):
            print(f"warning: worker exit codes {codes}")
    finally:
        progress.close()


def status_line(st: optuna.Study, cells: list[Cell]) -> str:
    """'12 of 12 runs complete.', with failures, and runs still running elsewhere with the age
    of their last heartbeat."""
    status = cell_status(st, [c.run_id for c in cells])
    text = f"{status['complete']} of {len(cells)} runs complete"
    if status["failed"]:
        text += f", {status['failed']} failed"
    running = running_elsewhere(st)
    if running:
        text += f", {describe_running(running, grace_of(st))}"
    elif status["running"]:
        text += f", {status['running']} running"
    return text + "."


def exit_code(st: optuna.Study, cells: list[Cell]) -> int:
    """0 when every cell is complete, else 1 (failed, missing, or still running elsewhere)."""
    return 0 if not cell_status(st, [c.run_id for c in cells])["missing"] else 1


def speed_pass_after(st: optuna.Study, cells: list[Cell], study_dir: Path) -> None:
    """Once every cell is complete, time each variant in the controlled pass (bench.speed),
    unless the study holds one over the same variants."""
    configs: dict[str, RunConfig] = {}
    for c in sorted(cells, key=lambda c: c.seed):  # the lowest seed's config, in study order
        configs.setdefault(c.variant, c.run)
    if cell_status(st, [c.run_id for c in cells])["missing"]:
        return
    if not speed_pass_needed(study_dir, list(configs)):
        return
    print(
        f"Controlled speed pass: {len(configs)} variants timed in one process, {ROUNDS} rounds "
        "on one batch (the only speed figures that get verdicts)."
    )
    try:
        run_speed_pass(Path(study_dir), configs)
    except Exception as err:  # the study's results stand without it; say why it is missing
        print(f"warning: the controlled speed pass failed ({type(err).__name__}: {err}).")
