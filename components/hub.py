"""Every preset registered with timm's model registry when `components` is imported:

    import components, timm
    model = timm.create_model("spikformer_cifar10_4_384")          # = create_model("cifar10-4-384")
    model = timm.create_model("qkformer_digits_3_32", num_classes=4, in_chans=3)

The timm name is the preset name with '-' as '_', and Spikformer's presets (named without a
family) get the prefix `spikformer_`. timm's own keywords `num_classes`, `in_chans` and
`img_size` map to ModelConfig fields; any other keyword must be a ModelConfig field. No preset
has pretrained weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from timm.models import register_model

from components.model import ModelConfig, Spikformer
from components.presets import MODEL_PRESETS, create_model
from components.registry import unknown_choice_message

_TIMM_KEYS = {"num_classes": "num_classes", "in_chans": "in_channels", "img_size": "img_size"}
_IGNORED = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")  # timm passes these always
FIELDS = set(ModelConfig.__dataclass_fields__)


def timm_name(preset: str) -> str:
    """Preset name -> timm model name."""
    family = MODEL_PRESETS[preset].family
    name = preset if preset.startswith(f"{family}-") else f"{family}-{preset}"
    return name.replace("-", "_")


def _overrides(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in kwargs.items():
        if key in _IGNORED:
            continue
        field = _TIMM_KEYS.get(key, key)
        if field not in FIELDS:
            hint = unknown_choice_message("setting", key, sorted(FIELDS | set(_TIMM_KEYS)))
            raise TypeError(f"timm model {name}: {hint}")
        out[field] = value
    return out


def _entrypoint(preset: str) -> Callable[..., Spikformer]:
    name = timm_name(preset)

    def build(pretrained: bool = False, **kwargs: Any) -> Spikformer:
        if pretrained:
            raise ValueError(
                f"timm model {name} has no pretrained weights: call timm.create_model('{name}') "
                "without pretrained=True, or load a checkpoint of your own."
            )
        model = create_model(preset, **_overrides(name, kwargs))
        cfg = model.cfg
        model.pretrained_cfg = {  # what timm's data helpers read
            "architecture": name,
            "num_classes": cfg.num_classes,
            "input_size": (cfg.in_channels, cfg.img_size, cfg.img_size),
        }
        return model

    build.__name__ = build.__qualname__ = name
    build.__module__ = __name__
    build.__doc__ = f"The `{preset}` preset (components.presets) as a timm model."
    return build


def register_all() -> list[str]:
    """Register every preset; returns the timm names. Re-registering replaces, as in timm."""
    names = []
    for preset in MODEL_PRESETS:
        fn = _entrypoint(preset)
        globals()[fn.__name__] = fn  # timm looks entry points up in their module
        register_model(fn)
        names.append(fn.__name__)
    return names


TIMM_NAMES = register_all()
