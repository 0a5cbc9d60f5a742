"""Spike-driven Transformer v1 (Yao et al., NeurIPS 2023, "Spike-driven Transformer"), as in the
authors' code (BICLab/Spike-Driven-Transformer): its SPS variant (last block pooled on the
membrane, position embedding from a fired copy), SDSA (Q * LIF(sum over tokens of K * V)), the
membrane-shortcut residual, Q/K/V without biases, and a neuron on the token-mean membrane
before the head."""

from __future__ import annotations

from typing import Any

from components.presets.base import Family, ModelPreset, flat_widths


def settings(dataset: str) -> dict[str, Any]:
    # init: the authors' code draws every Conv2d (projections included) trunc-normal 0.02 and
    # leaves the head at PyTorch's default; "trunc_normal" is the closest registered scheme
    # (projections alike; stem convs and head differ)
    return dict(
        stem="sps", residual="ms_pooled", attention="sdsa", qkv_bias=False, init="trunc_normal"
    )


FAMILY = Family(
    "sdt",
    "Yao et al., NeurIPS 2023, Spike-driven Transformer",
    settings,
    flat_widths(),
)
_p = FAMILY.preset

PRESETS: list[ModelPreset] = [
    _p("cifar10", 2, 512, 8, "10.28M", "the paper's CIFAR model (conf/cifar10/2_512_300E_t4)"),
    _p("cifar100", 2, 512, 8, "10.28M"),
    _p("cifar10", 2, 256, 8, "", "conf/cifar10/2_256_300E_t4"),
    _p("imagenet", 8, 384, 8, "16.81M"),
    _p("imagenet", 6, 512, 8, "23.37M"),
    _p("imagenet", 8, 512, 8, "29.68M"),
    _p("imagenet", 10, 512, 8, "36.01M"),
    _p("imagenet", 8, 768, 8, "66.34M"),
    _p("digits", 2, 32, 2, "", "digits budget ~42k params (spikformer digits-2-32: 42,118)"),
    _p("digits", 2, 64, 4, "", "digits budget ~164k params (spikformer digits-2-64)"),
]
