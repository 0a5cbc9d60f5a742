"""Energy ladder of a trained run on its real data, or of an untrained preset (clearly labelled).

    python -m bench.energy RUN_DIR [--json] [split=test|val] [--limit N] [--batch N]
    python -m bench.energy PRESET --calibrate-bn N [--batch 4] [--json]

RUN_DIR holds record.json (its "config" rebuilds the model) and checkpoint.pt (the weights,
loaded with weights_only=True). The ladder (components/energy) is measured per image over the
split in its fixed order, all of it unless --limit N takes the first N images. An untrained
preset is measured on one random batch after BN statistics are set from N other random
batches; every line it prints says so. --json prints the ladder object: `counts` per
component, `energy_mj` per model (paper, paper_once, strict, value_weighted, memory, fp16,
int8, ann_twin), their ANN-twin ratios, per-layer rows and the `source` of the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from bench.datasets import load_data
from bench.training.reopen import load_run
from components.energy import calibrate_bn, component_table, ladder_lines, measure_ladder
from components.presets import MODEL_PRESETS, create_model

SPLITS = ("test", "val")


def _first(batches: Any, limit: int | None) -> Iterator[torch.Tensor]:
    """Inputs of the first `limit` samples (all when None), the last batch cut to fit."""
    left = limit
    for x, _ in batches:
        if left is not None:
            if left <= 0:
                return
            x = x[:left]
            left -= len(x)
        yield x


def run_ladder(
    run_dir: Path | str, split: str = "test", limit: int | None = None, batch: int = 64
) -> dict[str, Any]:
    """The ladder of a trained run's final weights on its `split` (first `limit` images)."""
    if split not in SPLITS:
        raise ValueError(f"split={split} is not one of {', '.join(SPLITS)}; pick one of them.")
    cfg, model, record = load_run(run_dir)
    data = load_data(
        cfg.data.name,
        data_root=cfg.data.root,
        batch_size=batch,
        test_batch_size=batch,
        workers=cfg.data.workers,
        T=cfg.model.T,
        seed=cfg.seed,
        augment=False,
    )
    loader = getattr(data, split)
    total = len(loader.dataset)
    taken = total if limit is None else min(limit, total)
    source = (
        f"trained weights (epoch {record.get('checkpoint_epoch', '?')}), {split} split, "
        f"{'all ' if taken == total else 'first '}{taken} of {total} images"
    )
    return measure_ladder(model, _first(loader, limit), source=source)


def preset_ladder(preset: str, calibrate: int, batch: int = 4, seed: int = 0) -> dict[str, Any]:
    """The ladder of an untrained preset on one random batch, BN set from `calibrate` others."""
    if preset not in MODEL_PRESETS:
        raise ValueError(
            f"'{preset}' is neither a run folder nor a model preset; pass a folder with "
            f"record.json, or one of: {', '.join(MODEL_PRESETS)}."
        )
    torch.manual_seed(seed)
    model = create_model(preset)
    cfg = model.cfg
    shape = (batch, cfg.in_channels, cfg.img_size, cfg.img_size)
    if calibrate:
        calibrate_bn(model, [torch.randn(shape) for _ in range(calibrate)])
    label = (
        f"untrained, BN calibrated on {calibrate} random batches"
        if calibrate
        else "untrained, BN not calibrated (near-silent; do not quote)"
    )
    return measure_ladder(model, [torch.randn(shape)], source=label)


def describe(result: dict[str, Any], label: str = "") -> list[str]:
    """The printed form: a header, the component table and one line per model."""
    prefix = f"[{label}] " if label else f"{result['source']}: "
    head = (
        f"{prefix}T={result['T']}, attention products in {result['order']} order, "
        f"per image over {result['samples']} samples"
    )
    return [head, *component_table(result, label), *ladder_lines(result, label)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.energy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", help="run folder (record.json + checkpoint.pt) or preset")
    parser.add_argument("settings", nargs="*", help="split=test|val (run folders)")
    parser.add_argument("--json", action="store_true", help="print the ladder as JSON")
    parser.add_argument("--limit", type=int, default=None, help="first N images of the split")
    parser.add_argument("--batch", type=int, default=None, help="batch size (64 / 4)")
    parser.add_argument(
        "--calibrate-bn",
        type=int,
        default=0,
        metavar="N",
        help="untrained preset: set BN from N random batches first",
    )
    args = parser.parse_intermixed_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit}: pass a positive number of images.")
    settings = dict(s.partition("=")[::2] for s in args.settings)
    unknown = set(settings) - {"split"}
    try:
        if unknown or any("=" not in s for s in args.settings):
            raise ValueError(f"Cannot use {args.settings}; the only setting is split=test|val.")
        if Path(args.target).is_dir():
            result = run_ladder(
                args.target, settings.get("split", "test"), args.limit, args.batch or 64
            )
            label = ""
        else:
            result = preset_ladder(args.target, args.calibrate_bn, args.batch or 4)
            label = result["source"]
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print("\n".join(describe(result, label)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
