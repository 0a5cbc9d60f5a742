"""Spikformer assembled from registered parts: stem + depth x (attention, MLP) blocks + head.

Input: [B, C, H, W] images (encoded into T steps, by default repeated: "direct coding") or
[B, T, C, H, W] event frames. Output: logits [B, classes]. Time is internal: every conv/linear/BN
folds T into the batch, neurons see [T, ...]. The model resets all neuron state at the start of
each forward, so a caller never carries state from one batch to the next.

Hierarchical models (QKFormer) set `stage_blocks`: the blocks then form stages of widths
D / 2^k, ..., D / 2, D joined by patch merging (components/merges.py); the early stages use
`early_attention`. The same class builds every family of components/presets/.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from spikingjelly.activation_based import functional
from torch import nn

from components.encodings import ENCODING
from components.init import INIT, init_weights
from components.layers import LinearBN
from components.merges import MERGE
from components.neurons import MakeNeuron, NeuronSettings
from components.registry import ATTENTION, RESIDUAL, STEM
from components.stems import num_pools, pooled_side, token_grid


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
    encoding: str = "direct"  # static images -> T steps (components/encodings.py)
    stage_blocks: tuple[int, ...] = ()  # blocks of each early stage; () = a single stage
    early_attention: str = ""  # attention of the early stages; "" = `attention`
    merge: str = "qkformer"  # patch merging between stages (components/merges.py)
    init: str = "trunc_normal"  # weight init of the authors' code family (components/init.py)

    def __post_init__(self) -> None:
        # JSON round trips give a list; a tuple keeps the config hashable and comparable
        object.__setattr__(self, "stage_blocks", tuple(self.stage_blocks))
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
        ENCODING.check(self.encoding)
        INIT.check(self.init)
        if self.stage_blocks:
            self._check_stages()
        self.neuron_settings()  # validates neuron kind, surrogate and tau

    def _check_stages(self) -> None:
        early = self.stage_blocks
        if any(not isinstance(n, int) or n < 1 for n in early) or sum(early) >= self.depth:
            raise ValueError(
                f"stage_blocks={list(early)} must be positive block counts that leave at least "
                f"one of depth={self.depth} blocks for the last stage."
            )
        first = self.stage_dims()[0]
        if self.dim % (8 * 2 ** len(early)):
            raise ValueError(
                f"dim={self.dim} with {len(early)} patch merges gives a first stage of width "
                f"{first}; dim must be a multiple of {8 * 2 ** len(early)}."
            )
        if first % self.heads:
            raise ValueError(
                f"heads={self.heads} does not divide the first stage width {first} "
                f"(dim={self.dim} / {2 ** len(early)}); pick heads from "
                f"{[h for h in range(1, 33) if first % h == 0]}."
            )
        if self.early_attention:
            ATTENTION.check(self.early_attention)
        MERGE.check(self.merge)

    def stage_dims(self) -> tuple[int, ...]:
        """Width of each stage, first to last (one stage: (dim,))."""
        n = len(self.stage_blocks)
        return tuple(self.dim // 2 ** (n - i) for i in range(n + 1))

    def stage_depths(self) -> tuple[int, ...]:
        """Blocks of each stage, first to last; the last stage holds the rest of `depth`."""
        return (*self.stage_blocks, self.depth - sum(self.stage_blocks))

    def stem_pools(self) -> int:
        """Halvings the stem does: the paper's count, less one per patch merge."""
        return max(0, num_pools(self.img_size) - len(self.stage_blocks))

    @property
    def binary_input(self) -> bool:
        """Whether static images reach the stem as spikes (an encoding other than direct)."""
        return bool(ENCODING.meta(self.encoding).get("binary"))

    def neuron_settings(self) -> NeuronSettings:
        return NeuronSettings(
            kind=self.neuron,
            tau=self.tau,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            surrogate=self.surrogate,
            surrogate_alpha=self.surrogate_alpha,
            detach_reset=self.detach_reset,
            T=self.T,
        )

    @property
    def num_tokens(self) -> int:
        """Tokens of the last stage."""
        if not self.stage_blocks:
            return token_grid(self.img_size) ** 2
        side = pooled_side(self.img_size, self.stem_pools())
        return pooled_side(side, len(self.stage_blocks)) ** 2

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
    """One attention branch and one MLP branch; `dim` and `attention` default to the config's
    (a hierarchical model passes its stage's)."""

    def __init__(
        self,
        cfg: ModelConfig,
        make_neuron: MakeNeuron,
        dim: int | None = None,
        attention: str | None = None,
    ) -> None:
        super().__init__()
        dim = cfg.dim if dim is None else dim
        style = RESIDUAL.build(cfg.residual)
        attention = ATTENTION.build(
            cfg.attention if attention is None else attention,
            dim=dim,
            heads=cfg.heads,
            make_neuron=make_neuron,
            qkv_bias=cfg.qkv_bias,
            scale=cfg.attn_scale,
            attn_threshold=cfg.attn_threshold,
        )
        self.attn = style.branch(attention, make_neuron)
        self.mlp = style.branch(mlp(dim, int(dim * cfg.mlp_ratio), make_neuron), make_neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))


class Spikformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        make_neuron = cfg.neuron_settings().factory()
        style = RESIDUAL.build(cfg.residual)
        self.encoding = ENCODING.build(cfg.encoding, T=cfg.T)  # no parameters
        dims = cfg.stage_dims()
        self.stem = STEM.build(
            cfg.stem,
            in_channels=cfg.in_channels,
            dim=dims[0],
            img_size=cfg.img_size,
            make_neuron=make_neuron,
            spike_output=not style.membrane_stream,
            **({"pools": cfg.stem_pools()} if cfg.stage_blocks else {}),
        )
        self.blocks = nn.Sequential(*self._stages(cfg, make_neuron, not style.membrane_stream))
        self.readout = style.readout(make_neuron)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        init_weights(self, cfg.init)

    @staticmethod
    def _stages(cfg: ModelConfig, make_neuron: MakeNeuron, spikes: bool) -> list[nn.Module]:
        """Blocks stage by stage with a patch merge before every stage but the first (a flat
        model: `depth` blocks, nothing else)."""
        dims, depths = cfg.stage_dims(), cfg.stage_depths()
        layers: list[nn.Module] = []
        for i, (dim, n) in enumerate(zip(dims, depths, strict=True)):
            if i:
                layers.append(
                    MERGE.build(
                        cfg.merge,
                        in_dim=dims[i - 1],
                        dim=dim,
                        make_neuron=make_neuron,
                        spike_output=spikes,
                    )
                )
            last = i == len(dims) - 1
            attention = cfg.attention if last else (cfg.early_attention or cfg.attention)
            layers += [Block(cfg, make_neuron, dim, attention) for _ in range(n)]
        return layers

    @property
    def binary_input(self) -> bool:
        """Whether static images reach the first conv as spikes (see ModelConfig)."""
        return self.cfg.binary_input

    def time_major(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [T, B, C, H, W] (encoded; direct = repeated);
        [B, T, C, H, W] event frames -> [T, B, C, H, W]."""
        cfg = self.cfg
        if x.dim() == 4:
            return self.encoding(x)
        if x.dim() == 5:
            if cfg.encoding != "direct":
                raise ValueError(
                    f"encoding={cfg.encoding} codes static images; event frames are already "
                    "time steps: use encoding=direct for event data."
                )
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


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# Fields added after the first studies were run, with the values that reproduce the models
# built before them (a run id can leave out a field at this value and stay what it was).
ADDED_DEFAULTS: dict[str, object] = {
    "encoding": "direct",
    "stage_blocks": (),
    "early_attention": "",
    "merge": "qkformer",
    "init": "trunc_normal",
}
