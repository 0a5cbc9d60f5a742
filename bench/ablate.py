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
import functools
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import torch

from bench.config import ConfigError, RunConfig, parse_overrides, resolve
from bench.study import (
    cell_status,
    enqueue_cells,
    load_study,
    open_storage,
    run_queue,
    start_workers,
)
from search_spaces.ablations import ABLATIONS

DEFAULT_SEEDS = 6  # the fewest pairs with which an exact Wilcoxon test can reach p < 0.05
DIRECTIONS = ["maximize"]  # the trial value is the final test accuracy


def variant_label(values: dict[str, Any]) -> str:
    """{'model.attention': 'vsa', 'model.T': 2} -> 'attention=vsa T=2'."""
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())


def expand(args: list[str]) -> dict[str, Any]:
    """Overrides -> the plan: variants (label -> overrides), fixed overrides, seeds, baseline."""
    parsed = parse_overrides(args)
    seeds_values = parsed.pop("seeds", [DEFAULT_SEEDS])
    sweeps = {k: v for k, v in parsed.items() if len(v) > 1}
    fixed = {k: v[0] for k, v in parsed.items() if len(v) == 1}
    if len(seeds_values) == 1 and isinstance(seeds_values[0], int):
        seeds = list(range(seeds_values[0]))
    else:
        seeds = seeds_values
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(
            "seeds must be a count (seeds=6) or a list of non-negative integers (seeds=0,1,2)."
        )
    if len(set(seeds)) != len(seeds):
        raise ConfigError("seeds lists a seed twice: give each seed once.")
    if "seed" in parsed:
        raise ConfigError("seed= fixes one seed; an ablation pairs several: use seeds=N.")
    if not sweeps:
        raise ConfigError(
            "Nothing to compare: sweep at least one setting with two values, "
            "for example attention=ssa,vsa."
        )
    for key, values in sweeps.items():
        if len(set(map(str, values))) != len(values):
            raise ConfigError(f"{key} lists a value twice: give each value once.")
    variants: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*sweeps.values()):
        values = dict(zip(sweeps, combo, strict=True))
        variants[variant_label(values)] = values
    return {
        "variants": variants,
        "fixed": fixed,
        "seeds": seeds,
        "baseline": next(iter(variants)),
        "sweep_keys": [k.split(".")[-1] for k in sweeps],
    }


def apply_ablation_preset(args: list[str]) -> list[str]:
    """`ablation=NAME` expands into the preset's sweeps and fixed settings; the user's own
    settings win."""
    named = [a for a in args if a.startswith("ablation=")]
    if not named:
        return args
    name = named[0].partition("=")[2]
    if name not in ABLATIONS:
        from components.registry import unknown_choice_message

        raise ConfigError(unknown_choice_message("ablation", name, list(ABLATIONS)))
    preset = ABLATIONS[name]
    given = {a.partition("=")[0] for a in args if a not in named}
    out = [f"{k}={','.join(map(str, v))}" for k, v in preset.sweeps.items() if k not in given]
    out += [f"{k}={v}" for k, v in preset.fixed.items() if k not in given]
    return out + [a for a in args if a not in named]


def build_cells(plan: dict[str, Any], study: str) -> list[dict[str, Any]]:
    """Resolve every (variant, seed): a bad value fails here, before anything runs."""
    cells = []
    for label, values in plan["variants"].items():
        for seed in plan["seeds"]:
            cfg = resolve({**plan["fixed"], **values, "seed": seed})
            cells.append(
                {
                    "run_id": cfg.run_id,
                    "config": {
                        "run": cfg.to_dict(),
                        "variant": label,
                        "seed": seed,
                        "study": study,
                    },
                }
            )
    return cells


def default_study_name(plan: dict[str, Any], dataset: str) -> str:
    """'digits-attention-ssa-vsa'; a long grid keeps its keys and a short hash of the values."""
    sweeps: dict[str, list[str]] = {}
    for values in plan["variants"].values():
        for key, value in values.items():
            sweeps.setdefault(key.split(".")[-1], [])
            if str(value) not in sweeps[key.split(".")[-1]]:
                sweeps[key.split(".")[-1]].append(str(value))
    name = "-".join([dataset] + [f"{k}-{'-'.join(v)}" for k, v in sweeps.items()])
    if len(name) > 60:
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        name = "-".join([dataset, *sweeps, digest])
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def run_cell(payload: dict[str, Any], trial: Any, study_dir: str) -> dict[str, Any]:
    """One (variant, seed) cell: train it into the study folder of the worker running it (the
    queue holds no paths, so the same study can be worked on from several machines), and tag
    its record with the study and variant."""
    from bench.train import RECORD, atomic_save, train_run

    cfg = RunConfig.from_dict(payload["run"])
    out = Path(study_dir) / "runs" / cfg.run_id
    record = train_run(cfg, out, quiet=True)
    record.update(study=payload["study"], variant=payload["variant"])
    atomic_save(record, out / RECORD, as_json=True)
    metrics = record.get("metrics", {})
    return {
        "status": "complete" if record["status"] == "complete" else "failed",
        "values": [metrics["test_acc"]] if "test_acc" in metrics else [],
        "metrics": {"variant": payload["variant"], "seed": payload["seed"], **metrics},
        "error": record.get("error"),
    }


def _worker(storage: str | None, study_dir: str, study: str, threads: int) -> int:
    """One local worker process: its share of the cores, its own GPU when there are several."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(threads)
    index = int(multiprocessing.current_process().name.rsplit("-", 1)[-1] or 0)
    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        torch.cuda.set_device(index % torch.cuda.device_count())
    st = load_study(study, open_storage(storage, Path(study_dir)), directions=DIRECTIONS)
    cell = functools.partial(run_cell, study_dir=study_dir)
    return run_queue(st, cell, progress=index == 0)  # worker 0 shows everyone's progress


def work_queue(
    st: optuna.Study,
    cells: list[dict[str, Any]],
    study_dir: Path,
    storage: str | None,
    workers: int,
) -> None:
    """Queue every cell once, then work through the queue: here, or in `workers` processes."""
    added = enqueue_cells(st, cells)
    print(f"Queued {added} new runs; {len(cells) - added} were already queued or done.")
    if workers == 1:
        run_queue(st, functools.partial(run_cell, study_dir=str(study_dir)), progress=True)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    print(f"Starting {workers} worker processes ({threads} thread(s) each).")
    codes = start_workers(workers, _worker, (storage, str(study_dir), st.study_name, threads))
    if any(codes):
        print(f"warning: worker exit codes {codes}", file=sys.stderr)


def report_outcome(st: optuna.Study, cells: list[dict[str, Any]], study_dir: Path) -> dict:
    """Statistics, plots and report from the stored runs; prints the verdicts on accuracy."""
    from bench.report import refresh

    status = cell_status(st, [c["run_id"] for c in cells])
    written = refresh(study_dir)
    print(
        f"{status['complete']} of {len(cells)} runs complete"
        + (f", {status['failed']} failed" if status.get("failed") else "")
        + "."
    )
    stats_path = written.get("stats.csv")
    if stats_path and Path(stats_path).exists():
        import pandas as pd

        stats = pd.read_csv(stats_path)
        for _, row in stats[stats["metric"].str.startswith("test_acc")].iterrows():
            print(f"  {row['verdict']}")
    return written


def choose_workers(value: str, n_cells: int) -> int:
    """--workers: a number, or auto = one per GPU, else one per CPU core (at most 4): small CPU
    models train faster as several one-thread processes than as one multi-thread process."""
    if value == "auto":
        if torch.cuda.is_available():
            return torch.cuda.device_count()
        return max(1, min(os.cpu_count() or 1, 4, n_cells))
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--workers {value}: pass a number >= 1 or auto.")
    return int(value)


def write_study_json(path: Path, info: dict[str, Any]) -> None:
    """Create study.json, or merge a rerun into it (new seeds are added, settings must match)."""
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("variants") != info["variants"] or old.get("fixed") != info["fixed"]:
            raise ConfigError(
                f"Study folder {path.parent} holds a different ablation; pass "
                "--study NAME to start a new one."
            )
        info["seeds"] = sorted(set(old.get("seeds", [])) | set(info["seeds"]))
        info["runs"] = {**old.get("runs", {}), **info["runs"]}
        info["created"] = old.get("created", info["created"])
    from bench.train import atomic_save

    atomic_save(info, path, as_json=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ablate",
        description=__doc__,
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
    args = parser.parse_args(argv)
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI prints its own summary
    try:
        plan = expand(apply_ablation_preset(args.overrides))
        first = resolve({**plan["fixed"], **next(iter(plan["variants"].values()))})
        study = args.study or default_study_name(plan, first.data.name)
        study_dir = Path(args.results) / study
        cells = build_cells(plan, study)
        workers = choose_workers(args.workers, len(cells))
        if first.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(
                f"device={first.device} was asked for but no CUDA GPU is visible: "
                "use device=cpu or device=auto."
            )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    n_variants, n_seeds = len(plan["variants"]), len(plan["seeds"])
    print(
        f"Ablation '{study}': {n_variants} variants x {n_seeds} seeds = {len(cells)} runs on "
        f"{first.data.name} (model {first.preset}, {first.train.epochs} epochs, baseline "
        f"'{plan['baseline']}')."
    )
    print(f"Results: {study_dir}/ (storage: {args.storage or study_dir / 'study.journal'})")
    if args.dry_run:
        for cell in cells:
            c = cell["config"]
            print(f"  {cell['run_id']}  seed {c['seed']:>3}  {c['variant']}")
        return 0
    try:  # missing or corrupt data: one sentence now, not one failed run per cell later
        from bench.data import DataError, load_data

        load_data(first.data.name, data_root=first.data.root, batch_size=1, T=first.model.T)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    info = {
        "kind": "ablation",
        "name": study,
        "command": "python -m bench.ablate " + " ".join(sys.argv[1:] if argv is None else argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": first.data.name,
        "baseline": plan["baseline"],
        "sweep_keys": plan["sweep_keys"],
        "variants": plan["variants"],
        "seeds": plan["seeds"],
        "fixed": plan["fixed"],
        "runs": {
            c["run_id"]: {"variant": c["config"]["variant"], "seed": c["config"]["seed"]}
            for c in cells
        },
        "storage": "journal" if args.storage is None else "postgresql",
        "metrics": {
            "test_acc": True,
            "energy_paper_mj": False,
            "sops_paper_m": False,
            "train_img_per_s": True,
        },
    }
    try:
        write_study_json(study_dir / "study.json", info)
        st = load_study(study, open_storage(args.storage, study_dir), directions=DIRECTIONS)
        work_queue(st, cells, study_dir, args.storage, workers)
    except ValueError as err:  # ConfigError, storage URLs, study mismatches: one sentence
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        status = cell_status(st)
        print(
            f"\ninterrupted: {status['complete']} of {status['total']} runs are complete and "
            "stored; rerun the same command to finish the rest.",
            file=sys.stderr,
        )
        return 130

    written = report_outcome(st, cells, study_dir)
    print(f"Done in {(time.perf_counter() - started) / 60:.1f} min.")
    print(f"Report: {written.get('report.md', study_dir / 'report.md')}")
    print(f"Plots:  {study_dir / 'plots'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
