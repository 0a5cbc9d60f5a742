"""Spikingformer (Zhou et al. 2023, arXiv 2304.11954, "Spikingformer: Spike-driven Residual
Learning for Transformer-based Spiking Neural Network"), as in the authors' code
(zhouchenlin2096/Spikingformer): pre-activation residual (a neuron before every weight layer,
membrane inputs added), its tokenizer (no position embedding), SSA without Q/K/V biases, and a
head on the mean membrane stream (no neuron before it)."""

from __future__ import annotations

from typing import Any

from components.presets.base import Family, ModelPreset, flat_widths


def settings(dataset: str) -> dict[str, Any]:
    # init: the authors' projections are Conv1d/Conv2d (PyTorch's default init; only the head
    # is an nn.Linear with trunc-normal 0.02)
    return dict(
        stem="spikingformer",
        residual="ms_analog",
        attention="ssa",
        qkv_bias=False,
        init="pytorch_default",
    )


FAMILY = Family(
    "spikingformer",
    "Zhou et al. 2023, arXiv 2304.11954, Spikingformer: Spike-driven Residual Learning for "
    "Transformer-based Spiking Neural Network",
    settings,
    flat_widths(),
)
_p = FAMILY.preset
_BUDGET = "digits budget ~42k params (spikformer digits-2-32: 42,118)"

PRESETS: list[ModelPreset] = [
    _p("cifar10", 4, 384, 12, "9.32M"),
    _p("cifar10", 4, 256, 8, "4.15M", "heads not published"),
    _p("cifar10", 2, 384, 12, "5.76M", "heads not published"),
    _p("cifar100", 4, 384, 12, "9.32M"),
    _p("imagenet", 8, 384, 12, "16.81M", "heads not published"),
    _p("imagenet", 8, 512, 8, "29.68M"),
    _p("imagenet", 8, 768, 8, "66.34M", "8 heads: the authors' imagenet.yml"),
    _p("digits", 2, 32, 2, "", _BUDGET),
    _p("digits", 2, 64, 4, "", "digits budget ~164k params (spikformer digits-2-64)"),
]
