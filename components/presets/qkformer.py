"""QKFormer (Zhou et al., NeurIPS 2024, "QKFormer: Hierarchical Spiking Transformer using Q-K
Attention"), as in the authors' code (zhouchenlin2096/QKFormer): three stages of widths D/4,
D/2, D joined by patch embeddings with the deformed shortcut, Q-K token attention in the first
two stages and SSA in the last, SEW residuals, Q/K/V without biases. The CIFAR code has 1 + 1 +
(depth - 2) blocks and a shallow first embedding; the ImageNet code 1 + 2 + (depth - 3) and a
deep one that pools twice. Digits models have two stages (1 + rest), one merge."""

from __future__ import annotations

from typing import Any

from components.presets.base import Family, ModelPreset

_LAYOUT = {
    "imagenet": dict(stage_blocks=(1, 2), stem="qkformer_deep", merge="qkformer_pool_first"),
    "digits": dict(stage_blocks=(1,), stem="qkformer", merge="qkformer"),
}
_CIFAR = dict(stage_blocks=(1, 1), stem="qkformer", merge="qkformer")


def settings(dataset: str) -> dict[str, Any]:
    layout = _LAYOUT.get(dataset, _CIFAR)
    # init: the authors' projections are Conv1d/Conv2d (PyTorch's default; head trunc-normal)
    return dict(
        residual="sew",
        attention="ssa",
        early_attention="qk_token",
        qkv_bias=False,
        init="pytorch_default",
        **layout,
    )


FAMILY = Family(
    "qkformer",
    "Zhou et al., NeurIPS 2024, QKFormer: Hierarchical Spiking Transformer using Q-K Attention",
    settings,
    # digits: depth = 1 Q-K block + the SSA blocks; the first stage is dim / 2 wide
    {"depth": (2, 3, 4, 5), "dim": (16, 32, 48, 64), "heads": (1, 2, 4)},
)
_p = FAMILY.preset

PRESETS: list[ModelPreset] = [
    _p("cifar10", 4, 384, 8, "6.74M", "HST-4-384; 8 heads in every stage (fixed in the code)"),
    _p("cifar100", 4, 384, 8, "6.74M"),
    _p("imagenet", 10, 384, 6, "16.47M"),
    _p("imagenet", 10, 512, 8, "29.08M"),
    _p("imagenet", 10, 768, 12, "64.96M"),
    _p("digits", 3, 32, 2, "", "digits budget ~42k params (spikformer digits-2-32: 42,118)"),
    _p("digits", 3, 64, 4, "", "digits budget ~164k params (spikformer digits-2-64)"),
]
