"""`python benchmarks/gpu_check.py [--quick] [--out FILE.json]`: the GPU check of issue 12,
about 5 minutes on one GPU; it prints every figure (and writes them to --out as JSON).

1. Training-step throughput of the paper presets, ours against spikingjelly 2.0's Spikformer
   (`spikingjelly.activation_based.model.spikformer`, CIFAR-size presets only: it has no
   128x128 or 224x224 equivalent), with AMP off (fp32) and on: `bench.throughput.measure`, the
   second time inside fp16 autocast (forward and backward; no GradScaler, whose unscale pass
   a real run adds).
2. One epoch of SYNTHETIC CIFAR-shaped data (random uint8 images written in torchvision's
   cifar-10-batches-py format by tests/data_fixtures.py; their md5 sums cannot match, so only
   the files' existence is checked) through the real loader and training path (`train_run`,
   protocol=paper: the authors' RandAugment, uint8 mixup, drop_last), amp=fp16 and amp=none.
3. The study engine on the same data: `python -m bench.ablate ... --workers auto` (one worker
   per GPU), 2 variants x 1 seed x 1 epoch; wall time and the runs' status.

Without a visible CUDA GPU it says so in one sentence and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
# The fixture's md5 sums cannot match the official ones: a plugin module every process of the
# check imports (this one and the study's workers) checks existence only.
MD5_PLUGIN = "gpu_check_synthetic_cifar"
MD5_PLUGIN_TEXT = '''"""gpu_check: a synthetic CIFAR fixture; check that files exist, not md5."""
from pathlib import Path

import torchvision.datasets.cifar as tv_cifar

tv_cifar.check_integrity = lambda path, md5=None: Path(path).is_file()
'''
# (preset, batch): the paper's batch per GPU
PRESETS = [("cifar10-4-384", 128), ("cifar10dvs-2-256", 16), ("imagenet-8-512", 24)]


def step_throughput(quick: bool) -> list[dict[str, Any]]:
    from bench.throughput import format_table, measure

    reports = []
    for preset, batch in PRESETS[:1] if quick else PRESETS:
        for amp in ("none", "fp16"):
            torch.cuda.empty_cache()
            autocast = torch.autocast("cuda", dtype=torch.float16, enabled=amp == "fp16")
            with autocast:
                report = measure(preset, batch=batch, rounds=3 if quick else 5, device="cuda")
            report["amp"] = amp
            print(f"\n[step throughput, amp={amp}]\n{format_table(report)}", flush=True)
            reports.append(report)
    return reports


def synthetic_cifar(folder: Path, per_batch: int) -> Path:
    """A CIFAR10 folder of 5 x per_batch random training images and per_batch / 5 test images,
    plus the md5 plugin on sys.path (imported here; the workers import it by name)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from data_fixtures import write_cifar10

    write_cifar10(folder, per_batch=per_batch, n_test=max(10, per_batch // 5), balanced=True)
    (folder / f"{MD5_PLUGIN}.py").write_text(MD5_PLUGIN_TEXT)
    sys.path.insert(0, str(folder))
    __import__(MD5_PLUGIN)
    return folder


def one_epoch(
    root: Path, out: Path, settings: dict[str, Any], amps: tuple[str, ...] = ("fp16", "none")
) -> list[dict[str, Any]]:
    """One epoch of the paper CIFAR10 recipe per amp; `settings` are further overrides."""
    from bench.config import resolve
    from bench.training import train_run

    rows = []
    for amp in amps:
        base = {"data.name": "cifar10", "data_root": str(root), "epochs": 1, "cooldown_epochs": 0}
        cfg = resolve({**base, **settings, "amp": amp})
        started = time.perf_counter()
        record = train_run(cfg, out / f"epoch-{amp}", quiet=True)
        curve = (record.get("curves") or [{}])[-1]
        row = {
            "amp": amp,
            "status": record["status"],
            "error": record.get("error"),
            "train_size": record.get("data", {}).get("train_size"),
            "train_img_per_s": curve.get("train_img_per_s"),
            "eval_img_per_s": curve.get("eval_img_per_s"),
            "epoch_seconds": curve.get("epoch_seconds"),
            "wall_seconds": time.perf_counter() - started,
        }
        print(f"[one epoch, synthetic CIFAR, protocol=paper] {json.dumps(row)}", flush=True)
        rows.append(row)
    return rows


def study_engine(root: Path, results: Path, settings: list[str]) -> dict[str, Any]:
    """2 variants x 1 seed x 1 epoch of CIFAR10 through `bench.ablate --workers auto`."""
    cmd = [
        sys.executable, "-m", "bench.ablate", "dataset=cifar10", f"data_root={root}",
        "attention=ssa,vsa", "seeds=1", "epochs=1", "cooldown_epochs=0", *settings,
        "--workers", "auto", "--results", str(results), "--study", "gpu-check",
        "--import", MD5_PLUGIN,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(ROOT)])}
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
    wall = time.perf_counter() - started
    records = [json.loads(p.read_text()) for p in results.rglob("record.json")]
    out = {
        "command": " ".join(cmd),
        "returncode": done.returncode,
        "workers": torch.cuda.device_count(),
        "wall_seconds": wall,
        "runs": [(r.get("status"), r.get("device"), r.get("error")) for r in records],
        "output_tail": (done.stdout + done.stderr)[-3000:],
    }
    print(f"\n[study engine, --workers auto] rc={done.returncode}, {wall:.1f} s: {out['runs']}")
    print(out["output_tail"], flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CIFAR preset only, fewer rounds")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("No CUDA GPU is visible, so the GPU check has nothing to measure: run it on a "
              "machine with an NVIDIA GPU (CUDA_VISIBLE_DEVICES set to at least one).")  # fmt: skip
        return 0
    figures: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "gpus": torch.cuda.device_count(),
        "torch": torch.__version__,
    }
    print(f"GPU check on {figures['gpus']} x {figures['gpu']}, torch {figures['torch']}")
    started = time.perf_counter()
    figures["step_throughput"] = step_throughput(args.quick)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        root = synthetic_cifar(Path(tmp) / "data", 400 if args.quick else 2000)
        workers = 4 if args.quick else 8
        settings = {"device": "cuda", "loader_workers": workers}
        figures["one_epoch"] = one_epoch(root, Path(tmp) / "runs", settings)
        figures["study_engine"] = study_engine(root, Path(tmp) / "results", ["loader_workers=4"])
    figures["total_seconds"] = time.perf_counter() - started
    print(f"\nGPU check done in {figures['total_seconds']:.0f} s.")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
