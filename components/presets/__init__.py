"""Named model configurations: every configuration of the paper's table (spec) plus small CPU
models for the embedded digits data. `create_model(name, **overrides)` builds one."""

from __future__ import annotations

from dataclasses import dataclass, replace

from components.model import ModelConfig, Spikformer, count_params
from components.registry import UnknownNameError, unknown_choice_message

CIFAR = dict(in_channels=3, img_size=32, T=4, qkv_bias=True, attn_scale=0.125)
DVS = dict(in_channels=2, img_size=128, T=16, qkv_bias=False, attn_scale=0.25)
IMAGENET = dict(
    in_channels=3, img_size=224, T=4, qkv_bias=False, attn_scale=0.125, num_classes=1000
)
DIGITS = dict(in_channels=1, img_size=8, T=4, num_classes=10)


@dataclass(frozen=True)
class ModelPreset:
    name: str
    dataset: str
    model: ModelConfig
    paper_params: str  # what the paper's table prints ("" when not published)
    note: str = ""


def _preset(
    name: str,
    dataset: str,
    depth: int,
    dim: int,
    heads: int,
    base: dict,
    paper: str = "",
    note: str = "",
    **extra,
) -> ModelPreset:
    cfg = ModelConfig(depth=depth, dim=dim, heads=heads, **{**base, **extra})
    return ModelPreset(name, dataset, cfg, paper, note)


MODEL_PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in [
        _preset("cifar10-4-384", "cifar10", 4, 384, 12, CIFAR, "9.32M"),
        _preset("cifar10-4-256", "cifar10", 4, 256, 8, CIFAR, "4.15M", "heads not published"),
        _preset("cifar10-2-384", "cifar10", 2, 384, 12, CIFAR, "5.76M", "heads not published"),
        _preset("cifar100-4-384", "cifar100", 4, 384, 12, CIFAR, "", num_classes=100),
        _preset("cifar10dvs-2-256", "cifar10_dvs", 2, 256, 16, DVS, "2.57M"),
        _preset("dvs128-2-256", "dvs128_gesture", 2, 256, 8, DVS, "", num_classes=11),
        _preset("imagenet-8-384", "imagenet", 8, 384, 12, IMAGENET, "16.81M"),
        _preset("imagenet-6-512", "imagenet", 6, 512, 8, IMAGENET, "23.37M"),
        _preset("imagenet-8-512", "imagenet", 8, 512, 8, IMAGENET, "29.68M"),
        _preset("imagenet-10-512", "imagenet", 10, 512, 8, IMAGENET, "36.01M"),
        _preset("imagenet-8-768", "imagenet", 8, 768, 12, IMAGENET, "66.34M"),
        _preset("digits-2-32", "digits", 2, 32, 2, DIGITS, "", "CPU default: digits studies"),
        _preset("digits-2-64", "digits", 2, 64, 4, DIGITS, "", "wider CPU model"),
        _preset("digits-1-32", "digits", 1, 32, 2, DIGITS, "", "smallest: tests, smoke runs"),
        _preset(
            "digits16-2-32",
            "digits16",
            2,
            32,
            2,
            {**DIGITS, "img_size": 16},
            "",
            "digits resized to 16x16 (one SPS max-pool)",
        ),
    ]
}
PAPER_PRESETS = [n for n, p in MODEL_PRESETS.items() if not p.dataset.startswith("digits")]


def get_preset(name: str) -> ModelPreset:
    if name not in MODEL_PRESETS:
        raise UnknownNameError(unknown_choice_message("model preset", name, list(MODEL_PRESETS)))
    return MODEL_PRESETS[name]


def create_model(name_or_config: str | ModelConfig, **overrides) -> Spikformer:
    """Build a Spikformer from a preset name or a ModelConfig, with field overrides."""
    if isinstance(name_or_config, str):
        cfg = get_preset(name_or_config).model
    else:
        cfg = name_or_config
    return Spikformer(replace(cfg, **overrides) if overrides else cfg)


def list_models() -> list[dict]:
    """Every preset with its exact parameter count (builds each model once, on CPU)."""
    rows = []
    for p in MODEL_PRESETS.values():
        cfg = p.model
        rows.append(
            {
                "name": p.name,
                "dataset": p.dataset,
                "depth": cfg.depth,
                "dim": cfg.dim,
                "heads": cfg.heads,
                "T": cfg.T,
                "img_size": cfg.img_size,
                "tokens": cfg.num_tokens,
                "num_classes": cfg.num_classes,
                "params": count_params(Spikformer(cfg)),
                "paper_params": p.paper_params,
                "note": p.note,
            }
        )
    return rows
