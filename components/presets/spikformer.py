"""Spikformer (Zhou et al., ICLR 2023): SPS stem, SSA, SEW (spike-adding) residual. Every
configuration of the paper's tables (components/presets/FACTS.md), and small CPU models for
digits."""

from __future__ import annotations

from typing import Any

from components.presets.base import Family, ModelPreset, flat_widths

# The authors' CIFAR projections are nn.Linear (trunc-normal 0.02), their DVS and ImageNet ones
# Conv1d (PyTorch's default init): components/init.py.
_CONV_PROJECTIONS = ("cifar10_dvs", "dvs128_gesture", "imagenet")


def settings(dataset: str) -> dict[str, Any]:
    init = "pytorch_default" if dataset in _CONV_PROJECTIONS else "trunc_normal"
    return dict(stem="sps", residual="sew", attention="ssa", init=init)


FAMILY = Family(
    "spikformer",
    "Zhou et al., ICLR 2023, Spikformer: When Spiking Neural Network Meets Transformer",
    settings,
    flat_widths(),
)
_p = FAMILY.preset

PRESETS: list[ModelPreset] = [
    _p("cifar10", 4, 384, 12, "9.32M", name="cifar10-4-384"),
    _p("cifar10", 4, 256, 8, "4.15M", "heads not published", name="cifar10-4-256"),
    _p("cifar10", 2, 384, 12, "5.76M", "heads not published", name="cifar10-2-384"),
    _p("cifar100", 4, 384, 12, "", name="cifar100-4-384"),
    _p("cifar10_dvs", 2, 256, 16, "2.57M", name="cifar10dvs-2-256"),
    _p("dvs128_gesture", 2, 256, 8, "", name="dvs128-2-256"),
    _p("imagenet", 8, 384, 12, "16.81M", name="imagenet-8-384"),
    _p("imagenet", 6, 512, 8, "23.37M", name="imagenet-6-512"),
    _p("imagenet", 8, 512, 8, "29.68M", name="imagenet-8-512"),
    _p("imagenet", 10, 512, 8, "36.01M", name="imagenet-10-512"),
    _p("imagenet", 8, 768, 12, "66.34M", name="imagenet-8-768"),
    _p("digits", 2, 32, 2, "", "CPU default: digits studies", name="digits-2-32"),
    _p("digits", 2, 64, 4, "", "wider CPU model", name="digits-2-64"),
    _p("digits", 1, 32, 2, "", "smallest: tests, smoke runs", name="digits-1-32"),
    _p(
        "digits16",
        2,
        32,
        2,
        "",
        "digits resized to 16x16 (one SPS max-pool)",
        name="digits16-2-32",
    ),
]
