"""`python -m bench.ablate`: controlled ablations with paired seeds, statistics, plots, report.

    python -m bench.ablate attention=ssa,vsa                  # digits on CPU, minutes
    python -m bench.ablate attention=ssa,vsa,sdsa neuron=lif,if seeds=10
    python -m bench.ablate ablation=paper-attention dataset=cifar10 seeds=10 --storage postgresql://...

`key=a,b,c` sweeps a setting (several sweeps form a Cartesian product); the first value of each
swept key is the baseline. Seed s fixes initial weights, data order and augmentation for every
variant, so variants are compared pair by pair. Every (variant, seed) cell is queued once in an
Optuna study; any number of workers, here or on other machines, share the queue, and rerunning
the command finishes only what is missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import optuna

from bench.config import ConfigError, RunConfig
from bench.config.help import settings_help
from bench.datasets import DataError, load_data
from bench.engine import (
    JOURNAL_NAME,
    cell_status,
    check_fingerprint,
    choose_workers,
    describe_liveness,
    masked_command,
    storage_kind,
    with_liveness,
)
from bench.engine.workers import threads_per_worker
from bench.estimate import LONG_CPU_HOURS, estimate_hours, format_hours
from bench.plan import DEFAULT_SEEDS, AblationPlan, decisive_seeds, expand, undecidable_note
from bench.plugins import add_import_flag, load_plugins
from bench.records import add_storage_flags, heal, records_location
from bench.refresh import refresh
from bench.results import METRIC_LABELS
from bench.runner import exit_code, open_cells_study, run_cells, speed_pass_after, status_line
from bench.studyfile import StudyFile, check_results_folder, check_study_name
from bench.training import resolve_device
from bench.training.environment import device_name
from search_spaces.ablations import ABLATIONS

# Compared by the statistics: runs.csv column -> higher is better. Throughput is descriptive
# only (runs that share a machine measure its load, not the model).
METRICS = {"test_acc_pct": True, "energy_paper_mj": False, "sops_paper_m": False}


def build_parser() -> argparse.ArgumentParser:
    presets = "; ".join(f"{name} ({p.source})" for name, p in ABLATIONS.items())
    seeds_text = ", ".join(f"{k} variants: {decisive_seeds(k)}" for k in (3, 4, 6))
    parser = argparse.ArgumentParser(
        prog="python -m bench.ablate",
        description=__doc__,
        epilog=f"ablation=NAME presets: {presets}.\nDefault seeds: {DEFAULT_SEEDS} for two "
        "variants, more for more variants so that the exact Wilcoxon test, Holm over all pairs, "
        f"can reach p < 0.05 ({seeds_text}).\n\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="key=value or key=a,b,c (a sweep)")
    parser.add_argument("--study", help="study name (default: from the dataset and variants)")
    parser.add_argument(
        "--storage",
        help="postgresql://... for several machines (default: a journal file in the study folder)",
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="worker processes on this machine (auto: one per GPU, else one per CPU core up to 4)",
    )
    parser.add_argument("--results", default="results", help="folder of study folders")
    parser.add_argument("--dry-run", action="store_true", help="print the runs, run nothing")
    parser.add_argument(
        "--yes", action="store_true", help=f"start a CPU study estimated above {LONG_CPU_HOURS:g} h"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="COLUMN",
        help="also test this runs.csv column, e.g. energy_memory_mj (any energy model of the "
        "ladder); repeatable",
    )
    parser.add_argument(
        "--margin",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="equivalence margin of a compared column (default: 1 point of "
        "accuracy, test_acc_pct=1.0); repeatable",
    )
    add_storage_flags(parser)
    add_import_flag(parser)
    return parser


def _check(plan: AblationPlan, args: argparse.Namespace) -> tuple[str, Path, int]:
    first = plan.first()
    study = check_study_name(args.study or plan.default_name())
    workers = choose_workers(args.workers, len(plan.variants) * len(plan.seeds))
    resolve_device(first.device)
    return study, check_results_folder(Path(args.results)) / study, workers


def _describe(plan: AblationPlan, study: str, study_dir: Path, storage: str | None) -> None:
    first = plan.first()
    n = len(plan.variants) * len(plan.seeds)
    epochs = first.train.epochs + first.train.cooldown_epochs
    print(
        f"Ablation '{study}': {len(plan.variants)} variants x {len(plan.seeds)} seeds = {n} runs "
        f"on {first.data.name} (model {first.preset}, protocol {first.protocol}, {epochs} epochs, "
        f"baseline '{plan.baseline}')."
    )
    note = undecidable_note(len(plan.variants), len(plan.seeds))
    if note:
        print(note)
    print(f"Results: {study_dir}/ (storage: {storage_kind(storage)})")
    print(describe_liveness(storage))


def compared_metrics(extra: list[str]) -> dict[str, bool]:
    """The tested columns: test accuracy and paper energy, plus `--compare` ones (energies and
    operation counts are better lower, accuracies higher)."""
    out = dict(METRICS)
    for column in extra:
        if column not in METRIC_LABELS or column in ("train_img_per_s", "eval_img_per_s"):
            raise ConfigError(
                f"--compare {column}: not a column that can be tested; use one of "
                f"{', '.join(c for c in METRIC_LABELS if c.endswith(('_mj', '_pct', '_m')))}."
            )
        out[column] = column.endswith("_pct")
    return out


def parse_margins(items: list[str], metrics: dict[str, bool]) -> dict[str, float]:
    """['test_acc_pct=0.5'] -> {'test_acc_pct': 0.5}; one sentence for anything else."""
    out = {}
    for item in items:
        column, _, value = item.partition("=")
        try:
            margin = float(value)
        except ValueError:
            margin = -1.0
        if column not in metrics or margin <= 0:
            raise ConfigError(
                f"--margin {item}: write COLUMN=VALUE with a positive value and a "
                f"compared column ({', '.join(metrics)})."
            )
        out[column] = margin
    return out


def _go_ahead(
    cfg: RunConfig, data: dict, runs_left: int, workers: int, study_dir: Path, yes: bool
) -> bool:
    """Print the device, the data and the estimated wall time; a long CPU study needs --yes."""
    device = resolve_device(cfg.device)
    print(
        f"Device: {device_name(device)}; data: {data.get('dataset')} "
        f"({data.get('train_size')} train / {data.get('val_size')} val / "
        f"{data.get('test_size')} test, {data.get('root')})."
    )
    if not runs_left:
        return True
    threads = threads_per_worker(workers) if device.type == "cuda" else 1
    hours, how = estimate_hours(
        cfg, runs_left, workers, int(data.get("train_size") or 0), study_dir, threads
    )
    print(
        f"Estimated wall time for {runs_left} runs on {workers} worker(s): about "
        f"{format_hours(hours)} ({how})."
    )
    if device.type == "cpu" and hours > LONG_CPU_HOURS and not yes:
        print(
            f"error: this study would take about {format_hours(hours)} on this CPU; run it on "
            "a GPU machine (device=cuda), or pass --yes to start it here anyway.",
            file=sys.stderr,
        )
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        plan, info, study_dir, workers = _setup(args, argv)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cells = plan.cells()
    _describe(plan, info.name, study_dir, args.storage)
    if args.dry_run:
        for cell in cells:
            print(f"  {cell.run_id}  seed {cell.seed:>3}  {cell.variant}")
        return 0
    st: optuna.Study | None = None
    try:
        st = _open_if_going_ahead(plan, info, study_dir, workers, args)
        if st is None:
            return 2
        artifacts = _train(st, plan, info, study_dir, workers, args)
    except (DataError, ValueError) as err:  # ConfigError, storage URLs, study mismatches
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f"{status_line(st, cells)} " if st is not None else ""
        print(f"\ninterrupted: {where}Rerun the same command to finish the rest.", file=sys.stderr)
        return 130
    try:
        written = refresh(study_dir, storage=args.storage, artifacts=artifacts)
    except OSError as err:  # disk full, no permission: one sentence (DiskError)
        print(f"{status_line(st, cells)}\nerror: {err}", file=sys.stderr)
        return 1
    print(status_line(st, cells))
    print(f"Done in {(time.perf_counter() - started) / 60:.1f} min.")
    print(f"Report: {written['report.md']}")
    print(f"Plots:  {study_dir / 'plots'}/")
    return exit_code(st, cells)


def _setup(args: argparse.Namespace, argv: list[str]) -> tuple[AblationPlan, StudyFile, Path, int]:
    """Everything that can be checked before any work: plugins, metrics, margins, the grid,
    the study's name and folder, the storage URL; the study file the command will write."""
    plugins = load_plugins(args.plugins)
    metrics = compared_metrics(args.compare)
    margins = parse_margins(args.margin, metrics)
    plan = expand(args.overrides)
    study, study_dir, workers = _check(plan, args)
    args.storage = with_liveness(args.storage, args.heartbeat, args.grace)
    cells = plan.cells()
    info = StudyFile(
        kind="ablation",
        name=study,
        dataset=plan.first().data.name,
        command=masked_command(["python -m bench.ablate", *argv]),
        fixed=plan.fixed,
        storage=storage_kind(args.storage),
        metrics=metrics,
        baseline=plan.baseline,
        sweep_keys=plan.sweep_keys,
        variants=plan.variants,
        seeds=plan.seeds,
        runs={c.run_id: {"variant": c.variant, "seed": c.seed} for c in cells},
        plugins=plugins,
        margins=margins,
        budget=plan.budget(),
    )
    return plan, info, study_dir, workers


def _open_if_going_ahead(
    plan: AblationPlan, info: StudyFile, study_dir: Path, workers: int, args: argparse.Namespace
) -> optuna.Study | None:
    """Check the data (one sentence now, not one failed run per cell later) and the plan's
    size; only then create the study (nothing is written before). None: the user must agree."""
    first = plan.first()
    data = load_data(first.data.name, data_root=first.data.root, batch_size=1, T=first.model.T)
    fresh = args.storage is None and not (study_dir / JOURNAL_NAME).exists()
    st = None if fresh else open_cells_study(info.name, args.storage, study_dir)
    left = len(info.runs) if st is None else len(cell_status(st, list(info.runs))["missing"])
    if not _go_ahead(first, data.info, left, workers, study_dir, args.yes):
        return None
    return st if st is not None else open_cells_study(info.name, None, study_dir)


def _train(
    st: optuna.Study,
    plan: AblationPlan,
    info: StudyFile,
    study_dir: Path,
    workers: int,
    args: argparse.Namespace,
) -> str | None:
    """Write the study file, heal lost records, train what is missing; returns where records
    are shared (the artifact store)."""
    check_fingerprint(st, info.fingerprint)  # another machine's study of this name
    info.merged_into(study_dir / "study.json").write(study_dir)
    artifacts = records_location(bool(args.storage), args.artifacts, study_dir, st)
    heal(st, study_dir, artifacts)  # finished cells whose record is lost everywhere
    cells = plan.cells()
    if cell_status(st, [c.run_id for c in cells])["missing"]:
        run_cells(
            st,
            cells,
            study_dir,
            args.storage,
            workers,
            values=plan.variants,
            plugins=info.plugins,
            artifacts=artifacts,
        )
    else:
        print(
            f"Study '{info.name}' is already complete ({len(cells)} of {len(cells)} runs); "
            "its report is rebuilt below. To train again, pass --study NEW_NAME (or "
            "--results DIR)."
        )
    speed_pass_after(st, cells, study_dir)
    return artifacts


if __name__ == "__main__":
    sys.exit(main())
