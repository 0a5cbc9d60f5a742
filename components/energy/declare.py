"""How a part declares the operations the meter cannot see from its weight layers.

An attention module's products (Q K^T, A V, masks, ...) are not nn.Linear/nn.Conv layers, so
each attention class states them itself, beside its forward:

    class MyAttention(nn.Module):
        energy_inputs = ("q_neuron", "k_neuron")        # submodules whose outputs it reads

        def energy_products(self, x, saved) -> list[Product]:
            q, k = saved["q_neuron"], saved["k_neuron"]  # [T, B, N, D] spikes of this call
            return [Product("q * k", dense=q.numel(), acs=count_nonzero(q * k))]

The meter hooks every module that has `energy_products`, keeps the outputs of the submodules
named in `energy_inputs` for one forward call, and calls `energy_products(x, saved)` after it
(x: the module's input). `require_energy_products` is the ATTENTION registry's `validate`
hook, so an attention without declared products never registers (no silent zero energy).

This module imports no attention (the attention module imports it).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

Count = torch.Tensor | float

# Evaluation orders of a product chain Q K^T V with no softmax in between (associative).
QK_FIRST = "(QK^T)V"  # the authors' CIFAR/DVS code and the paper's count
KV_FIRST = "Q(K^TV)"  # this repository's SSA forward: O(N d^2) instead of O(N^2 d)
ORDERS = (QK_FIRST, KV_FIRST)

# Which component a child of an attention module belongs to (energy_components overrides it);
# every other child (the q/k/v projections and their neurons) is "qkv".
DEFAULT_CHILD_COMPONENTS = {"proj": "proj", "attn_neuron": "attention"}


@dataclass(frozen=True)
class Product:
    """One product inside an attention module, for one forward call (all T, batch, heads).

    dense:    multiply-accumulates a dense implementation performs.
    acs:      accumulates an event-driven implementation performs (products with a binary
              operand: each non-zero event adds one value; unused when `is_float`).
    weighted: ACs when an integer operand k counts as k events (value-weighted model);
              None means the same as `acs` (spike x spike products).
    is_float: float x float (or float x spike) product: costs `dense` MACs, no ACs.
    order:    the evaluation order this product belongs to (QK_FIRST / KV_FIRST), None when
              it is part of every order.
    buffer:   elements per image and time step of the operand an implementation keeps in a
              buffer while the other streams past (the memory model's buffer size).
    """

    name: str
    dense: Count
    acs: Count = 0.0
    weighted: Count | None = None
    is_float: bool = False
    order: str | None = None
    buffer: int = 0

    def __post_init__(self) -> None:
        if self.order is not None and self.order not in ORDERS:
            raise ValueError(
                f"Product '{self.name}' has order {self.order!r}; use one of {ORDERS} or None."
            )


def declared_class(builder: Callable[..., Any]) -> type | None:
    """The class a registered builder makes: the builder itself when it is a class, else its
    `energy_class` attribute, else its return annotation (`def build(**kw) -> MyAttention`)."""
    if isinstance(builder, type):
        return builder
    cls = getattr(builder, "energy_class", None)
    if cls is None:
        try:
            cls = typing.get_type_hints(builder).get("return")
        except (NameError, TypeError):  # an annotation that does not resolve: no class known
            cls = None
    return cls if isinstance(cls, type) else None


def declares_products(obj: object) -> bool:
    """True when `obj` (a module or a class) has an `energy_products` method."""
    return callable(getattr(obj, "energy_products", None))


def require_energy_products(builder: Callable[..., Any], name: str) -> None:
    """Registry validate hook: refuse an attention whose class declares no energy products."""
    cls = declared_class(builder)
    if cls is None:
        raise ValueError(
            f"Attention '{name}' is registered through a builder whose class is unknown; "
            "register the class itself, annotate the builder's return type, or set "
            "builder.energy_class = TheClass."
        )
    if not declares_products(cls):
        raise ValueError(
            f"Attention '{name}' ({cls.__name__}) declares no energy products; give it an "
            "energy_products(self, x, saved) method (see components/energy/declare.py)."
        )


def child_component(module: object, child: str) -> str:
    """Component of the named child of an attention module ("qkv", "attention", "proj")."""
    table = {**DEFAULT_CHILD_COMPONENTS, **getattr(module, "energy_components", {})}
    return table.get(child, "qkv")
