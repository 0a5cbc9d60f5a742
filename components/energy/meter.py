"""EnergyMeter: forward hooks that count what a model does, per image.

    with EnergyMeter(model) as meter, torch.no_grad():
        for x, _ in loader:
            model(x)
    report = meter.report()      # legacy totals, firing rates, per-layer rows, and .ladder()

What is hooked:
- every nn.Linear and nn.Conv1d/2d/3d (time folded into the batch): per call its dense MACs and
  the statistics of its INPUT: non-zero count, sum of |x|, min, max, whether it is binary
  ({0, 1}), integer (SEW streams hold 0, 1, 2, ...) or analog, the (non-zero input, weight)
  pairs it multiplies (for a conv one extra convolution of the input's non-zero mask with a
  ones kernel, 1/C_out of the layer's cost), and whether the input repeats at every time step
  (direct coding: the first conv could run once). Biases are not counted as MACs.
- every spikingjelly neuron (BaseNode): spikes and membrane updates (outputs over T).
- every module that declares `energy_products` (components/energy/declare.py): the outputs
  of its `energy_inputs` submodules for one call, then the products it declares. The meter
  knows no attention class; an attention that declares nothing is refused at registration.

Cost: no activation is copied or kept. Each weight layer call costs four reductions of its
input plus the mask convolution and one host sync; neuron and product counts stay on the
device until `report()`. Meter the eager module, not a torch.compile wrapper (hooks break
the compiled graph). DDP / compile prefixes ("module.", "_orig_mod.") are dropped from names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from spikingjelly.activation_based.neuron import IFNode
from spikingjelly.activation_based.neuron.base_node import BaseNode
from torch import nn

from components.energy.counts import (
    INPUT_KINDS,
    Bucket,
    Counts,
    LayerCounts,
    NeuronCounts,
    ProductCounts,
    component_of,
)
from components.energy.declare import Product, child_component, declares_products
from components.energy.products import count_nonzero, exact_sum
from components.energy.report import EnergyReport, report_from_counts

LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_F64 = torch.float64
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def clean_name(name: str) -> str:
    """Module path without DDP / torch.compile wrapper prefixes."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in _WRAPPER_PREFIXES:
            if name.startswith(prefix):
                name, stripped = name[len(prefix) :], True
    return "" if name in ("module", "_orig_mod") else name


def layer_macs(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> tuple[int, int]:
    """(dense MACs of this call, rows = input positions that each see the full fan-in)."""
    if isinstance(module, nn.Linear):
        rows = x.numel() // module.in_features
        return rows * module.in_features * module.out_features, rows
    fan_in = module.in_channels // module.groups * math.prod(module.kernel_size)
    return out.numel() * fan_in, x.shape[0]


def weight_uses(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(non-zero input, weight) pairs the layer multiplies, as a float64 tensor: a Linear uses
    out_features weights per non-zero input; a conv is measured by convolving the input's
    non-zero mask with a ones kernel (border taps that fall on padding are not used)."""
    if isinstance(module, nn.Linear):
        return count_nonzero(x) * module.out_features
    mask = x.sign().abs_().to(torch.float32)
    padding: Any = module.padding
    if module.padding_mode != "zeros":
        mask = F.pad(mask, module._reversed_padding_repeated_twice, mode=module.padding_mode)
        padding = 0
    ones = torch.ones(
        module.groups,
        module.in_channels // module.groups,
        *module.kernel_size,
        device=x.device,
        dtype=torch.float32,
    )
    # fp32 without autocast: each output is an exact small integer (at most C_in x taps)
    with torch.autocast(x.device.type, enabled=False):
        hits = _CONV[len(module.kernel_size)](
            mask, ones, None, module.stride, padding, module.dilation, module.groups
        )
    return hits.sum(dtype=_F64) * (module.out_channels // module.groups)


def repeats_over_steps(x: torch.Tensor, steps: int) -> bool:
    """True when the time-major input is the same at every step (a repeated image)."""
    xs = x.reshape(steps, -1)
    return bool(torch.equal(xs[1:], xs[:-1]))


class _Layer:
    def __init__(self, name: str, module: nn.Module, component: str) -> None:
        self.name, self.module, self.component = name, module, component
        self.buckets = {k: Bucket() for k in INPUT_KINDS}
        self.lo, self.hi = math.inf, -math.inf
        self.steps = 1

    def add(self, x: torch.Tensor, out: torch.Tensor, macs: int) -> None:
        n = x.numel()
        if n == 0:
            return
        if not x.is_floating_point():
            x = x.to(torch.float32)
        # amin/amax and chunked float32 sums: several times faster on CPU than aminmax,
        # count_nonzero or float64 reductions (products.exact_sum)
        stats = [count_nonzero(x), exact_sum(x), x.amin().to(_F64), x.amax().to(_F64)]
        nonzero, total, lo, hi, used = torch.stack(
            [*stats, weight_uses(self.module, x)]
        ).tolist()  # one host sync per call
        binary = lo >= 0 and hi <= 1 and total == nonzero  # in [0, 1] and sum == count
        integer = binary or not torch.frac(x).any().item()
        kind = "binary" if binary else "integer" if integer else "analog"
        abs_sum = total if lo >= 0 else float(exact_sum(x.abs()))
        once = kind == "analog" and self.steps > 1 and repeats_over_steps(x, self.steps)
        fan_out = macs / n  # mean number of weights each input element meets
        self.buckets[kind].add(
            calls=1,
            dense=macs,
            dense_once=macs / self.steps if once else macs,
            elements=n,
            nonzero=nonzero,
            abs_sum=abs_sum,
            effective=used,
            sops=nonzero * fan_out,
            weighted=abs_sum * fan_out,
            outputs=out.numel(),
        )
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def counts(self, per: float) -> LayerCounts:
        m = self.module
        taps = 0 if isinstance(m, nn.Linear) else m.out_channels * math.prod(m.kernel_size)
        seen = self.lo <= self.hi
        return LayerCounts(
            name=self.name,
            component=self.component,
            kind=type(m).__name__,
            steps=self.steps,
            buckets={k: b.scaled(per) for k, b in self.buckets.items()},
            weight_elements=m.weight.numel(),
            weight_zeros=int((m.weight == 0).sum()),
            bias_elements=0 if m.bias is None else m.bias.numel(),
            taps=taps,
            in_min=self.lo if seen else 0.0,
            in_max=self.hi if seen else 0.0,
        )


class _Neuron:
    def __init__(self, name: str, component: str, leaky: bool) -> None:
        self.name, self.component, self.leaky = name, component, leaky
        self.spikes: torch.Tensor | float = 0.0
        self.elements = 0
        self.steps = 1

    def counts(self, per: float) -> NeuronCounts:
        return NeuronCounts(
            self.name,
            self.component,
            self.elements * per,
            float(self.spikes) * per,
            self.steps,
            self.leaky,
        )


class _Product:
    def __init__(self, name: str, p: Product) -> None:
        self.name, self.is_float, self.order, self.buffer = name, p.is_float, p.order, p.buffer
        self.dense: torch.Tensor | float = 0.0
        self.acs: torch.Tensor | float = 0.0
        self.weighted: torch.Tensor | float = 0.0

    def add(self, p: Product) -> None:
        self.dense = self.dense + p.dense
        self.acs = self.acs + p.acs
        self.weighted = self.weighted + (p.acs if p.weighted is None else p.weighted)
        self.buffer = max(self.buffer, p.buffer)

    def counts(self, per: float, steps: int) -> ProductCounts:
        return ProductCounts(
            self.name,
            "attention",
            float(self.dense) * per,
            float(self.acs) * per,
            float(self.weighted) * per,
            self.is_float,
            self.order,
            self.buffer,
            steps,
        )


class EnergyMeter:
    """Hooks a model; accumulates per-image counts over any number of forward passes.

    `T` (time steps) defaults to `model.cfg.T` when the model has one. The number of images is
    read from the first dimension of the model's first input. Use as a context manager, or call
    `close()` to remove the hooks. `counts()` gives the per-image Counts every energy model
    reads; `report()` wraps them with the legacy totals (components/energy/report.py).
    """

    def __init__(self, model: nn.Module, *, T: int | None = None) -> None:
        self.model = model
        self.T = T if T is not None else int(getattr(getattr(model, "cfg", None), "T", 1))
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._layers: dict[str, _Layer] = {}
        self._neurons: dict[str, _Neuron] = {}
        self._products: dict[str, _Product] = {}
        self._layer_order: list[str] = []
        self._last_component = "other"  # component of the weight layer that ran last
        self._batch = 0
        self.samples = 0
        self._attention = {
            clean_name(n): m for n, m in model.named_modules() if declares_products(m)
        }
        self._hook_model()

    def _component(self, name: str) -> str:
        return component_of(name, self._attention, child_component)

    def _hook_model(self) -> None:
        self._handles.append(self.model.register_forward_pre_hook(self._count_samples))
        for raw, module in self.model.named_modules():
            name = clean_name(raw)
            if isinstance(module, LAYER_TYPES):
                layer = _Layer(name, module, self._component(name))
                self._handles.append(module.register_forward_hook(self._layer_hook(layer)))
            elif isinstance(module, BaseNode):
                neuron = _Neuron(name, self._component(name), not isinstance(module, IFNode))
                self._neurons[name] = neuron
                self._handles.append(module.register_forward_hook(self._neuron_hook(neuron)))
            if declares_products(module):
                self._hook_attention(name, module)

    def _count_samples(self, module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() > 0:
            self._batch = args[0].shape[0]
            self.samples += self._batch

    def _layer_hook(self, layer: _Layer) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            x = inputs[0]
            macs, rows = layer_macs(module, x, output)
            if layer.name not in self._layers:
                self._layers[layer.name] = layer
                self._layer_order.append(layer.name)
            # rows a multiple of T x batch: the layer runs once per time step (the head, which
            # sees time-averaged features, runs once)
            if self._batch and self.T > 1:
                layer.steps = self.T if rows % (self.T * self._batch) == 0 else 1
            self._last_component = layer.component
            with torch.no_grad():
                layer.add(x.detach(), output, macs)

        return hook

    def _neuron_hook(self, neuron: _Neuron) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if neuron.component == "other" and not neuron.elements:
                # a neuron outside any named part integrates the current of the layer before it
                neuron.component = self._last_component
            with torch.no_grad():
                neuron.spikes = neuron.spikes + count_nonzero(output.detach())
            neuron.elements += output.numel()
            neuron.steps = output.shape[0] if getattr(module, "step_mode", "s") == "m" else 1

        return hook

    def _hook_attention(self, name: str, module: nn.Module) -> None:
        wanted = tuple(getattr(module, "energy_inputs", ()))
        captured: dict[str, torch.Tensor] = {}
        for sub in wanted:
            child = getattr(module, sub, None)
            if not isinstance(child, nn.Module):
                raise TypeError(
                    f"{type(module).__name__} at '{name}' lists energy input '{sub}', which it "
                    "does not have; fix its energy_inputs."
                )

            def keep(m: nn.Module, i: tuple, out: torch.Tensor, sub: str = sub) -> None:
                captured[sub] = out.detach()  # a reference, not a copy; dropped after the call

            self._handles.append(child.register_forward_hook(keep))

        def count(m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            missing = [s for s in wanted if s not in captured]
            if missing:
                raise RuntimeError(
                    f"{type(m).__name__} at '{name}' ran without calling {missing}; its "
                    "energy_products cannot see their spikes (fix its energy_inputs)."
                )
            with torch.no_grad():
                products = m.energy_products(inputs[0].detach(), dict(captured))
            captured.clear()
            for p in products:
                key = f"{name}[{p.name}]"
                if key not in self._products:
                    self._products[key] = _Product(key, p)
                self._products[key].add(p)

        self._handles.append(module.register_forward_hook(count))

    # -- public --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything counted so far (hooks stay)."""
        self._layers.clear()
        self._layer_order.clear()
        self._products.clear()
        for key, n in self._neurons.items():
            self._neurons[key] = _Neuron(n.name, self._component(n.name), n.leaky)
        self.samples = 0

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> EnergyMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counts(self) -> Counts:
        """Per-image counts over every sample seen since construction or `reset()`."""
        per = 1.0 / max(self.samples, 1)
        neurons = [n.counts(per) for n in self._neurons.values() if n.elements]
        params, footprint = self._static({n.name: n.component for n in self._neurons.values()})
        return Counts(
            layers=[self._layers[k].counts(per) for k in self._layer_order],
            neurons=neurons,
            products=[p.counts(per, self.T) for p in self._products.values()],
            samples=self.samples,
            T=self.T,
            params=params,
            footprint_bytes=footprint,
        )

    def _static(self, neurons: dict[str, str]) -> tuple[dict[str, int], dict[str, int]]:
        """Parameter count and footprint (parameters + buffers, bytes) per component."""
        params: dict[str, int] = {}
        footprint: dict[str, int] = {}
        named = [(n, t, True) for n, t in self.model.named_parameters()]
        named += [(n, t, False) for n, t in self.model.named_buffers()]
        for raw, tensor, is_param in named:
            path = clean_name(raw).rpartition(".")[0]
            owner = next(
                (v for k, v in neurons.items() if k and (path + ".").startswith(k + ".")), None
            )
            comp = owner or self._component(path)
            if is_param:
                params[comp] = params.get(comp, 0) + tensor.numel()
            footprint[comp] = footprint.get(comp, 0) + tensor.numel() * tensor.element_size()
        return params, footprint

    def report(self) -> EnergyReport:
        """Legacy totals, firing rates and per-layer rows, built on `counts()`."""
        return report_from_counts(self.counts())
