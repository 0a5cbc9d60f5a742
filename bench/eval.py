"""`python -m bench.eval RUN_DIR [split=test|val] [--json]`: reopen a trained run and evaluate it.

Loads the run's checkpoint (weights_only) and config, evaluates it on the real split in its
fixed order, and prints accuracy, mean firing rate per layer group and the energy ladder of the
trained model on that data (components/energy). On the test split of a finished run the
accuracy equals the record's final test accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch

from bench.datasets import DataError, load_data
from bench.plugins import add_import_flag, load_plugins
from bench.training.reopen import load_run
from bench.training.steps import evaluate
from components.energy import EnergyMeter, ladder_lines

SPLITS = ("test", "val")


def evaluate_run(run_dir: str, split: str = "test") -> dict[str, Any]:
    """Accuracy, loss, firing rates and the energy ladder of a finished run on `split`."""
    cfg, model, record = load_run(run_dir)
    data = load_data(
        cfg.data.name,
        data_root=cfg.data.root,
        batch_size=cfg.train.batch_size,
        test_batch_size=cfg.data.test_batch_size,
        T=cfg.model.T,
        seed=cfg.seed,
        augment=False,
    )
    meter = EnergyMeter(model)
    loader = data.test if split == "test" else data.val
    out = evaluate(model, loader, torch.device("cpu"), "none", prefix=split, hooks=meter)
    energy = meter.report()
    return {
        "run_id": record["run_id"],
        "split": split,
        "samples": len(out["correct"]),
        "accuracy": out[f"{split}_acc"],
        "loss": out[f"{split}_loss"],
        "record_test_acc": (record.get("metrics") or {}).get("test_acc"),
        "firing_rates": energy.firing_rates,
        "energy": energy.ladder(
            source=f"trained weights, {split} split ({len(out['correct'])} images)"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", help="a run folder: results/<study>/runs/<run id>")
    parser.add_argument("settings", nargs="*", help="split=test (default) or split=val")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_import_flag(parser)
    args = parser.parse_args(argv)
    try:
        load_plugins(args.plugins)
        split = "test"
        for s in args.settings:
            key, _, value = s.partition("=")
            if key != "split" or value not in SPLITS:
                raise ValueError(
                    f"'{s}' is not a setting of bench.eval: write split=test or split=val."
                )
            split = value
        result = evaluate_run(args.run_dir, split)
    except (ValueError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(
        f"run {result['run_id']}: {split} accuracy {100 * result['accuracy']:.2f}% on "
        f"{result['samples']} images (record's final test accuracy: "
        f"{100 * (result['record_test_acc'] or float('nan')):.2f}%)"
    )
    rates = result["firing_rates"]
    if rates:
        mean = sum(rates.values()) / len(rates)
        print(f"mean firing rate over {len(rates)} neuron layers: {mean:.4f}")
    print("\n".join(ladder_lines(result["energy"], label="trained")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
