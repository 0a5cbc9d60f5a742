"""Counting helpers the attention classes call from their `energy_products` declarations.

All inputs are [T, B, N, D] tensors of one forward call; counts are float64 tensors that stay
on the device until the meter reports (no host sync per call). Per head and time step, with
N tokens and d = D / heads channels, |.| = spikes (non-zero entries):

    Q K^T V, both orders (spike Q, K, V; no softmax, so the chain is associative)
      (QK^T)V   Q K^T   dense N^2 d   ACs = sum_i colsum(Q)_i colsum(K)_i   (spike x spike)
                A V     dense N^2 d   ACs = |V| N   (each V spike adds a column of the integer A)
      Q(K^TV)   K^T V   dense N d^2   ACs = sum_n |K_n| |V_n|                (spike x spike)
                Q (KV)  dense N d^2   ACs = |Q| d   (each Q spike adds a row of the integer K^T V)
      value-weighted (an integer k costs k): both orders cost the number of (q, k, v) spike
      triples that meet, sum over (n, m, i, j) of Q[n,i] K[m,i] V[m,j], for each product that
      reads an integer operand.
    float maps (softmax, identity, ...): Q K^T and A V cost N^2 d MACs each.
    element-wise products and masks: one op per element densely, one AC per spike of the
      gated (or multiplied) tensor, an upper bound on what gating needs.

The scale s of SSA and of float maps is not counted: it folds into a threshold or into BN.
"""

from __future__ import annotations

import torch

from components.energy.declare import KV_FIRST, QK_FIRST, Product

_F32, _F64 = torch.float32, torch.float64
_CHUNK = 4096  # float32 partial sums of <= 4096 small integers are exact


def flat_view(x: torch.Tensor) -> torch.Tensor:
    """x as a 1-D tensor in memory order: a view for contiguous and channels-last tensors."""
    if x.is_contiguous():
        return x.view(-1)
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).reshape(-1)
    return x.reshape(-1)


def exact_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of x as a float64 tensor, exact for integer values below 4096 in magnitude: float32
    partial sums over chunks of 4096 (fast, vectorised), then float64 over the partials;
    several times faster on CPU than count_nonzero or a float64 reduction of the whole."""
    v = flat_view(x)
    k = v.numel() // _CHUNK
    head = v[: k * _CHUNK].view(k, _CHUNK).sum(1, dtype=_F32).sum(dtype=_F64)
    return head + v[k * _CHUNK :].sum(dtype=_F64)


def count_nonzero(x: torch.Tensor) -> torch.Tensor:
    """Non-zero entries of x as a float64 tensor (no host sync)."""
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    return exact_sum(x.sign().abs_().to(_F32) if x.is_floating_point() else x.ne(0).to(_F32))


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[T, B, N, D] -> float32 [T, B, N, heads, d] (spike counts below 2^24 stay exact)."""
    t, b, n, dim = x.shape
    return x.reshape(t, b, n, heads, dim // heads).to(_F32)


def spike_qkv_products(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int
) -> list[Product]:
    """The four products of Q K^T V on binary Q, K, V in both evaluation orders."""
    t, b, n, dim = q.shape
    d = dim // heads
    qh, kh, vh = _heads(q, heads), _heads(k, heads), _heads(v, heads)
    q_cols, k_cols = qh.sum(2), kh.sum(2)  # [T, B, heads, d]: spikes per channel over tokens
    k_rows, v_rows = kh.sum(-1), vh.sum(-1)  # [T, B, N, heads]: spikes per token in the head
    # triples: sum_m (colsum(Q) . K_m) |V_m|, the value-weighted cost of either order
    triples = (torch.einsum("tbhi,tbmhi->tbmh", q_cols, kh) * v_rows).sum(dtype=_F64)
    steps = t * b * heads
    return [
        Product(
            "q k^T",
            steps * n * n * d,
            (q_cols * k_cols).sum(dtype=_F64),
            order=QK_FIRST,
            buffer=heads * n * n,
        ),
        Product(
            "a v",
            steps * n * n * d,
            count_nonzero(v) * n,
            triples,
            order=QK_FIRST,
            buffer=heads * n * n,
        ),
        Product(
            "k^T v",
            steps * n * d * d,
            (k_rows * v_rows).sum(dtype=_F64),
            order=KV_FIRST,
            buffer=heads * d * d,
        ),
        Product(
            "q (k^T v)",
            steps * n * d * d,
            count_nonzero(q) * d,
            triples,
            order=KV_FIRST,
            buffer=heads * d * d,
        ),
    ]


def float_map_products(x: torch.Tensor, heads: int) -> list[Product]:
    """Q K^T and A V of a float attention map on [T, B, N, D] tokens: dense MACs."""
    t, b, n, dim = x.shape
    dense = t * b * heads * n * n * (dim // heads)
    return [
        Product("q k^T", dense, is_float=True, buffer=heads * n * n),
        Product("a v", dense, is_float=True, buffer=heads * n * n),
    ]


def gate_product(name: str, gated: torch.Tensor, buffer: int) -> Product:
    """An element-wise product or mask on a spike tensor: dense one op per element, one AC per
    spike of `gated`; `buffer` is the size of the mask (or other operand) per image and step."""
    return Product(name, gated.numel(), count_nonzero(gated), buffer=buffer)
