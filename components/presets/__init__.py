"""Named model configurations of four families, all composed from registered parts:

    spikformer     Zhou et al. ICLR 2023 (the spec's table, names without a family prefix)
    spikingformer  Zhou et al. 2023        sdt  Yao et al. NeurIPS 2023 (Spike-driven Transformer)
    qkformer       Zhou et al. NeurIPS 2024 (hierarchical)

plus small CPU models of each for the embedded digits data at matched parameter budgets.
`create_model(name, **overrides)` builds one; `FAMILIES[name].config(dataset, depth, dim, heads)`
builds any width of a family. Parameter counts of the authors' code: components/presets/FACTS.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from components.model import ModelConfig, Spikformer, count_params
from components.presets import qkformer, sdt, spikformer, spikingformer
from components.presets.base import DATASETS, Family, ModelPreset
from components.registry import UnknownNameError, unknown_choice_message

FAMILIES: dict[str, Family] = {
    m.FAMILY.name: m.FAMILY for m in (spikformer, spikingformer, sdt, qkformer)
}
MODEL_PRESETS: dict[str, ModelPreset] = {
    p.name: p for m in (spikformer, spikingformer, sdt, qkformer) for p in m.PRESETS
}
# Other names of the same presets: every Spikformer preset with its family prefix (so each
# family reads alike), and the name the issue uses for QKFormer's CIFAR model.
ALIASES: dict[str, str] = {
    **{f"spikformer-{p.name}": p.name for p in spikformer.PRESETS},
    "qkformer-cifar-4-384": "qkformer-cifar10-4-384",
}
# Spikformer's paper configurations (the spec's table); other families' are in FACTS.md.
PAPER_PRESETS = [p.name for p in spikformer.PRESETS if not p.dataset.startswith("digits")]


def family_names() -> list[str]:
    return list(FAMILIES)


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise UnknownNameError(unknown_choice_message("model family", name, list(FAMILIES)))
    return FAMILIES[name]


def get_preset(name: str) -> ModelPreset:
    """The preset of that name or alias; an unknown name is one sentence with the choices."""
    name = ALIASES.get(name, name)
    if name not in MODEL_PRESETS:
        raise UnknownNameError(unknown_choice_message("model preset", name, list(MODEL_PRESETS)))
    return MODEL_PRESETS[name]


def preset_config(name: str, **overrides: Any) -> ModelConfig:
    """The preset's ModelConfig with field overrides (validated like any ModelConfig)."""
    cfg = get_preset(name).model
    return replace(cfg, **overrides) if overrides else cfg


def create_model(name_or_config: str | ModelConfig, **overrides) -> Spikformer:
    """Build a model from a preset name (or alias) or a ModelConfig, with field overrides."""
    if isinstance(name_or_config, str):
        return Spikformer(preset_config(name_or_config, **overrides))
    cfg = name_or_config
    return Spikformer(replace(cfg, **overrides) if overrides else cfg)


def preset_params(name: str) -> int:
    """Exact parameter count of a preset, built on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        return count_params(create_model(name))


def list_models() -> list[dict]:
    """Every preset with its exact parameter count."""
    rows = []
    for p in MODEL_PRESETS.values():
        cfg = p.model
        rows.append(
            {
                "name": p.name,
                "family": p.family,
                "dataset": p.dataset,
                "depth": cfg.depth,
                "dim": cfg.dim,
                "heads": cfg.heads,
                "T": cfg.T,
                "img_size": cfg.img_size,
                "tokens": cfg.num_tokens,
                "num_classes": cfg.num_classes,
                "params": preset_params(p.name),
                "paper_params": p.paper_params,
                "note": p.note,
            }
        )
    return rows


__all__ = [
    "ALIASES",
    "DATASETS",
    "FAMILIES",
    "MODEL_PRESETS",
    "PAPER_PRESETS",
    "Family",
    "ModelPreset",
    "create_model",
    "family_names",
    "get_family",
    "get_preset",
    "list_models",
    "preset_config",
    "preset_params",
]
