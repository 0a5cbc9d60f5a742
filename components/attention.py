"""Attention variants. One signature for all:

    ATTENTION.build(name, dim=D, heads=h, make_neuron=f, qkv_bias=b, scale=s, attn_threshold=v)
    module: [T, B, N, D] spikes -> [T, B, N, D] pre-activation (BN output of the projection)

The output neuron (or, with membrane shortcuts, the input neuron) belongs to the residual
style (components/residuals.py), so every attention works with every residual.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from components.energy.declare import Product
from components.energy.products import float_map_products, gate_product, spike_qkv_products
from components.layers import LinearBN
from components.neurons import MakeNeuron
from components.registry import ATTENTION


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[T, B, N, D] -> [T, B, heads, N, D/heads]."""
    t, b, n, d = x.shape
    return x.reshape(t, b, n, heads, d // heads).transpose(2, 3)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[T, B, heads, N, d] -> [T, B, N, heads*d]."""
    t, b, h, n, d = x.shape
    return x.transpose(2, 3).reshape(t, b, n, h * d)


class SpikingQKV(nn.Module):
    """The parts the all-spiking attentions share: Q, K, V = LIF(BN(Linear(X))) from one fused
    Linear + BN of width 3D (exactly the parameters of three separate projections), the neuron
    after the mixing step (V_th = attn_threshold), and the output projection BN(Linear(.))."""

    energy_inputs = ("q_neuron", "k_neuron", "v_neuron")  # spikes the products read

    def __init__(
        self,
        dim: int,
        heads: int,
        make_neuron: MakeNeuron,
        qkv_bias: bool = True,
        scale: float = 0.125,
        attn_threshold: float = 0.5,
    ) -> None:
        super().__init__()
        self.heads, self.scale = heads, scale
        self.qkv = LinearBN(dim, 3 * dim, bias=qkv_bias)
        self.q_neuron, self.k_neuron, self.v_neuron = make_neuron(), make_neuron(), make_neuron()
        self.attn_neuron = make_neuron(threshold=attn_threshold)
        self.proj = LinearBN(dim, dim, bias=True)

    def qkv_spikes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.q_neuron(q), self.k_neuron(k), self.v_neuron(v)


@ATTENTION.register("ssa")
class SpikingSelfAttention(SpikingQKV):
    """SSA (Spikformer, Zhou et al. ICLR 2023, Eq. 7-10).

    Q, K, V = LIF(BN(Linear(X))); per head Y = LIF_{0.5}(s * Q K^T V), no softmax;
    output = BN(Linear(Y)). With no softmax the product is associative, so it is evaluated as
    Q (K^T V): the same function at O(N d^2) instead of O(N^2 d).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.heads) for t in self.qkv_spikes(x))
        y = q @ (k.transpose(-2, -1) @ v) * self.scale
        return self.proj(self.attn_neuron(merge_heads(y)))

    def energy_products(self, x: torch.Tensor, saved: dict[str, torch.Tensor]) -> list[Product]:
        """Q K^T V on spikes, in both evaluation orders (components/energy/products.py)."""
        return spike_qkv_products(
            saved["q_neuron"], saved["k_neuron"], saved["v_neuron"], self.heads
        )


ATTENTION_MAPS = {
    "softmax": lambda a: a.softmax(dim=-1),
    "identity": lambda a: a,
    "relu": torch.relu,
    "leakyrelu": nn.functional.leaky_relu,
}


class FloatMapAttention(nn.Module):
    """Float attention maps of the paper's ablation (Spikformer Table 5).

    Q, K = BN(Linear(X)) stay float; A = map(Q K^T / sqrt(d)); Y = A V; output = BN(Linear(Y)).
    V is spiking (LIF(BN(Linear(X)))) unless `spike_v` is False. Y is float and goes to the
    projection as in vanilla self-attention, so its MACs are real multiplies (components/energy).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        make_neuron: MakeNeuron,
        qkv_bias: bool = True,
        scale: float = 0.125,
        attn_threshold: float = 0.5,
        *,
        attention_map: str = "softmax",
        spike_v: bool = True,
    ) -> None:
        super().__init__()
        self.heads, self.map = heads, ATTENTION_MAPS[attention_map]
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.qkv = LinearBN(dim, 3 * dim, bias=qkv_bias)
        self.v_neuron = make_neuron() if spike_v else nn.Identity()
        self.proj = LinearBN(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (split_heads(t, self.heads) for t in (q, k, self.v_neuron(v)))
        attn = self.map(q @ k.transpose(-2, -1) * self.scale)
        return self.proj(merge_heads(attn @ v))

    def energy_products(self, x: torch.Tensor, saved: dict[str, torch.Tensor]) -> list[Product]:
        """Q K^T and A V on float maps: N^2 d MACs each per head and step."""
        return float_map_products(x, self.heads)


def _float_map(attention_map: str, spike_v: bool = True):
    def build(**kwargs) -> FloatMapAttention:
        return FloatMapAttention(**kwargs, attention_map=attention_map, spike_v=spike_v)

    build.__doc__ = f"FloatMapAttention with map={attention_map}, spiking V={spike_v}."
    return build


ATTENTION.register("vsa")(_float_map("softmax"))
ATTENTION.register("vsa_float_v")(_float_map("softmax", spike_v=False))
ATTENTION.register("identity_map")(_float_map("identity"))
ATTENTION.register("relu_map")(_float_map("relu"))
ATTENTION.register("leakyrelu_map")(_float_map("leakyrelu"))


@ATTENTION.register("sdsa")
class SpikeDrivenSelfAttention(SpikingQKV):
    """SDSA (Spike-driven Transformer, Yao et al. NeurIPS 2023, Eq. 13-14).

    Q, K, V spikes as in SSA; Y = Q * LIF_{0.5}(sum over tokens of K * V) with * the element-wise
    product: a per-channel mask, linear in N and free of multiplications. Heads do not change the
    function (every channel is its own head); `heads` and `scale` are accepted for the common
    signature and unused.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_spikes(x)
        mask = self.attn_neuron((k * v).sum(dim=2, keepdim=True))
        return self.proj(q * mask)

    def energy_products(self, x: torch.Tensor, saved: dict[str, torch.Tensor]) -> list[Product]:
        """K * V summed over tokens (one AC per coinciding spike pair), then the channel mask
        on Q (one gate per Q spike, an upper bound); buffers: one value per channel."""
        q, k, v = saved["q_neuron"], saved["k_neuron"], saved["v_neuron"]
        dim = q.shape[-1]
        return [gate_product("sum_n k*v", k * v, dim), gate_product("q * mask", q, dim)]


class QKAttention(nn.Module):
    """Q-K attention (QKFormer, Zhou et al. NeurIPS 2024, Eq. 5-8); no V.

    Q, K = LIF(BN(Linear(X))). Token variant: A = LIF_{0.5}(sum of Q over the channels of each
    head), a [N x heads] binary token mask; Y = A * K. Channel variant: A = LIF_{0.5}(sum of Q over
    tokens), a per-channel mask. Output = BN(Linear(Y)).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        make_neuron: MakeNeuron,
        qkv_bias: bool = True,
        scale: float = 0.125,
        attn_threshold: float = 0.5,
        *,
        over: str = "token",
    ) -> None:
        super().__init__()
        self.heads, self.over = heads, over
        self.qk = LinearBN(dim, 2 * dim, bias=qkv_bias)
        self.q_neuron, self.k_neuron = make_neuron(), make_neuron()
        self.attn_neuron = make_neuron(threshold=attn_threshold)
        self.proj = LinearBN(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = self.qk(x).chunk(2, dim=-1)
        q, k = self.q_neuron(q), self.k_neuron(k)
        if self.over == "token":
            t, b, n, d = q.shape
            per_head = q.reshape(t, b, n, self.heads, d // self.heads).sum(-1, keepdim=True)
            mask = self.attn_neuron(per_head)
            y = (mask * k.reshape(t, b, n, self.heads, d // self.heads)).reshape(t, b, n, d)
        else:
            y = self.attn_neuron(q.sum(dim=2, keepdim=True)) * k
        return self.proj(y)

    energy_inputs = ("q_neuron", "k_neuron")

    def energy_products(self, x: torch.Tensor, saved: dict[str, torch.Tensor]) -> list[Product]:
        """The sum of Q (over a head's channels, or over tokens: N D adds either way) and the
        mask on K (one gate per K spike, an upper bound); buffer: the mask."""
        q, k = saved["q_neuron"], saved["k_neuron"]
        t, b, n, dim = q.shape
        mask = n * self.heads if self.over == "token" else dim
        return [gate_product("sum q", q, mask), gate_product("mask * k", k, mask)]


@ATTENTION.register("qk_token")
def qk_token(**kwargs) -> QKAttention:
    """QKAttention over the channels of each head (a token mask)."""
    return QKAttention(**kwargs, over="token")


@ATTENTION.register("qk_channel")
def qk_channel(**kwargs) -> QKAttention:
    """QKAttention over tokens (a channel mask)."""
    return QKAttention(**kwargs, over="channel")
