"""`python -m bench.train`: train ONE configuration and write its run record.

    python -m bench.train [key=value ...] [--out DIR] [--quiet]
    torchrun --nproc_per_node=N -m bench.train [key=value ...]      # DDP, one record by rank 0

The loop itself is `bench.training.train_run`; this is its command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from bench.config import ConfigError, parse_overrides, resolve
from bench.config.help import settings_help
from bench.plugins import add_import_flag, load_plugins
from bench.training import RECORD, resolve_device, train_run
from bench.training.environment import distributed_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train",
        description=__doc__,
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="key=value settings, e.g. attention=vsa")
    parser.add_argument("--out", help="run folder (default: runs/<run id>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (workers)")
    add_import_flag(parser)
    args = parser.parse_args(argv)
    try:
        load_plugins(args.plugins)
        parsed = parse_overrides(args.overrides)
        sweeps = [k for k, v in parsed.items() if len(v) > 1 or k == "seeds"]
        if sweeps:
            raise ConfigError(
                f"bench.train runs one configuration; {sweeps[0]} has several "
                "values: use python -m bench.ablate for sweeps."
            )
        cfg = resolve({k: v[0] for k, v in parsed.items()})
        resolve_device(cfg.device)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rank, world, _ = distributed_env()
    if world > 1:
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    out = Path(args.out) if args.out else Path("runs") / cfg.run_id
    if rank == 0:
        epochs = cfg.train.epochs + cfg.train.cooldown_epochs
        print(
            f"Training {cfg.preset} on {cfg.data.name} (protocol {cfg.protocol}, {epochs} epochs, "
            f"seed {cfg.seed}, {world} process{'es' if world > 1 else ''}) -> {out}"
        )
    try:
        record = train_run(cfg, out, quiet=args.quiet)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the last finished epoch is saved in {out}; rerun to resume.",
            file=sys.stderr,
        )
        return 130
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    if rank == 0:
        if record["status"] == "complete":
            mt = record["metrics"]
            print(f"final test accuracy {mt['test_acc']:.4f} (last epoch) | record: {out / RECORD}")
        else:
            print(f"run {record['status']}: {record['error']} | record: {out / RECORD}")
    return 0 if record["status"] == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
