"""The component registry, every part combination, and the model against the spec's facts."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from spikingjelly.activation_based.neuron.base_node import BaseNode
from torch import nn

from components import (
    ATTENTION,
    NEURON,
    RESIDUAL,
    STEM,
    ModelConfig,
    Spikformer,
    UnknownNameError,
    count_params,
    create_model,
)
from components.attention import SpikingSelfAttention
from components.encodings import ENCODING
from components.merges import MERGE
from components.neurons import NeuronSettings, is_neuron
from components.presets import MODEL_PRESETS, PAPER_PRESETS

# The paper's parameter counts as the authors' code builds them (components/presets/FACTS.md).
SPEC_PARAMS = {
    "cifar10-4-384": 9_324_730,
    "cifar10-4-256": 4_155_178,
    "cifar10-2-384": 5_765_050,
    "cifar100-4-384": 9_359_380,
    "cifar10dvs-2-256": 2_566_666,
    "dvs128-2-256": 2_566_923,
    "imagenet-8-384": 16_816_024,
    "imagenet-6-512": 23_373_352,
    "imagenet-8-512": 29_689_384,
    "imagenet-10-512": 36_005_416,
    "imagenet-8-768": 66_338_632,
}


def all_pairs(factors: dict[str, list[str]]) -> list[dict[str, str]]:
    """Rows in which every pair of values of any two factors appears at least once (greedy and
    deterministic): the full product grows as the product of the choices, this as the largest
    product of two, so adding a part adds a few rows, not a multiple of all of them."""
    names = list(factors)

    def pair(f: str, v: str, g: str, w: str) -> tuple:
        return ((f, v), (g, w)) if names.index(f) < names.index(g) else ((g, w), (f, v))

    uncovered = {
        pair(f, v, g, w)
        for f, g in itertools.combinations(names, 2)
        for v in factors[f]
        for w in factors[g]
    }
    rows: list[dict[str, str]] = []
    while uncovered:
        (f, v), (g, w) = min(uncovered)
        row = {f: v, g: w}
        for h in names:
            if h not in row:
                row[h] = max(
                    factors[h], key=lambda x: sum(pair(h, x, k, row[k]) in uncovered for k in row)
                )
        rows.append(row)
        uncovered -= {pair(f, row[f], g, row[g]) for f, g in itertools.combinations(names, 2)}
    return rows


# Hierarchical layouts: two stages (one early block, one late) joined by each registered merge.
LAYOUTS = ["flat", *MERGE.names()]
FACTORS = {
    "attention": ATTENTION.names(),
    "neuron": NEURON.names(),
    "stem": STEM.names(),
    "residual": RESIDUAL.names(),
    "encoding": ENCODING.names(),
    "layout": LAYOUTS,
}
COMBOS = [tuple(row[f] for f in FACTORS) for row in all_pairs(FACTORS)]


def tiny(**overrides) -> ModelConfig:
    # Low thresholds keep a random tiny net active, so that every weight gets a non-zero gradient.
    base = dict(
        depth=1,
        dim=32,
        heads=2,
        T=2,
        img_size=16,
        in_channels=3,
        num_classes=5,
        v_threshold=0.25,
        attn_threshold=0.25,
    )
    return ModelConfig(**{**base, **overrides})


@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_paper_preset_parameter_count_equals_spec(name: str) -> None:
    assert count_params(create_model(name)) == SPEC_PARAMS[name]


def test_every_paper_configuration_has_a_preset() -> None:
    assert sorted(PAPER_PRESETS) == sorted(SPEC_PARAMS)


def test_models_cli_lists_all_presets_with_spec_counts() -> None:
    import json

    out = subprocess.run(
        [sys.executable, "-m", "bench.models", "--json"], check=True, capture_output=True, text=True
    ).stdout
    rows = {r["name"]: r["params"] for r in json.loads(out)}
    assert {k: rows[k] for k in SPEC_PARAMS} == SPEC_PARAMS
    assert set(rows) == set(MODEL_PRESETS)


def test_the_combinations_cover_every_pair_of_parts() -> None:
    factors = list(FACTORS.values())
    for i, j in itertools.combinations(range(len(factors)), 2):
        seen = {(c[i], c[j]) for c in COMBOS}
        assert seen == set(itertools.product(factors[i], factors[j]))
    assert len(COMBOS) < 2 * len(ATTENTION.names()) * len(NEURON.names())


@pytest.mark.parametrize("attention,neuron,stem,residual,encoding,layout", COMBOS)
def test_every_combination_trains(
    attention: str, neuron: str, stem: str, residual: str, encoding: str, layout: str
) -> None:
    torch.manual_seed(0)
    stages = {} if layout == "flat" else dict(depth=2, stage_blocks=(1,), merge=layout)
    cfg = tiny(attention=attention, neuron=neuron, stem=stem, residual=residual, encoding=encoding)
    model = Spikformer(replace(cfg, **stages))
    logits = model(torch.randn(2, 3, 16, 16))
    assert logits.shape == (2, 5)
    # cross-entropy: its gradient never vanishes at the head, even when every logit is 0
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    grads = dict(model.named_parameters())
    missing = [n for n, p in grads.items() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"
    assert all(torch.isfinite(p.grad).all() for p in grads.values())
    # A saturated neuron (e.g. qk_channel's mask over a sum of 64 tokens) can make a surrogate
    # gradient underflow to exactly zero, and a neuron's own parameters (GLIF gates, PSN
    # weights) get none while it is silent; every other weight layer but one must learn.
    own = {
        f"{n}.{k}"
        for n, m in model.named_modules()
        if is_neuron(m)
        for k, _ in m.named_parameters()
    }
    zero = {
        n.rsplit(".", 2)[0] for n, p in grads.items() if n not in own and not p.grad.abs().sum()
    }
    assert len(zero) <= 1, f"zero gradient for {sorted(zero)}"


def _neuron_outputs(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, n=name: outputs.__setitem__(n, out))
        for name, m in model.named_modules()
        if isinstance(m, BaseNode)
    ]
    model(x)
    for h in hooks:
        h.remove()
    return outputs


@pytest.mark.parametrize("residual", ["sew", "ms"])
def test_neurons_emit_binary_spikes(residual: str) -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny(residual=residual, depth=2))
    outputs = _neuron_outputs(model, torch.randn(2, 3, 16, 16))
    assert len(outputs) > 10
    for name, out in outputs.items():
        assert set(out.unique().tolist()) <= {0.0, 1.0}, name
    assert sum(out.sum().item() for out in outputs.values()) > 0


def test_sew_stream_holds_small_non_negative_integers() -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny(depth=2))
    tokens = model.forward_tokens(torch.randn(2, 3, 16, 16))
    assert torch.equal(tokens, tokens.round()) and tokens.min() >= 0
    assert tokens.max() >= 2  # spikes were added


def test_membrane_shortcut_feeds_every_weight_layer_binary_spikes() -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny(residual="ms", depth=2))
    inputs: dict[str, torch.Tensor] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear | nn.Conv2d) and name != "head":
            m.register_forward_hook(lambda mod, inp, out, n=name: inputs.__setitem__(n, inp[0]))
    model(torch.randn(2, 3, 16, 16))
    first = "stem.blocks.0.conv"
    assert inputs[first].unique().numel() > 2  # analog image
    for name, x in inputs.items():
        if name != first:
            assert set(x.unique().tolist()) <= {0.0, 1.0}, name


@pytest.mark.parametrize(
    "stem,img_size,tokens",
    [(s, i, t) for s in ["sps", "conv"] for i, t in [(32, 64), (128, 64), (224, 196), (16, 64)]],
)
def test_stems_give_the_papers_token_grid(stem: str, img_size: int, tokens: int) -> None:
    cfg = ModelConfig(depth=1, dim=16, heads=2, T=1, img_size=img_size, stem=stem)
    assert cfg.num_tokens == tokens
    model = Spikformer(cfg).eval()
    with torch.no_grad():
        assert model.forward_tokens(torch.randn(1, 3, img_size, img_size)).shape == (
            1,
            1,
            tokens,
            16,
        )


def test_sps_pools_after_the_neuron_of_the_last_blocks() -> None:
    kinds = [type(m).__name__ for m in create_model("cifar10-4-384").stem.blocks]
    assert kinds == [
        "ConvBN",
        "LIFNode",
        "ConvBN",
        "LIFNode",
        "ConvBN",
        "LIFNode",
        "MaxPoolTime",
        "ConvBN",
        "LIFNode",
        "MaxPoolTime",
    ]


def test_event_frames_and_images_are_both_accepted() -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny(in_channels=2, T=3)).eval()
    frames = torch.rand(2, 3, 2, 16, 16)
    assert model(frames).shape == (2, 5)
    with pytest.raises(ValueError, match="3 frames|T=3"):
        model(torch.rand(2, 4, 2, 16, 16))
    # Repeating an image T times by hand equals direct coding.
    image = torch.rand(2, 2, 16, 16)
    repeated = image.unsqueeze(1).expand(2, 3, 2, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(image), model(repeated))


def test_neuron_state_does_not_leak_between_batches() -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny()).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        first = model(x)
        model(torch.randn(3, 3, 16, 16))  # a different batch size in between
        assert torch.equal(first, model(x))


def reference_ssa(attn: SpikingSelfAttention, x: torch.Tensor, heads: int, scale: float):
    """SSA written from the spec's equations, in the reference code's form: separate Q/K/V
    projections, BatchNorm1d on the transposed [T*B, C, N] tensor, (Q K^T) V, fresh LIFs."""
    t, b, n, d = x.shape
    w, bias = attn.qkv.linear.weight, attn.qkv.linear.bias
    bn = attn.qkv.bn

    def lif(v_th: float) -> nn.Module:
        return sj_neuron.LIFNode(
            tau=2.0,
            v_threshold=v_th,
            v_reset=0.0,
            detach_reset=True,
            surrogate_function=sj_surrogate.Sigmoid(alpha=4.0),
            step_mode="m",
        )

    def linear_bn(inp, weight, b_, mean, var, gamma, beta):
        y = nn.functional.linear(inp.flatten(0, 1), weight, b_)  # [TB, N, C]
        y = nn.functional.batch_norm(
            y.transpose(1, 2), mean, var, gamma, beta, training=False, eps=1e-5
        ).transpose(1, 2)
        return y.reshape(t, b, n, -1)

    qkv = []
    for i in range(3):
        s = slice(i * d, (i + 1) * d)
        y = linear_bn(
            x, w[s], bias[s], bn.running_mean[s], bn.running_var[s], bn.weight[s], bn.bias[s]
        )
        qkv.append(lif(1.0)(y).reshape(t, b, n, heads, d // heads).permute(0, 1, 3, 2, 4))
    q, k, v = qkv
    y = ((q @ k.transpose(-2, -1)) * scale) @ v
    y = lif(0.5)(y.transpose(2, 3).reshape(t, b, n, d))
    p = attn.proj
    return linear_bn(
        y,
        p.linear.weight,
        p.linear.bias,
        p.bn.running_mean,
        p.bn.running_var,
        p.bn.weight,
        p.bn.bias,
    )


@pytest.mark.parametrize("heads,scale", [(12, 0.125), (4, 0.25)])
def test_ssa_equals_the_direct_qk_then_v_formulation(heads: int, scale: float) -> None:
    torch.manual_seed(1)
    dim = 48
    attn = ATTENTION.build(
        "ssa",
        dim=dim,
        heads=heads,
        scale=scale,
        qkv_bias=True,
        make_neuron=NeuronSettings().factory(),
    )
    for bn in (attn.qkv.bn, attn.proj.bn):  # non-trivial BN statistics and affine terms
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 4.0)
        bn.bias.data.uniform_(0.0, 1.0)
    attn.eval()
    x = (torch.rand(4, 2, 64, dim) < 0.3).float()
    with torch.no_grad():
        ours, ref = attn(x), reference_ssa(attn, x, heads, scale)
    assert torch.allclose(ours, ref, atol=1e-5)
    spikes = _neuron_outputs(attn, x)["attn_neuron"]
    assert 0 < spikes.mean() < 1  # the 0.5-threshold neuron is neither silent nor saturated


def test_fused_qkv_keeps_the_reference_parameter_count() -> None:
    attn = ATTENTION.build("ssa", dim=384, heads=12, make_neuron=NeuronSettings().factory())
    # Reference: three Linear(384, 384) + BN(384) and one Linear(384, 384) + BN(384).
    assert count_params(attn) == 4 * (384 * 384 + 384 + 2 * 384)


def test_unknown_names_give_one_sentence_with_the_closest_match() -> None:
    with pytest.raises(UnknownNameError) as err:
        ATTENTION.build("sssa", dim=8, heads=1, make_neuron=None)
    message = str(err.value)
    assert message.startswith("Unknown attention 'sssa'.")
    assert "Did you mean 'ssa'?" in message and "sdsa" in message and "vsa" in message
    with pytest.raises(UnknownNameError, match="Unknown neuron 'lfi'. Did you mean 'lif'"):
        ModelConfig(neuron="lfi")
    with pytest.raises(UnknownNameError, match="Unknown stem"):
        ModelConfig(stem="patch")
    with pytest.raises(UnknownNameError, match="Unknown model preset 'cifar10-4-38'"):
        create_model("cifar10-4-38")


def test_registering_a_name_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        ATTENTION.register("ssa")(SpikingSelfAttention)


def test_invalid_model_settings_are_one_sentence_errors() -> None:
    with pytest.raises(ValueError, match="dim=384 is not divisible by heads=7"):
        ModelConfig(heads=7)
    with pytest.raises(ValueError, match="tau must be > 1.0"):
        ModelConfig(tau=1.0)
    with pytest.raises(ValueError, match="depth must be an integer"):
        ModelConfig(depth=0)


@pytest.mark.parametrize("neuron,surrogate", [("lif", "sigmoid"), ("if", "atan"), ("plif", "atan")])
def test_neuron_settings_reach_every_neuron(neuron: str, surrogate: str) -> None:
    model = Spikformer(
        tiny(neuron=neuron, surrogate=surrogate, v_threshold=1.0, attn_threshold=0.5)
    )
    nodes = {n: m for n, m in model.named_modules() if isinstance(m, BaseNode)}
    expected = {
        "lif": sj_neuron.LIFNode,
        "if": sj_neuron.IFNode,
        "plif": sj_neuron.ParametricLIFNode,
    }[neuron]
    assert all(isinstance(m, expected) for m in nodes.values())
    surrogate_type = {"sigmoid": sj_surrogate.Sigmoid, "atan": sj_surrogate.ATan}[surrogate]
    assert all(isinstance(m.surrogate_function, surrogate_type) for m in nodes.values())
    thresholds = {n: m.v_threshold for n, m in nodes.items()}
    assert thresholds["blocks.0.attn.body.attn_neuron"] == 0.5
    assert {v for n, v in thresholds.items() if "attn_neuron" not in n} == {1.0}
