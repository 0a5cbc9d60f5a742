"""What pruning saves, and whether TPE beats random search, at equal trial budgets on digits.

    python -m benchmarks.search_pruning --trials 40 --search-seeds 0,1,2,3,4,5

Runs one `bench.search` study per (condition, search seed), no confirmation:
  tpe+median  TPE with the median pruner (the default search)
  tpe         TPE without pruning
  random      random search without pruning (the baseline sampler)
and prints, per condition, the best final-epoch validation accuracy (what the search selects on;
the test split is left to a confirmation), the epochs actually trained and
the fraction pruning saved, then paired comparisons by search seed through bench.stats
(tpe vs random; tpe+median vs tpe). Training seed 0 everywhere, so a condition differs from
another only by its sampler/pruner; the search seed is the pairing unit. Studies are resumable:
rerunning with a larger --trials extends them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from bench import search, stats

CONDITIONS = {
    "tpe+median": ["--sampler", "tpe", "--pruner", "median"],
    "tpe": ["--sampler", "tpe", "--pruner", "none"],
    "random": ["--sampler", "random", "--pruner", "none"],
}
COMPARISONS = [("tpe", "random"), ("tpe+median", "tpe")]  # (variant, baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--search-seeds", default="0,1,2,3,4,5")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--workers", default="auto")
    parser.add_argument("--results", default="results/search-benchmark")
    parser.add_argument("overrides", nargs="*", help="fixed settings passed to bench.search")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.search_seeds.split(",")]
    conditions = args.conditions.split(",")
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        print(
            f"error: unknown condition {unknown[0]}: use {', '.join(CONDITIONS)}.", file=sys.stderr
        )
        return 2
    print(
        f"{len(conditions)} conditions x {len(seeds)} search seeds x {args.trials} trials "
        f"-> {args.results}/"
    )
    rows = []
    for seed in seeds:
        for cond in conditions:
            name = f"bench-{cond.replace('+', '-')}-s{seed}"
            started = time.perf_counter()
            code = search.main(
                [
                    *CONDITIONS[cond],
                    "--trials",
                    str(args.trials),
                    "--seed",
                    str(seed),
                    "--study",
                    name,
                    "--confirm-seeds",
                    "0",
                    "--workers",
                    args.workers,
                    "--results",
                    args.results,
                    *args.overrides,
                ]
            )
            if code:
                return code
            best = json.loads((Path(args.results) / name / "best.json").read_text())
            s = best["summary"]
            rows.append(
                {
                    "variant": cond,
                    "seed": seed,
                    "best_val_acc_pct": 100 * best["best"]["values"]["val_acc"]
                    if best["best"]
                    else None,
                    "epochs_run": s["epochs_run"],
                    "epochs_saved_pct": 100 * (s["epochs_saved_fraction"] or 0.0),
                    "pruned": s["trials"].get("pruned", 0),
                    "sec_per_trial": s["mean_seconds_per_trial"],
                    "wall_min_this_call": (time.perf_counter() - started) / 60,
                }
            )
    frame = pd.DataFrame(rows)
    out = Path(args.results) / "search_benchmark.csv"
    frame.to_csv(out, index=False)
    print("\nPer condition (mean over search seeds):")
    print(
        frame.groupby("variant", sort=False)[
            ["best_val_acc_pct", "epochs_run", "epochs_saved_pct", "pruned", "sec_per_trial"]
        ]
        .mean()
        .round(2)
        .to_string()
    )
    for variant, baseline in COMPARISONS:
        if {variant, baseline} <= set(conditions):
            pair = frame[frame["variant"].isin([baseline, variant])]
            for metric, hib in (("best_val_acc_pct", True), ("epochs_run", False)):
                try:
                    table = stats.compare_to_baseline(pair, baseline, metric, higher_is_better=hib)
                except ValueError as err:  # fewer than 2 search seeds: no paired test
                    print(f"\n{variant} vs {baseline}, {metric}: not compared ({err})")
                    continue
                print(f"\n{variant} vs {baseline}, {metric}: {table.iloc[0]['verdict']}")
    print(f"\nTable: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
