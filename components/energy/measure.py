"""Entry points: meter a model over batches and price the counts.

    ladder = measure_ladder(model, test_batches, source="trained weights, test split")

`calibrate_bn` sets BN statistics of an untrained model from random batches, so that energy
"at initialisation" is not measured on a near-silent network; label such numbers as untrained.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from components.energy.declare import QK_FIRST
from components.energy.meter import EnergyMeter
from components.energy.report import EnergyReport


def _inputs(batch: Any) -> torch.Tensor:
    """A batch as the model's input: a tensor, or the first item of an (x, y) pair."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def measure_energy(model: nn.Module, x: torch.Tensor, *, T: int | None = None) -> EnergyReport:
    """Energy report of one batch, in eval mode without gradients (the mode is restored)."""
    return measure_report(model, [x], T=T)


def measure_report(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    T: int | None = None,
    device: torch.device | str | None = None,
) -> EnergyReport:
    """EnergyReport over every batch (tensors or (x, y) pairs), eval mode, no gradients."""
    was_training = model.training
    model.eval()
    try:
        with EnergyMeter(model, T=T) as meter, torch.no_grad():
            for batch in batches:
                x = _inputs(batch)
                model(x if device is None else x.to(device))
        return meter.report()
    finally:
        model.train(was_training)


def measure_ladder(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    T: int | None = None,
    source: str,
    order: str = QK_FIRST,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """The energy ladder of `model` over `batches` (per image; components/energy/ladder.py).

    `source` says what was measured, e.g. "trained weights, test split" or "untrained, BN
    calibrated on 4 random batches"; it is stored in the result. `T` defaults to model.cfg.T.
    """
    report = measure_report(model, batches, T=T, device=device)
    return report.ladder(source=source, order=order)


def calibrate_bn(model: nn.Module, batches: list[torch.Tensor]) -> None:
    """Set every BatchNorm's running statistics to the cumulative average over `batches`
    (train-mode forwards, no gradients). An untrained model's BN buffers (mean 0, var 1) leave
    it almost silent, so energy "at initialisation" is measured both with and without this."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    try:
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
