"""Each family's block and a whole small model equal the paper's equations written out here
(float64, eval mode, random BN statistics so that neurons fire; spikes compared element by
element, in call order).

The reference reads only weights from our modules; every layer's kind, shape, stride, padding,
order and neuron threshold comes from the papers (and the authors' code where the paper is
silent), written below as plain tensor operations with a hand-written LIF.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from components import Spikformer
from components.model import Block, ModelConfig
from components.neurons import is_neuron
from components.presets import FAMILIES

T, B = 3, 2


class Ref:
    """The equations; every neuron output is appended to `spikes` in call order."""

    def __init__(self) -> None:
        self.spikes: list[torch.Tensor] = []

    def lif(self, x: torch.Tensor, v_th: float = 1.0) -> torch.Tensor:
        """H = V + (X - V) / tau, S = H >= V_th, V = H (1 - S); tau 2, V(0) = 0."""
        v, out = torch.zeros_like(x[0]), []
        for t in range(x.shape[0]):
            h = v + (x[t] - v) / 2.0
            s = (h >= v_th).to(x.dtype)
            v = h * (1 - s)
            out.append(s)
        self.spikes.append(torch.stack(out))
        return self.spikes[-1]

    @staticmethod
    def bn(y: torch.Tensor, bn: nn.Module) -> torch.Tensor:
        """Eval BatchNorm over the last axis (channels)."""
        flat = y.reshape(-1, y.shape[-1])
        out = F.batch_norm(flat, bn.running_mean, bn.running_var, bn.weight, bn.bias, False)
        return out.reshape(y.shape)

    def linear_bn(self, x: torch.Tensor, lbn: nn.Module, rows: slice = slice(None)):
        w, b = lbn.linear.weight[rows], lbn.linear.bias
        y = x @ w.T + (0 if b is None else b[rows])
        sub = nn.BatchNorm1d(y.shape[-1]).double().eval()
        for k in ("weight", "bias", "running_mean", "running_var"):
            getattr(sub, k).data = getattr(lbn.bn, k)[rows]
        return self.bn(y, sub)

    def conv_bn(self, x: torch.Tensor, cbn: nn.Module, stride: int = 1) -> torch.Tensor:
        """[T, B, C, H, W]; kernel 3 pads 1, kernel 1 pads 0."""
        w = cbn.conv.weight
        y = F.conv2d(x.flatten(0, 1), w, stride=stride, padding=w.shape[-1] // 2)
        y = self.bn(y.movedim(1, -1), cbn.bn).movedim(-1, 1)
        return y.reshape(*x.shape[:2], *y.shape[1:])

    @staticmethod
    def pool(x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(x.flatten(0, 1), 3, 2, 1)
        return y.reshape(*x.shape[:2], *y.shape[1:])

    @staticmethod
    def tokens(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(3).transpose(2, 3)

    # attentions: [T, B, N, D] spikes -> pre-activation of the output projection
    def qkv(self, x: torch.Tensor, body: nn.Module, n: int) -> list[torch.Tensor]:
        d = x.shape[-1]
        fused = body.qkv if hasattr(body, "qkv") else body.qk
        return [self.lif(self.linear_bn(x, fused, slice(i * d, (i + 1) * d))) for i in range(n)]

    def ssa(self, x: torch.Tensor, body: nn.Module, heads: int) -> torch.Tensor:
        """Y = LIF_0.5(s Q K^T V) per head, s = 0.125."""
        q, k, v = (z.unflatten(-1, (heads, -1)).transpose(2, 3) for z in self.qkv(x, body, 3))
        y = (q @ k.transpose(-2, -1)) @ v * 0.125
        return self.linear_bn(self.lif(y.transpose(2, 3).flatten(-2), 0.5), body.proj)

    def sdsa(self, x: torch.Tensor, body: nn.Module, heads: int) -> torch.Tensor:
        """Y = Q * LIF_0.5(sum over tokens of K * V) (Spike-driven Transformer, Eq. 13-14)."""
        q, k, v = self.qkv(x, body, 3)
        return self.linear_bn(q * self.lif((k * v).sum(2, keepdim=True), 0.5), body.proj)

    def qk_token(self, x: torch.Tensor, body: nn.Module, heads: int) -> torch.Tensor:
        """A = LIF_0.5(sum of Q over each head's channels), Y = A * K (QKFormer, Eq. 5-6)."""
        q, k = self.qkv(x, body, 2)
        mask = self.lif(q.unflatten(-1, (heads, -1)).sum(-1, keepdim=True), 0.5)
        return self.linear_bn((mask * k.unflatten(-1, (heads, -1))).flatten(-2), body.proj)

    def block(self, x: torch.Tensor, blk: Block, attention: str, residual: str, heads: int):
        """SEW: x + LIF(f(x)) (Spikformer, QKFormer); membrane shortcut: x + f(LIF(x))
        (Spike-driven Transformer, Spikingformer). f = attention, then the MLP."""
        attend = getattr(self, attention)
        mlp = blk.mlp.body

        def mlp_f(z: torch.Tensor) -> torch.Tensor:
            return self.linear_bn(self.lif(self.linear_bn(z, mlp[0])), mlp[2])

        if residual == "sew":
            x = x + self.lif(attend(x, blk.attn.body, heads))
            return x + self.lif(mlp_f(x))
        x = x + attend(self.lif(x), blk.attn.body, heads)
        return x + mlp_f(self.lif(x))


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g, dtype=torch.float64) * 2 + 1
            m.bias.data = torch.rand(n, generator=g, dtype=torch.float64) + 0.3
            m.running_mean = torch.rand(n, generator=g, dtype=torch.float64) * 0.4 - 0.2
            m.running_var = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    return model.eval()


def run(model: nn.Module, x: torch.Tensor, **kwargs) -> tuple[torch.Tensor, list[torch.Tensor]]:
    spikes: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda mod, i, out: spikes.append(out.detach().clone()))
        for m in model.modules()
        if is_neuron(m)
    ]
    with torch.no_grad():
        y = model(x, **kwargs)
    for h in hooks:
        h.remove()
    return y, spikes


def assert_same(ours: tuple, ref: Ref, expected: torch.Tensor) -> None:
    y, spikes = ours
    assert torch.allclose(y, expected, rtol=0, atol=1e-12), (y - expected).abs().max()
    assert len(spikes) == len(ref.spikes)
    for i, (a, b) in enumerate(zip(spikes, ref.spikes, strict=True)):
        assert torch.equal(a.reshape(b.shape), b), f"neuron call {i}: {int((a != b).sum())} differ"
    rate = torch.cat([s.flatten() for s in spikes]).mean()
    assert 0.05 < rate < 0.9  # the comparison saw real activity


BLOCKS = {  # family -> (attention, residual)
    "spikingformer": ("ssa", "ms_analog"),
    "sdt": ("sdsa", "ms_pooled"),
    "qkformer": ("qk_token", "sew"),
}


@pytest.mark.parametrize("family", list(BLOCKS))
def test_each_familys_block_equals_its_equations(family: str) -> None:
    torch.manual_seed(0)
    attention, residual = BLOCKS[family]
    cfg = FAMILIES[family].config("digits", 2, 32, 4, attention=attention, stage_blocks=())
    blk = randomize(Block(cfg, cfg.neuron_settings().factory()).double())
    assert cfg.residual == residual
    x = torch.randn(T, B, 16, 32, dtype=torch.float64)
    if residual == "sew":
        x = (x > 0.3).double() + (x > 1.0).double()  # a SEW stream holds small integers
    ref = Ref()
    assert_same(run(blk, x), ref, ref.block(x, blk, attention, residual, heads=4))


def spikingformer_model(ref: Ref, m: Spikformer, x: torch.Tensor) -> torch.Tensor:
    """Tokenizer: Conv-BN, then LIF -> [MaxPool] -> Conv-BN four times (pool in the last
    block at 16x16); pre-activation blocks; head on the mean membrane (no neuron)."""
    convs = [c for c in m.stem.modules() if hasattr(c, "conv")]
    h = ref.conv_bn(x, convs[0])
    for i, c in enumerate(convs[1:], start=1):
        h = ref.lif(h)
        h = ref.conv_bn(ref.pool(h) if i == 4 else h, c)
    z = ref.tokens(h)
    for blk in m.blocks:
        z = ref.block(z, blk, "ssa", "ms", m.cfg.heads)
    return m.head(z.mean(dim=(0, 2)))


def sdt_model(ref: Ref, m: Spikformer, x: torch.Tensor) -> torch.Tensor:
    """SPS: Conv-BN-LIF x3, Conv-BN-[MaxPool] (on the membrane), then x + BN(Conv(LIF(x)));
    SDSA blocks with membrane shortcuts; LIF on the token mean, head, mean over T."""
    convs = [c for c in m.stem.modules() if hasattr(c, "conv")]
    h = x
    for c in convs[:3]:
        h = ref.lif(ref.conv_bn(h, c))
    f = ref.pool(ref.conv_bn(h, convs[3]))
    z = ref.tokens(f + ref.conv_bn(ref.lif(f), convs[4]))
    for blk in m.blocks:
        z = ref.block(z, blk, "sdsa", "ms", m.cfg.heads)
    return m.head(ref.lif(z.mean(dim=2))).mean(0)


def qkformer_model(ref: Ref, m: Spikformer, x: torch.Tensor, deep: bool) -> torch.Tensor:
    """Patch embedding: s = LIF(BN(Conv3x3 x)) [pooled before the LIF when deep];
    y = main(s) + LIF(BN(Conv1x1 s)) (deformed shortcut, stride 2 when deep). Stages of Q-K
    token blocks, patch merges main + shortcut (pool before the first or second LIF), SSA
    blocks; head on the mean."""
    stem = [c for c in m.stem.modules() if hasattr(c, "conv")]
    pre = ref.conv_bn(x, stem[0])
    s = ref.lif(ref.pool(pre) if deep else pre)
    main = ref.conv_bn(s, stem[1])
    if deep:
        main = ref.conv_bn(ref.lif(ref.pool(main)), stem[2])
    z = ref.tokens(ref.lif(main) + ref.lif(ref.conv_bn(s, stem[-1], stride=2 if deep else 1)))
    for layer in m.blocks:
        if isinstance(layer, Block):
            kind = "ssa" if hasattr(layer.attn.body, "qkv") else "qk_token"
            z = ref.block(z, layer, kind, "sew", m.cfg.heads)
            continue
        side = int(z.shape[2] ** 0.5)
        g = z.transpose(2, 3).unflatten(-1, (side, side))
        c1, c2, short = [c for c in layer.modules() if hasattr(c, "conv")]
        if deep:  # ImageNet code: pool after the first conv
            y = ref.lif(ref.conv_bn(ref.lif(ref.pool(ref.conv_bn(g, c1))), c2))
        else:  # CIFAR code: pool after the second conv
            y = ref.lif(ref.pool(ref.conv_bn(ref.lif(ref.conv_bn(g, c1)), c2)))
        z = ref.tokens(y + ref.lif(ref.conv_bn(g, short, stride=2)))
    return m.head(z.mean(dim=(0, 2)))


def _image(channels: int, size: int) -> torch.Tensor:
    return torch.randn(B, channels, size, size, dtype=torch.float64)


MODELS = {
    "spikingformer": (
        lambda: FAMILIES["spikingformer"].config("digits16", 2, 32, 2, T=T),
        lambda r, m, x: spikingformer_model(r, m, x),
        16,
    ),
    "sdt": (
        lambda: FAMILIES["sdt"].config("digits16", 2, 32, 2, T=T),
        lambda r, m, x: sdt_model(r, m, x),
        16,
    ),
    "qkformer_cifar_layout": (
        lambda: FAMILIES["qkformer"].config("digits", 3, 32, 2, T=T),
        lambda r, m, x: qkformer_model(r, m, x, deep=False),
        8,
    ),
    "qkformer_imagenet_layout": (  # 128 px, two merges: the stem pools twice, as at 224
        lambda: ModelConfig(
            **{**FAMILIES["qkformer"].settings("imagenet"), "qkv_bias": False},
            depth=4,
            dim=32,
            heads=2,
            T=T,
            in_channels=1,
            img_size=128,
        ),
        lambda r, m, x: qkformer_model(r, m, x, deep=True),
        128,
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_each_familys_small_model_equals_its_equations(name: str) -> None:
    make_cfg, reference, size = MODELS[name]
    torch.manual_seed(0)
    cfg = make_cfg()
    model = randomize(Spikformer(cfg).double())
    x = _image(cfg.in_channels, size)
    ref = Ref()
    expected = reference(ref, model, x.unsqueeze(0).expand(T, *x.shape))
    assert_same(run(model, x), ref, expected)
