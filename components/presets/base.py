"""What every family of presets is made of: dataset shapes, the `Family` record, `ModelPreset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from components.model import ModelConfig
from components.registry import UnknownNameError, unknown_choice_message

# Input shape and the authors' per-dataset conventions (spec: Spikformer's CIFAR code has
# biased Q/K/V projections, its DVS and ImageNet code has not; DVS uses s = 0.25).
DATASETS: dict[str, dict[str, Any]] = {
    "cifar10": dict(in_channels=3, img_size=32, T=4, qkv_bias=True, attn_scale=0.125),
    "cifar100": dict(
        in_channels=3, img_size=32, T=4, qkv_bias=True, attn_scale=0.125, num_classes=100
    ),
    "cifar10_dvs": dict(in_channels=2, img_size=128, T=16, qkv_bias=False, attn_scale=0.25),
    "dvs128_gesture": dict(
        in_channels=2, img_size=128, T=16, qkv_bias=False, attn_scale=0.25, num_classes=11
    ),
    "imagenet": dict(
        in_channels=3, img_size=224, T=4, qkv_bias=False, attn_scale=0.125, num_classes=1000
    ),
    "digits": dict(in_channels=1, img_size=8, T=4, num_classes=10),
    "digits16": dict(in_channels=1, img_size=16, T=4, num_classes=10),
}
# Short dataset names inside preset names.
TAGS = {"cifar10_dvs": "cifar10dvs", "dvs128_gesture": "dvs128"}


@dataclass(frozen=True)
class ModelPreset:
    name: str
    dataset: str
    model: ModelConfig
    paper_params: str  # what the paper's table prints ("" when not published)
    note: str = ""
    family: str = "spikformer"


@dataclass(frozen=True)
class Family:
    """One architecture family: the ModelConfig fields that make it (per dataset, because the
    authors' code differs between CIFAR and ImageNet) and the widths a search may choose
    (digits scale: a CPU study; any width the config accepts also builds)."""

    name: str
    paper: str
    settings: Callable[[str], dict[str, Any]]
    widths: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def config(
        self, dataset: str, depth: int, dim: int, heads: int, **overrides: Any
    ) -> ModelConfig:
        """The family's model for `dataset` at this width; `overrides` are ModelConfig fields."""
        if dataset not in DATASETS:
            raise UnknownNameError(unknown_choice_message("dataset", dataset, list(DATASETS)))
        values = {**DATASETS[dataset], **self.settings(dataset), **overrides}
        return ModelConfig(depth=depth, dim=dim, heads=heads, **values)

    def preset(
        self,
        dataset: str,
        depth: int,
        dim: int,
        heads: int,
        paper: str = "",
        note: str = "",
        name: str | None = None,
        **overrides: Any,
    ) -> ModelPreset:
        """A named configuration, `<family>-<dataset>-<depth>-<dim>` unless `name` is given."""
        tag = TAGS.get(dataset, dataset)
        name = name or f"{self.name}-{tag}-{depth}-{dim}"
        cfg = self.config(dataset, depth, dim, heads, **overrides)
        return ModelPreset(name, dataset, cfg, paper, note, self.name)


def flat_widths() -> dict[str, tuple[int, ...]]:
    """Search choices of a single-stage family at digits scale (every dim a multiple of 8)."""
    return {"depth": (1, 2, 3, 4), "dim": (16, 32, 48, 64), "heads": (1, 2, 4)}
