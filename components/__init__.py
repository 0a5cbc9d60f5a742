"""Interchangeable Spikformer parts. Importing the package registers every built-in part, and
every model preset with timm (`timm.create_model("spikformer_cifar10_4_384")`, components/hub.py).
"""

from components import (  # noqa: F401  (registration)
    attention,
    encodings,
    merges,
    neurons,
    neurons_zoo,
    residuals,
    stems,
)
from components.encodings import ENCODING
from components.hub import TIMM_NAMES
from components.merges import MERGE
from components.model import ModelConfig, Spikformer, count_params
from components.presets import FAMILIES, MODEL_PRESETS, create_model, list_models
from components.registry import ATTENTION, NEURON, RESIDUAL, STEM, SURROGATE, UnknownNameError

__all__ = [
    "ATTENTION",
    "ENCODING",
    "FAMILIES",
    "MERGE",
    "MODEL_PRESETS",
    "NEURON",
    "RESIDUAL",
    "STEM",
    "SURROGATE",
    "TIMM_NAMES",
    "ModelConfig",
    "Spikformer",
    "UnknownNameError",
    "count_params",
    "create_model",
    "list_models",
]
