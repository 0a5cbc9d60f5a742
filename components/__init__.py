"""Interchangeable Spikformer parts. Importing the package registers every built-in part."""

from components import (  # noqa: F401  (registration)
    attention,
    encodings,
    merges,
    neurons,
    neurons_zoo,
    residuals,
    stems,
)
from components.model import ModelConfig, Spikformer, count_params
from components.presets import MODEL_PRESETS, create_model, list_models
from components.registry import ATTENTION, NEURON, RESIDUAL, STEM, SURROGATE, UnknownNameError

__all__ = [
    "ATTENTION",
    "MODEL_PRESETS",
    "NEURON",
    "RESIDUAL",
    "STEM",
    "SURROGATE",
    "ModelConfig",
    "Spikformer",
    "UnknownNameError",
    "count_params",
    "create_model",
    "list_models",
]
