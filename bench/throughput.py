"""`python -m bench.throughput PRESET [--batch 32] [--rounds N] [--fast] [--compile] [--json]`

Training and eval images/s, FLOPs per image and peak memory of our Spikformer, measured side by
side in one process against spikingjelly 2.0's own Spikformer of the same shape (CIFAR-size
presets only): every round times one step of each path in turn (A B A B ...), and the ratio vs
spikingjelly is the median of the per-round ratios, so load from other processes cancels out.

Paths:
  sj          spikingjelly.activation_based.model.spikformer (fp32, eager)
  eager       our model, fp32, eager (the default LIF is FusedLIFNode, bit-identical to SJ's)
  fast        `make_fast(model)`: bf16 matrix products (Linear and the spike-input convs) with
              fp32 outputs, so BN inputs and membrane potentials stay fp32; eager
  fast+compile  the same under torch.compile (with --compile; first step takes minutes on CPU)

FLOPs: matrix products and convs only (torch.utils.flop_counter), forward and forward+backward.
Memory: on CUDA, torch.cuda.max_memory_allocated growth during one training step. On CPU torch
has no allocator statistics, so two figures are given: "act MB", the bytes of tensors autograd
saves for backward (distinct storages, exact), and "peak MB", the growth of the process's peak
resident set (VmHWM, reset through /proc/self/clear_refs) during one training step, which also
counts temporaries and allocator slack and is approximate.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict, dataclass

import torch
from torch import nn

from bench.timing import Runner, instrumented_step, peak_step_bytes, timed_rounds
from components import create_model
from components.fastpath import make_fast, spike_flip_fraction
from components.presets import get_preset

# ---------------------------------------------------------------------------------------------
# models and steps


def build_sj(preset: str) -> nn.Module | None:
    """spikingjelly's Spikformer with the preset's shape, or None where SJ has no equivalent
    (it supports 4x4 patches on 32x32 inputs with the SPS stem, SEW residual and SSA)."""
    from spikingjelly.activation_based.model.spikformer import Spikformer as SJSpikformer

    cfg = get_preset(preset).model
    if (cfg.img_size, cfg.stem, cfg.residual, cfg.attention) != (32, "sps", "sew", "ssa"):
        return None
    return SJSpikformer(
        T=cfg.T,
        in_channels=cfg.in_channels,
        img_size_h=32,
        img_size_w=32,
        patch_size=4,
        num_classes=cfg.num_classes,
        embed_dims=cfg.dim,
        num_heads=cfg.heads,
        mlp_ratio=cfg.mlp_ratio,
        depths=cfg.depth,
    )


# ---------------------------------------------------------------------------------------------
# measurement


@dataclass
class PathResult:
    path: str
    train_ips: float
    eval_ips: float
    train_ratio_vs_sj: float | None
    eval_ratio_vs_sj: float | None
    gflops_fwd: float | None
    gflops_train: float | None
    act_mb: float | None
    peak_mb: float | None


def measure(
    preset: str,
    batch: int = 32,
    rounds: int = 3,
    fast: bool = False,
    compile: bool = False,
    with_sj: bool = True,
    device: str | None = None,
    seed: int = 0,
) -> dict:
    """Measure every path side by side; returns {"results": [PathResult dicts], ...}."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    cfg = get_preset(preset).model
    x = torch.randn(batch, cfg.in_channels, cfg.img_size, cfg.img_size, device=dev)
    y = torch.randint(0, cfg.num_classes, (batch,), device=dev)
    runners = _runners(preset, dev, with_sj, fast, compile)
    flops, act, peak = _static_figures(runners, x, y)
    times = timed_rounds(runners, x, y, rounds, dev)

    def ratio(name: str, kind: str) -> float | None:
        if "sj" not in times:
            return None
        per_round = [a / b for a, b in zip(times["sj"][kind], times[name][kind], strict=True)]
        return statistics.median(per_round)

    results = []
    for r in runners:
        t, f = times[r.name], flops.get(r.name)
        results.append(
            PathResult(
                path=r.name,
                train_ips=batch / statistics.median(t["train"]),
                eval_ips=batch / statistics.median(t["eval"]),
                train_ratio_vs_sj=ratio(r.name, "train"),
                eval_ratio_vs_sj=ratio(r.name, "eval"),
                gflops_fwd=None if f is None else f[0] / 1e9,
                gflops_train=None if f is None else f[1] / 1e9,
                act_mb=act.get(r.name),
                peak_mb=peak.get(r.name),
            )
        )
    out = {
        "preset": preset,
        "batch": batch,
        "rounds": rounds,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "results": [asdict(r) for r in results],
        "step_seconds": times,  # raw per-round times, for anyone who wants other statistics
    }
    if fast or compile:
        out["fast_path_spikes"] = spike_flip_fraction(preset, x[: min(batch, 16)], seed)
    return out


def _runners(
    preset: str, dev: torch.device, with_sj: bool, fast: bool, compile: bool
) -> list[Runner]:
    runners: list[Runner] = []
    sj = build_sj(preset) if with_sj else None
    if sj is not None:
        runners.append(Runner("sj", sj.to(dev), reset=True, mean_t=True))
    runners.append(Runner("eager", create_model(preset).to(dev)))
    if fast:
        runners.append(Runner("fast", make_fast(create_model(preset).to(dev))))
    if compile:
        runners.append(Runner("fast+compile", make_fast(create_model(preset).to(dev), True)))
    return runners


def _static_figures(runners: list[Runner], x: torch.Tensor, y: torch.Tensor) -> tuple:
    """FLOPs and saved-activation MB (eager models only; the compiled one computes the same
    products) and peak step memory of each path; the instrumented step is the warm-up."""
    flops: dict[str, tuple[float, float]] = {}
    act: dict[str, float] = {}
    peak: dict[str, float | None] = {}
    for r in runners:
        if r.name == "fast+compile":
            r.train_step(x, y)  # compilation
        else:
            f_fwd, f_train, saved = instrumented_step(r, x, y)
            flops[r.name], act[r.name] = (f_fwd, f_train), saved / 2**20
        r.eval_step(x)  # warm-up
    for r in runners:
        p = peak_step_bytes(r, x, y)
        peak[r.name] = None if p is None else p / 2**20
    return flops, act, peak


def format_table(report: dict) -> str:
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    lines = [
        f"{report['preset']}, batch {report['batch']}, {report['rounds']} rounds (A B A B, "
        f"median), {report['device']}, {report['threads']} threads, torch {report['torch']}",
        f"{'path':<13} {'train img/s':>11} {'eval img/s':>10} {'train x SJ':>10} "
        f"{'eval x SJ':>9} {'GFLOP/img fwd':>13} {'fwd+bwd':>8} {'act MB':>8} {'peak MB':>8}",
    ]
    for r in report["results"]:
        lines.append(
            f"{r['path']:<13} {r['train_ips']:>11.2f} {r['eval_ips']:>10.2f} "
            f"{num(r['train_ratio_vs_sj'], '.2f'):>10} {num(r['eval_ratio_vs_sj'], '.2f'):>9} "
            f"{num(r['gflops_fwd'], '.3f'):>13} {num(r['gflops_train'], '.3f'):>8} "
            f"{num(r['act_mb'], '.0f'):>8} {num(r['peak_mb'], '.0f'):>8}"
        )
    s = report.get("fast_path_spikes")
    if s:
        lines.append(
            f"fast path vs fp32, same weights: {100 * s['flip_fraction']:.3f}% of neuron outputs "
            f"flip (firing rate {100 * s['firing_rate']:.2f}%), logits rel. diff "
            f"{s['logit_rel_diff']:.2e}"
        )
    lines.append(
        "act MB: tensors saved for backward; peak MB: peak RSS growth in one training step "
        "(CPU, approximate) or CUDA allocator peak growth."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("preset")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="add the bf16 fast path (eager)")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="add the fast path under torch.compile (minutes to compile on CPU)",
    )
    parser.add_argument("--no-sj", action="store_true", help="skip spikingjelly's model")
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (1 gives steadier figures on a shared machine)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    report = measure(
        args.preset, args.batch, args.rounds, args.fast, args.compile, not args.no_sj, args.device
    )
    print(json.dumps(report, indent=2) if args.json else format_table(report))


if __name__ == "__main__":
    main()
