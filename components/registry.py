"""Named registries of interchangeable model parts (timm-style).

Each kind of part (neuron, surrogate, attention, stem, residual) has one `Registry`. A part is
added with one decorator line and built by name from config values; an unknown name raises an
error that names the kind, the bad value, the closest match and every choice.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any


class UnknownNameError(KeyError, ValueError):
    """A name that is not in a registry (or not a valid choice of a setting)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return self.message


def unknown_choice_message(kind: str, name: object, choices: list[str]) -> str:
    """One sentence naming the bad value, the closest valid choice and all choices."""
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.4)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown {kind} '{name}'.{hint} Choose one of: {', '.join(sorted(choices))}."


class Registry:
    """Maps names to builders (classes or functions) for one kind of component, each with a
    dict of metadata (facts a caller needs without building the part, e.g. whether a neuron
    leaks). `validate(builder, name)` runs at registration and may raise `ValueError`, so a part
    that breaks a rule of its kind (an attention that declares no energy products) never
    enters the registry."""

    def __init__(
        self, kind: str, validate: Callable[[Callable[..., Any], str], None] | None = None
    ) -> None:
        self.kind = kind
        self.validate = validate
        self._builders: dict[str, Callable[..., Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(
        self, name: str, **meta: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `@ATTENTION.register("ssa")` above a class or factory function; keyword
        arguments are the part's metadata (`@NEURON.register("lif", leaky=True)`)."""

        def add(builder: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._builders:
                raise ValueError(f"{self.kind} '{name}' is registered twice.")
            if self.validate is not None:
                self.validate(builder, name)
            self._builders[name] = builder
            self._meta[name] = dict(meta)
            return builder

        return add

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata given at registration (a copy)."""
        self.check(name)
        return dict(self._meta[name])

    def where(self, **wanted: Any) -> list[str]:
        """Names whose metadata holds every `key=value` given, sorted."""
        return [
            n for n in self.names() if all(self._meta[n].get(k) == v for k, v in wanted.items())
        ]

    def get(self, name: str) -> Callable[..., Any]:
        self.check(name)
        return self._builders[name]

    def build(self, name: str, **kwargs: Any) -> Any:
        return self.get(name)(**kwargs)

    def check(self, name: str) -> None:
        if name not in self._builders:
            raise UnknownNameError(
                unknown_choice_message(self.kind, name, self.names())
                + " A part of your own? Import its module first: --import MODULE."
            )

    def names(self) -> list[str]:
        return sorted(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


# Imported here, not at the top: the energy package imports Registry from this module.
from components.energy.declare import require_energy_products  # noqa: E402

NEURON = Registry("neuron")
SURROGATE = Registry("surrogate")
ATTENTION = Registry("attention", validate=require_energy_products)  # no silent zero energy
STEM = Registry("stem")
RESIDUAL = Registry("residual")
