"""An example plugin: a researcher's own attention, usable everywhere a built-in one is.

    pip install -e examples/my_attention        # or: --import my_attention with it on PYTHONPATH
    python -m bench.ablate attention=ssa,mean_kv
    python -m bench.search --space digits-mean-kv --trials 50

`mean_kv` is the Spike-driven Transformer's SDSA with a token mean instead of a sum:
Y = Q * LIF_{th}(mean over tokens of K * V). It declares its energy products beside its
forward, as every attention must (the registry refuses one that does not).
"""

from __future__ import annotations

import torch

from components.attention import SpikingQKV
from components.energy.declare import Product
from components.energy.products import gate_product
from components.registry import ATTENTION
from search_spaces.spaces import SearchSpace, architecture, register_space


@ATTENTION.register("mean_kv")
class MeanKVAttention(SpikingQKV):
    """Q gated by the spiking token mean of K * V (one value per channel)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_spikes(x)
        mask = self.attn_neuron((k * v).mean(dim=2, keepdim=True))
        return self.proj(q * mask)

    def energy_products(self, x: torch.Tensor, saved: dict[str, torch.Tensor]) -> list[Product]:
        q, k, v = saved["q_neuron"], saved["k_neuron"], saved["v_neuron"]
        dim = q.shape[-1]
        return [gate_product("mean_n k*v", k * v, dim), gate_product("q * mask", q, dim)]


register_space(
    SearchSpace(
        "digits-mean-kv",
        "digits",
        architecture(
            (1, 2),
            (32, 64),
            (1, 2, 4),
            (2.0, 4.0),
            (2, 4),
            neurons=("lif", "if"),
            attentions=("ssa", "sdsa", "mean_kv"),
            stems=("sps",),
            residuals=("sew", "ms"),
        ),
        fixed={"epochs": 5},
        note="the digits space with mean_kv beside SSA and SDSA",
    )
)
