"""Every setting with its type, default and one-line meaning, generated from the config classes
(the data and training fields carry their text as field metadata; the model's are below, since
`components` knows nothing of the command line). Used by every command's `--help`."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from bench.config import (
    DATASET_FIXED,
    SHORT_KEYS,
    DataConfig,
    RunConfig,
    TrainConfig,
)
from components.model import ModelConfig

__all__ = ["MODEL_HELP", "settings_help", "settings_table"]

MODEL_HELP: dict[str, str] = {
    "depth": "transformer blocks",
    "dim": "embedding width D (a multiple of 8)",
    "heads": "attention heads (must divide dim)",
    "mlp_ratio": "MLP hidden width / D",
    "T": "time steps (event data: frames)",
    "num_classes": "set by the dataset",
    "in_channels": "set by the dataset",
    "img_size": "set by the dataset",
    "attention": "attention part (registry: python -m bench.models --parts)",
    "stem": "patch stem part",
    "residual": "residual style: sew (spikes added) or ms (membrane shortcut)",
    "neuron": "neuron part (lif, plif, if, ...)",
    "tau": "membrane time constant of leaky neurons",
    "v_threshold": "firing threshold",
    "v_reset": "reset potential (none: soft reset)",
    "surrogate": "surrogate gradient: sigmoid or atan",
    "surrogate_alpha": "surrogate sharpness (none: the surrogate's default)",
    "detach_reset": "detach the reset from the graph",
    "attn_threshold": "threshold of the neuron after the attention product",
    "attn_scale": "scale s of the attention product",
    "qkv_bias": "bias of the q/k/v projections",
    "encoding": "static image -> T steps: direct, rate, ttfs, phase",
    "stage_blocks": "blocks of each early stage of a hierarchical model (QKFormer)",
    "early_attention": "attention of the early stages (empty: attention)",
    "merge": "patch merging between stages",
    "init": "weight init: trunc_normal (authors' CIFAR code), pytorch_default (DVS, ImageNet)",
}

_SECTIONS = (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig), ("", RunConfig))
_SHORT = {v: k for k, v in SHORT_KEYS.items()}


def _default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None  # type: ignore[misc]


def _range(meta: Any) -> str:
    parts = [
        f"{sign} {meta[k]}"
        for k, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if k in meta
    ]
    if "choices" in meta:
        parts.append("one of " + ", ".join(map(str, meta["choices"])))
    return f" [{', '.join(parts)}]" if parts else ""


def settings_table() -> list[tuple[str, str, str, str]]:
    """(key as typed, type, default, meaning) for every setting, in config order."""
    rows = []
    for section, cls in _SECTIONS:
        for f in fields(cls):
            if f.name in ("model", "data", "train"):
                continue
            dotted = f"{section}.{f.name}" if section else f.name
            key = _SHORT.get(dotted, dotted)
            meaning = MODEL_HELP.get(f.name, "") if cls is ModelConfig else f.metadata["help"]
            if cls is ModelConfig and f.name in DATASET_FIXED:
                meaning = "set by the dataset, not by hand"
            rows.append((key, str(f.type), repr(_default(f)), meaning + _range(f.metadata)))
    return rows


def settings_help() -> str:
    """The settings block of --help: `key=value` lines, short keys where they exist."""
    width = max(len(k) for k, *_ in settings_table())
    lines = ["settings (key=value; dotted keys such as model.dim or train.lr work too):"]
    for key, typ, default, meaning in settings_table():
        lines.append(f"  {key:<{width}}  {meaning} ({typ}, default {default})")
    return "\n".join(lines)
