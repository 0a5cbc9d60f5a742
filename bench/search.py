"""`python -m bench.search`: an Optuna search over a named space, then a seeded confirmation.

    python -m bench.search --trials 200                         # digits on CPU, TPE, accuracy
    python -m bench.search --objectives accuracy,energy         # Pareto front (TPE, no pruning)
    python -m bench.search --space cifar --storage postgresql://user@host/db   # on each machine
    python -m bench.search --sampler random --seed 3 --study digits-random-3   # baseline search

Every trial draws one config from the space (search_spaces/spaces.py), resolves it with the
positional settings (dataset=..., epochs=...) and trains it into results/<study>/runs/<run_id>/.
Trials are chosen on the validation split; --trials counts distinct configurations, shared by
every worker on every machine; rerunning the command resumes the study and its confirmation.
Afterwards the best config (or up to 3 Pareto configs) is re-trained on --confirm-seeds fresh
seeds against the dataset's default config at one budget in results/<study>-confirm/, the only
part that reads the test split.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from pathlib import Path

import optuna

from bench.config import ConfigError, canonical_key, parse_overrides, resolve
from bench.config.help import settings_help
from bench.confirm import run_confirm
from bench.engine import (
    PRUNERS,
    SAMPLERS,
    check_fingerprint,
    choose_workers,
    describe_liveness,
    interruptible,
    make_pruner,
    make_sampler,
    masked_command,
    storage_kind,
    with_liveness,
)
from bench.engine.workers import threads_per_worker
from bench.objective import OBJECTIVES, SearchPlan, open_search, run_search
from bench.plugins import add_import_flag, load_plugins
from bench.records import add_storage_flags
from bench.refresh import refresh
from bench.results import load_study
from bench.studyfile import StudyFile, check_results_folder, check_study_name
from bench.training import resolve_device
from search_spaces.spaces import SPACES, get_space

DEFAULT_TRIALS = 200


def parse_objectives(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or len(set(names)) != len(names) or any(n not in OBJECTIVES for n in names):
        raise ConfigError(
            f"--objectives {text!r} is not a list of distinct objectives: use accuracy, "
            "accuracy,energy (paper convention), accuracy,energy:MODEL (MODEL one of "
            f"{', '.join(m.split(':')[1] for m in OBJECTIVES if ':' in m)}) or accuracy,params."
        )
    return names


def _fixed(args: argparse.Namespace, space_fixed: dict, dataset: str) -> dict:
    parsed = parse_overrides(args.overrides)
    multi = [k for k, v in parsed.items() if len(v) > 1 or k == "seeds"]
    if multi:
        raise ConfigError(
            f"{multi[0]} has several values; a search takes one value per fixed setting "
            "(use python -m bench.ablate for sweeps)."
        )
    fixed = {canonical_key(k): v for k, v in space_fixed.items()}
    fixed.setdefault("data.name", dataset)
    fixed.update({k: v[0] for k, v in parsed.items()})
    fixed.setdefault("seed", 0)
    return fixed


def make_plan(args: argparse.Namespace, plugins: list[str] | None = None) -> SearchPlan:
    """Check every argument and build the plan; raises ConfigError with one sentence."""
    objectives, pruner = _check_flags(args)
    base_space = get_space(args.space)
    fixed = _fixed(args, base_space.fixed, base_space.dataset)
    pinned = {k.rsplit(".", 1)[-1]: v for k, v in fixed.items() if k.startswith("model.")}
    space = base_space.pin(pinned)
    fixed = {k: v for k, v in fixed.items() if k.rsplit(".", 1)[-1] not in space.searched()}
    if "model.heads" in fixed and "dim" in space.searched():
        fixed.pop("model.heads")  # pinned through the space (dims it divides)
    baseline = resolve(fixed)  # a bad fixed value (dataset, epochs, ...) fails here
    resolve_device(baseline.device)
    study = args.study or re.sub(
        r"[^A-Za-z0-9_.-]+",
        "-",
        f"search-{args.space}-{args.sampler}-{'-'.join(objectives)}"
        + (f"-seed{args.seed}" if args.seed else ""),
    )
    check_study_name(study)
    check_results_folder(Path(args.results))
    workers = choose_workers(args.workers, max(1, args.trials))
    epochs = baseline.train.epochs + baseline.train.cooldown_epochs
    return SearchPlan(
        study=study,
        study_dir=str(Path(args.results) / study),
        storage=with_liveness(args.storage, args.heartbeat, args.grace),
        space=args.space,
        pinned=pinned,
        fixed=fixed,
        objectives=objectives,
        sampler=args.sampler,
        seed=args.seed,
        pruner=pruner,
        trials=args.trials,
        epochs=epochs,
        workers=workers,
        # CPU: one thread per worker; small models gain nothing from more, and a second thread
        # on a busy machine made a digits trial ~8x slower (measured: 3 s vs 24 s).
        threads=threads_per_worker(workers) if baseline.device.startswith("cuda") else 1,
        max_params=args.max_params,
        max_energy_mj=args.max_energy,
        dataset=baseline.data.name,
        sampler_settings=make_sampler(args.sampler, args.seed, len(objectives))[1],
        pruner_settings=make_pruner(pruner, epochs)[1],
        plugins=list(plugins or []),
        artifacts=args.artifacts,
    )


def _check_flags(args: argparse.Namespace) -> tuple[list[str], str]:
    """The flags that need no config: counts, bounds, objectives, sampler and pruner names;
    returns the objectives and the pruner (median for one objective, none for several)."""
    for flag, value in (
        ("--trials", args.trials),
        ("--confirm-seeds", args.confirm_seeds),
        ("--seed", args.seed),
    ):
        if value is not None and value < 0:
            raise ConfigError(f"{flag} {value}: pass 0 or more.")
    for flag, value in (("--max-params", args.max_params), ("--max-energy", args.max_energy)):
        if value is not None and value <= 0:
            raise ConfigError(f"{flag} {value}: pass a positive number.")
    objectives = parse_objectives(args.objectives)
    pruner = args.pruner or ("median" if len(objectives) == 1 else "none")
    if pruner != "none" and len(objectives) > 1:
        raise ConfigError(
            f"--pruner {pruner} cannot prune a multi-objective search (Optuna compares one "
            "value per epoch): drop --pruner or pass --pruner none."
        )
    for kind, name, table in (("--sampler", args.sampler, SAMPLERS), ("--pruner", pruner, PRUNERS)):
        if name not in table:
            raise ConfigError(f"{kind} {name}: choose one of {', '.join(table)}.")
    return objectives, pruner


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.search",
        description=__doc__,
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("overrides", nargs="*", help="fixed settings: key=value")
    p.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help="distinct configurations to train, across all workers (default 200)",
    )
    p.add_argument("--space", default="digits", help=f"one of {', '.join(SPACES)}")
    p.add_argument("--sampler", default="tpe", help=f"one of {', '.join(SAMPLERS)} (default tpe)")
    p.add_argument(
        "--objectives",
        default="accuracy",
        help="accuracy (default), accuracy,energy or accuracy,params",
    )
    p.add_argument(
        "--pruner",
        default=None,
        help=f"one of {', '.join(PRUNERS)} (default median for one objective)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--max-params", type=int, default=None, help="at most this many parameters")
    p.add_argument(
        "--max-energy",
        type=float,
        default=None,
        help="at most this energy per image (mJ, paper convention)",
    )
    p.add_argument(
        "--confirm-seeds",
        type=int,
        default=None,
        help="re-train the winner(s) and both baselines on this many fresh seeds (default: "
        "the fewest, at least 6, with which the exact Wilcoxon test, Holm over all pairs of "
        "them, can reach p < 0.05: 7 for 3 models; 0: off)",
    )
    p.add_argument("--study", help="study name (default: from space, sampler, objectives)")
    p.add_argument("--storage", help="postgresql://... for several machines (default: a journal)")
    p.add_argument(
        "--workers",
        default="auto",
        help="worker processes here (auto: one per GPU, else per CPU core, <= 4)",
    )
    p.add_argument("--results", default="results", help="folder of study folders")
    p.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    add_storage_flags(p)
    add_import_flag(p)
    return p


def study_file(plan: SearchPlan, args: argparse.Namespace, argv: list[str]) -> StudyFile:
    base = resolve(plan.fixed)
    space = plan.space_obj()
    return StudyFile(
        kind="search",
        name=plan.study,
        dataset=plan.dataset,
        command=masked_command(["python -m bench.search", *argv]),
        fixed=plan.fixed,
        storage=storage_kind(plan.storage),
        metrics={"val_acc_pct": True, "test_acc_pct": True, "energy_paper_mj": False},
        space=space.describe(),
        objectives=plan.objectives,
        directions=plan.directions,
        sampler={"name": plan.sampler, **plan.sampler_settings},
        pruner={"name": plan.pruner, **plan.pruner_settings},
        constraints={"max_params": plan.max_params, "max_energy_mj": plan.max_energy_mj},
        trials=plan.trials,
        epochs=plan.epochs,
        confirm_seeds=args.confirm_seeds,
        confirm_study=f"{plan.study}-confirm" if args.confirm_seeds != 0 else None,
        baseline_config={
            k: getattr(base.model, k, getattr(base, k, None)) for k in space.searched()
        },
        optuna=optuna.__version__,
        plugins=plan.plugins,
    )


def _print_plan(plan: SearchPlan, args: argparse.Namespace) -> None:
    print(
        f"Search '{plan.study}': {plan.trials} distinct configurations over space "
        f"'{plan.space}' ({', '.join(plan.space_obj().searched())}) on {plan.dataset}, "
        f"{plan.epochs} epochs each, chosen on validation accuracy; sampler {plan.sampler} "
        f"(seed {plan.seed}), objectives {', '.join(plan.objectives)}, pruner {plan.pruner}, "
        f"{plan.workers} worker(s)."
    )
    if args.confirm_seeds != 0:
        seeds = args.confirm_seeds or "enough"
        print(
            f"Then the winner(s) x {seeds} fresh seeds vs the default config and the paper's "
            f"parts at the winner's size -> {plan.study_dir}-confirm/"
        )
    print(f"Results: {plan.study_dir}/ (storage: {storage_kind(plan.storage)})")
    print(describe_liveness(plan.storage))


def _incomplete(study_dir: Path) -> bool:
    """Whether a confirmation ended with a cell failed or missing (exit status 1)."""
    study = load_study(study_dir)
    return bool(study.missing) or any(r.get("status") != "complete" for r in study.records)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        plan = make_plan(args, load_plugins(args.plugins))
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print_plan(plan, args)
    if args.dry_run:
        print(study_file(plan, args, argv).to_dict())
        return 0
    study_dir = Path(plan.study_dir)
    st = None
    stored = {"storage": plan.storage, "artifacts": args.artifacts}
    try:
        with interruptible():  # SIGTERM stops the search like Ctrl-C
            st = run_search_and_file(plan, args, argv)
            written = refresh(study_dir, **stored)
            print(f"Search done in {(time.perf_counter() - started) / 60:.1f} min.")
            cdir = (
                run_confirm(st, plan, args.confirm_seeds, Path(args.results), plan.workers)
                if args.confirm_seeds != 0
                else None
            )
            if cdir is not None:
                print(f"Confirmation report: {refresh(cdir, **stored)['report.md']}")
    except ValueError as err:  # ConfigError, storage URLs, study mismatches: one sentence
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, no permission: bench.training.state.DiskError
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished trials and runs are stored; rerun the same command to "
            "resume the search and its confirmation.",
            file=sys.stderr,
        )
        return 130
    print(f"Report: {written['report.md']}")
    print(f"Plots:  {study_dir / 'plots'}/")
    where = storage_kind(plan.storage) if plan.storage else study_dir / "study.journal"
    print(f"Dashboard: optuna-dashboard {where}")
    return 1 if cdir is not None and _incomplete(cdir) else 0


def run_search_and_file(
    plan: SearchPlan, args: argparse.Namespace, argv: list[str]
) -> optuna.Study:
    study_dir = Path(plan.study_dir)
    info = study_file(plan, args, argv).merged_into(study_dir / "study.json")
    # A bad URL, or a study of this name with other settings, fails before anything is written.
    check_fingerprint(open_search(plan), info.fingerprint)
    info.write(study_dir)
    return run_search(plan)


if __name__ == "__main__":
    sys.exit(main())
