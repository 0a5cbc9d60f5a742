"""The ANN twin as a module: the same network with every spiking neuron replaced by ReLU and
one time step, so `torch.utils.flop_counter` can count what the ladder's `ann_twin` prices."""

from __future__ import annotations

import copy
import dataclasses

from spikingjelly.activation_based.neuron.base_node import BaseNode
from torch import nn


def _one_step(model: nn.Module) -> nn.Module:
    """A copy of `model` that runs one time step on the analog input: rebuilt from its
    dataclass `cfg` with T = 1 (and direct encoding, where the config has encodings) when it
    has one, with the same weights; otherwise a plain copy."""
    cfg = getattr(model, "cfg", None)
    if not (dataclasses.is_dataclass(cfg) and hasattr(cfg, "T")):
        return copy.deepcopy(model)
    names = {f.name for f in dataclasses.fields(cfg)}
    changes = {"T": 1, **({"encoding": "direct"} if "encoding" in names else {})}
    twin = type(model)(dataclasses.replace(cfg, **changes))
    twin.load_state_dict(model.state_dict())
    return twin


def ann_twin(model: nn.Module) -> nn.Module:
    """`model` at one time step with ReLU for every spikingjelly neuron. Float attention maps
    keep their softmax; an attention without one (SSA) becomes the ReLU linear attention of
    the same products."""
    twin = _one_step(model)
    for parent in list(twin.modules()):
        for name, child in parent.named_children():
            if isinstance(child, BaseNode):
                setattr(parent, name, nn.ReLU())
    return twin.train(model.training)
