"""A search space over architectures: the family (Spikformer, Spikingformer, Spike-driven
Transformer, QKFormer, each as its digits-sized preset) and, per family, its own widths, as
conditional parameters (`depth_<family>`, `dim_<family>`, `heads_<family>`), so TPE models each
family's widths on their own and every sampled configuration builds."""

from __future__ import annotations

from typing import Any

from components.presets import FAMILIES, get_preset
from search_spaces.spaces import Param, SearchSpace, register_space

__all__ = ["family_space"]


def _family(so_far: dict[str, Any]) -> str:
    return get_preset(so_far["preset"]).family


def _width(key: str) -> Param:
    values = sorted({v for f in FAMILIES.values() for v in f.widths[key]})

    def choices(_: tuple, so_far: dict[str, Any]) -> tuple:
        allowed = FAMILIES[_family(so_far)].widths[key]
        if key == "heads":  # heads divide the first stage's width (dim / 2^merges)
            cfg = get_preset(so_far["preset"]).model
            first = so_far["dim"] // 2 ** len(cfg.stage_blocks)
            allowed = tuple(h for h in allowed if first % h == 0)
        return tuple(allowed)

    return Param(
        key,
        "categorical",
        tuple(values),
        choices=choices,
        optuna_name=lambda s: f"{key}_{_family(s)}",
    )


def family_space(name: str, dataset: str, presets: tuple[str, ...], **fixed: Any) -> SearchSpace:
    params = (
        Param("preset", "categorical", presets),
        _width("depth"),
        _width("dim"),
        _width("heads"),
        Param("mlp_ratio", "categorical", (2.0, 4.0)),
        Param("T", "categorical", (2, 4)),
    )
    return SearchSpace(
        name,
        dataset,
        params,
        fixed=fixed,
        note="architecture families at their own widths (CPU, digits)",
    )


register_space(
    family_space(
        "digits-families",
        "digits",
        ("digits-2-32", "spikingformer-digits-2-32", "sdt-digits-2-32", "qkformer-digits-3-32"),
        epochs=5,
    )
)
