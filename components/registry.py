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
    """Maps names to builders (classes or functions) for one kind of component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `@ATTENTION.register("ssa")` above a class or factory function."""

        def add(builder: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._builders:
                raise ValueError(f"{self.kind} '{name}' is registered twice.")
            self._builders[name] = builder
            return builder

        return add

    def get(self, name: str) -> Callable[..., Any]:
        self.check(name)
        return self._builders[name]

    def build(self, name: str, **kwargs: Any) -> Any:
        return self.get(name)(**kwargs)

    def check(self, name: str) -> None:
        if name not in self._builders:
            raise UnknownNameError(unknown_choice_message(self.kind, name, self.names()))

    def names(self) -> list[str]:
        return sorted(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


NEURON = Registry("neuron")
SURROGATE = Registry("surrogate")
ATTENTION = Registry("attention")
STEM = Registry("stem")
RESIDUAL = Registry("residual")
