"""A study's controlled speed and memory pass, run once after its training (issue 10, item 6).

Training runs share a machine with each other and with whatever else runs, so the images/s they
record measure the machine's load as much as the model: they stay descriptive. This pass is the
only source of speed verdicts: every variant's model (initialised with seed 0, untrained: speed
does not depend on the weights' values) timed in ONE process with fixed threads on the SAME
batch of the study's own data, after a warm-up, in `rounds` rounds that each time every variant
once, back to back, so that load falls on all of them alike; the rounds are the pairing unit of
the comparison. Before and during the pass the CPU time of every other process is read from
/proc/stat: where it exceeds `BUSY_CORES`, the machine was not quiet and the report withholds
the verdicts. Memory of one training step is measured once per variant (exact bytes autograd
saves on CPU, allocator peak on CUDA; bench.timing).

Files: speed.csv (variant, round, train_img_per_s, eval_img_per_s), speed.json (how it ran).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench.config import RunConfig
from bench.datasets import load_data
from bench.files import write_text
from bench.timing import Runner, instrumented_step, peak_step_bytes, timed_rounds
from bench.training import resolve_device
from bench.training.environment import device_name
from components.model import Spikformer, count_params

__all__ = [
    "BUSY_CORES",
    "SPEED_CSV",
    "SPEED_JSON",
    "load_speed",
    "other_cpu_cores",
    "run_speed_pass",
    "speed_pass_needed",
]

SPEED_CSV = "speed.csv"
SPEED_JSON = "speed.json"
ROUNDS = 10  # paired rounds: the exact Wilcoxon test can reach p = 2 / 2**10 = 0.002
WARMUP = 3
BUSY_CORES = 0.25  # other processes' CPU, in cores, above which the machine is not quiet


def _busy_jiffies() -> int | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal


class _OtherLoad:
    """CPU used by every other process since construction, in cores (Linux; None elsewhere)."""

    def __init__(self) -> None:
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.busy, self.own, self.wall = _busy_jiffies(), time.process_time(), time.monotonic()

    def cores(self) -> float | None:
        busy = _busy_jiffies()
        if busy is None or self.busy is None:
            return None
        wall = max(time.monotonic() - self.wall, 1e-9)
        others = (busy - self.busy) / self.hz - (time.process_time() - self.own)
        return max(0.0, others / wall)


def other_cpu_cores(seconds: float = 1.0) -> float | None:
    """Cores' worth of CPU that other processes use, measured over `seconds`."""
    load = _OtherLoad()
    time.sleep(seconds)
    return load.cores()


def speed_pass_needed(study_dir: Path, variants: list[str]) -> bool:
    """Whether the study lacks a pass over exactly these variants."""
    info = Path(study_dir) / SPEED_JSON
    if not info.is_file() or not (Path(study_dir) / SPEED_CSV).is_file():
        return True
    try:
        return json.loads(info.read_text()).get("variants") != list(variants)
    except (OSError, ValueError):
        return True


def _batch(cfg: RunConfig, cache: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The first test batch of the study's data at its training batch size: one tensor for all
    variants that see the same input (images at any T), one per T for event frames."""
    key = (cfg.data.name, cfg.data.root, cfg.model.T, cfg.train.batch_size)
    if key not in cache:
        b = cfg.train.batch_size
        data = load_data(
            cfg.data.name, data_root=cfg.data.root, batch_size=b, test_batch_size=b, T=cfg.model.T
        )
        x, y = next(iter(data.test))
        same = [v for v in cache.values() if v[0].shape == x.shape and torch.equal(v[0], x)]
        cache[key] = same[0] if same else (x, y)
    return cache[key]


def run_speed_pass(
    study_dir: Path, configs: dict[str, RunConfig], rounds: int = ROUNDS, threads: int = 1
) -> Path:
    """Time every variant's model as described above; write speed.csv and speed.json."""
    first = next(iter(configs.values()))
    device = resolve_device(first.device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cache: dict = {}
        quiet_before = other_cpu_cores(1.0)
        during = _OtherLoad()
        runners, figures, times = [], {}, {}
        inputs = {label: _batch(cfg, cache) for label, cfg in configs.items()}
        for label, cfg in configs.items():
            torch.manual_seed(0)
            runner = Runner(label, Spikformer(cfg.model).to(device))
            x, y = (t.to(device) for t in inputs[label])
            _, _, saved = instrumented_step(runner, x, y)  # the first of the warm-up steps
            for _ in range(WARMUP - 1):
                runner.train_step(x, y)
                runner.eval_step(x)
            peak = peak_step_bytes(runner, x, y)
            figures[label] = {
                "params": count_params(runner.model),
                "act_mb": saved / 2**20,
                "peak_mb": None if peak is None else peak / 2**20,
                "batch": len(x),
            }
            runners.append(runner)
        # one T (one input) per group of runners: timed_rounds times them back to back
        for key in dict.fromkeys(id(inputs[r.name][0]) for r in runners):
            group = [r for r in runners if id(inputs[r.name][0]) == key]
            x, y = (t.to(device) for t in inputs[group[0].name])
            times.update(timed_rounds(group, x, y, rounds, device))
        load_during = during.cores()
    finally:
        torch.set_num_threads(old_threads)
    rows = [
        {
            "variant": label,
            "round": i,
            "train_img_per_s": figures[label]["batch"] / times[label]["train"][i],
            "eval_img_per_s": figures[label]["batch"] / times[label]["eval"][i],
        }
        for label in configs
        for i in range(rounds)
    ]
    busy = [v for v in (quiet_before, load_during) if v is not None and v > BUSY_CORES]
    info: dict[str, Any] = {
        "variants": list(configs),
        "rounds": rounds,
        "warmup_steps": WARMUP,
        "threads": threads,
        "device": device_name(device),
        "input": f"the first test batch of {first.data.name} (seed 0), the same for every variant",
        "weights": "seed 0 initialisation (speed does not depend on trained values)",
        "other_cpu_cores_before": quiet_before,
        "other_cpu_cores_during": load_during,
        "quiet": None if quiet_before is None else not busy,
        "busy_threshold_cores": BUSY_CORES,
        "memory": figures,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    study_dir = Path(study_dir)
    write_text(study_dir / SPEED_CSV, pd.DataFrame(rows).to_csv(index=False))
    write_text(study_dir / SPEED_JSON, json.dumps(info, indent=1) + "\n")
    return study_dir / SPEED_CSV


def load_speed(study_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The stored pass (rounds as the `seed` column, for bench.stats), or None."""
    csv, info = Path(study_dir) / SPEED_CSV, Path(study_dir) / SPEED_JSON
    if not csv.is_file() or not info.is_file():
        return None
    frame = pd.read_csv(csv).rename(columns={"round": "seed"})
    return frame, json.loads(info.read_text())
