"""Spikformer assembled from registered parts: stem + depth x (attention, MLP) blocks + head.

Input: [B, C, H, W] images (repeated T times, "direct coding") or [B, T, C, H, W] event frames.
Output: logits [B, classes]. Time is internal: every conv/linear/BN folds T into the batch,
neurons see [T, ...]. The model resets all neuron state at the start of each forward, so a
caller never carries state from one batch to the next.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from spikingjelly.activation_based import functional
from torch import nn

from components.layers import LinearBN
from components.neurons import MakeNeuron, NeuronSettings
from components.registry import ATTENTION, RESIDUAL, STEM
from components.stems import token_grid


@dataclass(frozen=True)
class ModelConfig:
    depth: int = 4
    dim: int = 384
    heads: int = 12
    mlp_ratio: float = 4.0
    T: int = 4
    num_classes: int = 10
    in_channels: int = 3
    img_size: int = 32
    attention: str = "ssa"
    stem: str = "sps"
    residual: str = "sew"
    neuron: str = "lif"
    tau: float = 2.0
    v_threshold: float = 1.0
    v_reset: float | None = 0.0  # None = soft reset
    surrogate: str = "sigmoid"
    surrogate_alpha: float | None = None
    detach_reset: bool = True
    attn_threshold: float = 0.5  # V_th of the neuron after the attention product
    attn_scale: float = 0.125  # s in SSA; 0.25 in the authors' DVS code
    qkv_bias: bool = True  # on in the CIFAR code, off in the DVS and ImageNet code

    def __post_init__(self) -> None:
        for name, low in (
            ("depth", 1),
            ("dim", 8),
            ("heads", 1),
            ("T", 1),
            ("num_classes", 2),
            ("in_channels", 1),
            ("img_size", 4),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(
                    f"Model setting {name} must be an integer >= {low}, got {value!r}."
                )
        if self.dim % 8:
            raise ValueError(f"dim must be a multiple of 8 (SPS widths D/8..D), got {self.dim}.")
        if self.dim % self.heads:
            raise ValueError(
                f"dim={self.dim} is not divisible by heads={self.heads}; pick heads from "
                f"{[h for h in range(1, 33) if self.dim % h == 0]}."
            )
        if self.mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio}.")
        ATTENTION.check(self.attention)
        STEM.check(self.stem)
        RESIDUAL.check(self.residual)
        self.neuron_settings()  # validates neuron kind, surrogate and tau

    def neuron_settings(self) -> NeuronSettings:
        return NeuronSettings(
            kind=self.neuron,
            tau=self.tau,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            surrogate=self.surrogate,
            surrogate_alpha=self.surrogate_alpha,
            detach_reset=self.detach_reset,
        )

    @property
    def num_tokens(self) -> int:
        return token_grid(self.img_size) ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def mlp(dim: int, hidden: int, make_neuron: MakeNeuron) -> nn.Sequential:
    """BN(W2 . LIF(BN(W1 x))); the residual style adds the outer neuron."""
    return nn.Sequential(LinearBN(dim, hidden), make_neuron(), LinearBN(hidden, dim))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, make_neuron: MakeNeuron) -> None:
        super().__init__()
        style = RESIDUAL.build(cfg.residual)
        attention = ATTENTION.build(
            cfg.attention,
            dim=cfg.dim,
            heads=cfg.heads,
            make_neuron=make_neuron,
            qkv_bias=cfg.qkv_bias,
            scale=cfg.attn_scale,
            attn_threshold=cfg.attn_threshold,
        )
        self.attn = style.branch(attention, make_neuron)
        self.mlp = style.branch(
            mlp(cfg.dim, int(cfg.dim * cfg.mlp_ratio), make_neuron), make_neuron
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))


class Spikformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        make_neuron = cfg.neuron_settings().factory()
        style = RESIDUAL.build(cfg.residual)
        self.stem = STEM.build(
            cfg.stem,
            in_channels=cfg.in_channels,
            dim=cfg.dim,
            img_size=cfg.img_size,
            make_neuron=make_neuron,
            spike_output=not style.membrane_stream,
        )
        self.blocks = nn.Sequential(*(Block(cfg, make_neuron) for _ in range(cfg.depth)))
        self.readout = style.readout(make_neuron)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        self.apply(_init_weights)

    def time_major(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [T, B, C, H, W] (repeated); [B, T, C, H, W] -> [T, B, C, H, W]."""
        cfg = self.cfg
        if x.dim() == 4:
            return x.unsqueeze(0).expand(cfg.T, *x.shape)
        if x.dim() == 5:
            if x.shape[1] != cfg.T:
                raise ValueError(
                    f"Event input has {x.shape[1]} frames but the model has T={cfg.T}."
                )
            return x.transpose(0, 1)
        raise ValueError(f"Expected [B,C,H,W] images or [B,T,C,H,W] frames, got {tuple(x.shape)}.")

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Images or frames -> final token tensor [T, B, N, D] (what the head pools)."""
        functional.reset_net(self)
        return self.readout(self.blocks(self.stem(self.time_major(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_tokens(x).mean(dim=(0, 2)))


def _init_weights(m: nn.Module) -> None:
    # The reference initialises every Linear with trunc-normal std 0.02 and zero bias.
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
