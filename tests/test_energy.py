"""components/energy: counts and every energy model against numbers worked out by hand, and
against spikingjelly's op counters and torch's flop counter where they define the same thing."""

from __future__ import annotations

import json

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based.op_counter import (
    DispatchCounterMode,
    LemaireEnergyConfig,
    LemaireEnergyProfiler,
    MACCounter,
    SynOpCounter,
)
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.config import resolve
from bench.datasets import load_data
from bench.energy import main
from bench.figures.ladder import energy_frame, plot_energy_components
from components import ATTENTION, create_model
from components.attention import SpikingSelfAttention
from components.energy import (
    KV_FIRST,
    LADDER,
    QK_FIRST,
    EnergyMeter,
    Product,
    ann_twin,
    calibrate_bn,
    declared_class,
    measure_energy,
    measure_ladder,
    price,
    require_energy_products,
)
from components.neurons import NeuronSettings
from components.registry import Registry

# An IF neuron with V_th 1 and hard reset turns a 0/1 input into exactly the same spikes at every
# time step, which lets a test choose the spikes a module sees.
make_if = NeuronSettings(kind="if").factory()
SRAM = 10 / 4 / 8192  # Lemaire: pJ per byte per byte of buffer below 8 KiB (10 pJ / word at 8 KiB)
ADD, MAC = 0.1, 3.2  # Lemaire's 32-bit add and mult + add (pJ)


def sram(buffer_bytes: float) -> float:
    return SRAM * buffer_bytes


def pj(result: dict, model: str) -> float:
    return result["energy_mj"][model] * 1e9


class TinyNet(nn.Module):
    """Conv2d 1->2 (k=1) -> IF -> Linear 8->3, time folded into the batch, T = 2."""

    T = 2

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=1, bias=False)
        self.lif = sj_neuron.IFNode(v_threshold=1.0, v_reset=0.0, step_mode="m")
        self.fc = nn.Linear(8, 3, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([2.0, 0.0]).view(2, 1, 1, 1))
            self.fc.weight.fill_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        b = x.shape[0]
        xt = x.unsqueeze(0).expand(self.T, *x.shape).flatten(0, 1)  # [T*B, 1, 2, 2]
        s = self.lif(self.conv(xt).reshape(self.T, b, 2, 2, 2))
        return self.fc(s.flatten(2)).mean(0)


TINY_X = torch.tensor([[[[0.6, 0.0], [0.3, 1.0]]]])


def test_tiny_net_every_model_by_hand():
    # Channel 0 sees 2x the pixels (1.2, 0, 0.6, 2.0), channel 1 sees 0. IF over 2 steps: 1.2 and
    # 2.0 fire at both steps, 0.6 at step 2 only (0.6 + 0.6): 5 spikes of T x 8 outputs.
    r = measure_ladder(TinyNet(), [TINY_X], T=2, source="hand")
    conv, fc = r["layers"]
    assert conv["dense_macs"] == 16 and conv["input_kinds"] == ["analog"]  # T x 8, fan-in 1
    assert conv["effective_macs"] == 12  # 3 non-zero pixels x 2 channels x 2 steps
    assert fc["dense_macs"] == 48 and fc["input_kinds"] == ["binary"]
    assert fc["effective_acs"] == fc["sops"] == 15  # 5 spikes x 3 outputs
    total = r["counts"]["total"]
    assert total["activation_sparsity"] == pytest.approx(1 - 5 / 16)
    assert total["membrane_updates"] == 16 and total["params"] == 2 + 24
    assert total["ann_twin_macs"] == 8 + 24  # one step of each
    # The conv's input is the same image at both steps: paper_once counts it once (8 MACs).
    by_hand = {
        "paper": 16 * 4.6 + 15 * 0.9,
        "paper_once": 8 * 4.6 + 15 * 0.9,
        "strict": 16 * 4.6 + 15 * 0.9,
        "value_weighted": 16 * 4.6 + 15 * 0.9,
        "fp16": 16 * 1.5 + 15 * 0.4,
        "int8": 16 * 0.23 + 15 * 0.03,
        "ann_twin": 32 * 4.6,
    }
    # memory, item by item: the conv is dense (analog input), the IF neuron updates 8 units
    # over 2 steps and writes 5 spikes, the Linear reads 5 events of fan-out 3.
    conv_e = 16 * MAC + (8 + 16 + 2) * ADD + 4 * (16 * sram(4 * 4) + 16 * sram(2 * 4))
    if_e = 5 * ADD + 4 * (2 * 16 * sram(8 * 4) + 5 * sram(1000 * 4))
    fc_e = 2 * 15 * ADD + 4 * (5 * sram(1000 * 4) + 15 * sram(24 * 4) + 2 * 15 * sram(3 * 4))
    by_hand["memory"] = conv_e + if_e + fc_e
    assert set(r["energy_mj"]) == set(LADDER) == set(by_hand)
    for model, value in by_hand.items():
        assert pj(r, model) == pytest.approx(value), model
    assert r["x_ann_twin"]["paper"] == pytest.approx(by_hand["paper"] / (32 * 4.6))
    assert r["ann_twin_mj"]["fp16"] * 1e9 == pytest.approx(32 * 1.5)
    assert r["per_image"] and r["samples"] == 1 and r["source"] == "hand"


def test_linear_on_integer_input_by_hand():
    # Two samples of a SEW-like stream holding 2s: 4 non-zeros of 8, 12 MACs per sample.
    x = torch.tensor([[2.0, 0.0, 1.0, 0.0], [0.0, 0.0, 2.0, 1.0]])
    r = measure_ladder(nn.Linear(4, 3), [x], source="hand")
    (layer,) = r["layers"]
    assert layer["input_kinds"] == ["integer"] and layer["input_max"] == 2
    assert layer["dense_macs"] == 12 and layer["effective_macs"] == 2 * 3  # 2 non-zeros x 3
    assert pj(r, "paper") == pytest.approx(0.5 * 12 * 0.9)  # rate 1/2 x 12 MACs as SOPs
    assert pj(r, "strict") == pytest.approx(12 * 4.6)  # not binary: dense MACs
    assert pj(r, "value_weighted") == pytest.approx((2 + 1) * 3 * 0.9)  # a 2 costs 2 ACs
    binary = measure_ladder(nn.Linear(4, 3), [(x > 0).float()], source="hand")
    assert pj(binary, "strict") == pytest.approx(pj(binary, "paper")) == 2 * 3 * 0.9


def test_conv_on_binary_input_by_hand():
    # One spike in the corner of a 3x3 map meets 4 of the 9 output positions (pad 1), one in the
    # centre meets all 9; each use feeds 2 output channels. The paper's rate x MACs ignores the
    # border: 2 spikes x 2 channels x 9 taps.
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = 1.0
    r = measure_ladder(conv, [x], source="hand")
    (layer,) = r["layers"]
    assert layer["dense_macs"] == 9 * 2 * 9 and layer["effective_acs"] == (4 + 9) * 2
    assert layer["sops"] == 2 * 2 * 9
    assert pj(r, "paper") == pytest.approx(36 * 0.9) and pj(r, "strict") == pytest.approx(26 * 0.9)


def test_first_layer_runs_once_only_for_repeated_input():
    model = calibrated_digits()
    image = measure_ladder(model, [torch.rand(2, 1, 8, 8)], source="t")
    first = model.stem.blocks[0].conv
    per_step = 8 * 8 * first.out_channels * 9  # HW x C_out x 3x3 x C_in=1
    saved = (4 - 1) * per_step * 4.6  # T - 1 repeats of the first conv, pJ
    assert pj(image, "paper") - pj(image, "paper_once") == pytest.approx(saved)
    frames = measure_ladder(model, [torch.rand(2, 4, 1, 8, 8)], source="t")  # event input
    assert pj(frames, "paper_once") == pytest.approx(pj(frames, "paper"))


# Spikes of a tiny attention: T = 2, B = 1, N = 3 tokens, D = 4 channels (2 heads of d = 2).
Q = [[[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 0, 0]], [[0, 0, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]]]
K = [[[1, 1, 0, 1], [0, 1, 0, 0], [0, 0, 1, 1]], [[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]]
V = [[[1, 0, 1, 1], [1, 1, 0, 0], [0, 0, 0, 1]], [[0, 1, 0, 0], [1, 1, 1, 1], [1, 0, 1, 0]]]
T_, N_, D_, H_, d_ = 2, 3, 4, 2, 2


class Fixed(nn.Module):
    """Stands in for the qkv projection: returns the same pre-activations whatever the input."""

    def __init__(self, *parts: list) -> None:
        super().__init__()
        value = torch.cat([torch.tensor(p, dtype=torch.float32) for p in parts], dim=-1)
        self.register_buffer("value", value.unsqueeze(1))  # [T, B=1, N, k*D]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value


class TimeMajor(nn.Module):
    """[B, T, N, D] -> attention on [T, B, N, D], so that the meter counts B samples."""

    def __init__(self, attn: nn.Module) -> None:
        super().__init__()
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        return self.attn(x.transpose(0, 1))


def products(attn: nn.Module, proj_name: str, fixed: Fixed, order: str = QK_FIRST) -> dict:
    setattr(attn, proj_name, fixed)
    x = torch.ones(1, T_, N_, attn.proj.linear.in_features)
    with EnergyMeter(TimeMajor(attn), T=T_) as meter, torch.no_grad():
        meter.model(x)
    return {p.name.split("[")[1][:-1]: p for p in meter.counts().products_in(order)}


def brute(*bits: int) -> int:
    """1 when every operand of one product term is a spike."""
    return int(all(bits))


def test_ssa_products_in_both_orders_by_hand():
    ops = products(
        SpikingSelfAttention(dim=D_, heads=H_, make_neuron=make_if), "qkv", Fixed(Q, K, V)
    )
    idx = [(t, h) for t in range(T_) for h in range(H_)]
    ch = [(i, j) for i in range(d_) for j in range(d_)]
    pairs = [(n, m) for n in range(N_) for m in range(N_)]
    # (QK^T)V: Q K^T accumulates Q[n,i] K[m,i] over every (n, m, i); A V adds, per V spike,
    # a column of N integers; the triples Q[n,i] K[m,i] V[m,j] are the value-weighted cost.
    qk = sum(
        brute(Q[t][n][h * d_ + i], K[t][m][h * d_ + i])
        for t, h in idx
        for n, m in pairs
        for i in range(d_)
    )
    v_spikes = sum(map(sum, (tok for step in V for tok in step)))
    triples = sum(
        brute(Q[t][n][h * d_ + i], K[t][m][h * d_ + i], V[t][m][h * d_ + j])
        for t, h in idx
        for n, m in pairs
        for i, j in ch
    )
    # by hand per (step, head): Q K^T 4 + 2 + 1 + 2, triples 5 + 3 + 1 + 2
    assert (qk, v_spikes, triples) == (9, 13, 11)
    assert ops["q k^T"].acs == qk and ops["a v"].acs == v_spikes * N_
    assert ops["a v"].weighted == triples and ops["q k^T"].dense == T_ * H_ * N_ * N_ * d_
    # Q(K^T V): K^T V accumulates K[n,i] V[n,j]; each Q spike adds a row of d integers.
    kv_ops = products(
        SpikingSelfAttention(dim=D_, heads=H_, make_neuron=make_if), "qkv", Fixed(Q, K, V), KV_FIRST
    )
    kv = sum(
        brute(K[t][n][h * d_ + i], V[t][n][h * d_ + j])
        for t, h in idx
        for n in range(N_)
        for i, j in ch
    )
    assert kv == 13 and kv_ops["k^T v"].acs == kv and kv_ops["q (k^T v)"].acs == 7 * d_
    assert kv_ops["q (k^T v)"].weighted == triples  # the same triples, in either order
    assert kv_ops["k^T v"].dense == T_ * H_ * N_ * d_ * d_ == 48


def test_sdsa_and_qk_products_by_hand():
    sdsa = products(
        ATTENTION.build("sdsa", dim=D_, heads=H_, make_neuron=make_if), "qkv", Fixed(Q, K, V)
    )
    both = sum(K[t][n][c] * V[t][n][c] for t in range(T_) for n in range(N_) for c in range(D_))
    assert both == 6  # by hand: 2 + 1 + 1 at step 1, 0 + 0 + 2 at step 2
    assert sdsa["sum_n k*v"].acs == both and sdsa["sum_n k*v"].dense == T_ * N_ * D_
    assert sdsa["q * mask"].acs == 7 and sdsa["q * mask"].dense == T_ * N_ * D_
    for name in ("qk_token", "qk_channel"):
        qk = products(
            ATTENTION.build(name, dim=D_, heads=H_, make_neuron=make_if), "qk", Fixed(Q, K)
        )
        assert qk["sum q"].acs == 7 and qk["sum q"].dense == T_ * N_ * D_
        assert qk["mask * k"].acs == 11  # K spikes


def float_attention_check(name: str, seed: int) -> None:
    """Guaranteed spikes whatever the seed: Q/K weights 0.3, V weights 1, no bias, and tokens
    that alternate all-ones (V = 8 > V_th: spikes) and zeros (no spikes)."""
    torch.manual_seed(seed)
    dim, heads, n, t = 8, 2, 5, 2
    attn = ATTENTION.build(name, dim=dim, heads=heads, make_neuron=make_if).eval()
    with torch.no_grad():
        attn.qkv.linear.weight[: 2 * dim].fill_(0.3)
        attn.qkv.linear.weight[2 * dim :].fill_(1.0)
        attn.qkv.linear.bias.zero_()
    x = torch.zeros(1, t, n, dim)
    x[:, :, ::2] = 1.0
    r = measure_ladder(TimeMajor(attn), [x], T=t, source="test")
    ops = r["counts"]["attention"]
    per_product = t * heads * n * n * (dim // heads)  # N^2 d per head and step
    assert ops["dense_macs"] == ops["effective_macs"] == 2 * per_product == 800
    assert ops["effective_acs"] == 0
    proj = next(row for row in r["layers"] if row["name"] == "attn.proj.linear")
    assert proj["input_kinds"] == ["analog"]  # A V mixes spiking and silent tokens: floats
    assert proj["input_max"] > 0  # V did spike
    assert pj(r, "paper") >= 800 * 4.6 + proj["dense_macs"] * 4.6


@pytest.mark.parametrize("name", ["vsa", "vsa_float_v", "identity_map"])
def test_float_attention_costs_macs(name):
    float_attention_check(name, seed=0)


class ToyAttention(nn.Module):
    """One projection and a declared element-wise product of its spikes with themselves."""

    energy_inputs = ("neuron",)

    def __init__(self, dim: int = 8, **kw) -> None:
        super().__init__()
        self.proj, self.neuron = nn.Linear(dim, dim), make_if()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.neuron(x)
        return self.proj(s * s)

    def energy_products(self, x: torch.Tensor, saved: dict) -> list[Product]:
        return [Product("s * s", saved["neuron"].numel(), saved["neuron"].sum())]


class Undeclared(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_validator_refuses_an_attention_without_products():
    reg = Registry("attention", validate=require_energy_products)
    reg.register("toy")(ToyAttention)

    def annotated(**kw) -> ToyAttention:
        return ToyAttention(**kw)

    reg.register("annotated")(annotated)
    marked = lambda **kw: ToyAttention(**kw)  # noqa: E731
    marked.energy_class = ToyAttention
    reg.register("marked")(marked)
    assert reg.names() == ["annotated", "marked", "toy"]
    with pytest.raises(ValueError, match="declares no energy products"):
        reg.register("bare")(Undeclared)
    with pytest.raises(ValueError, match="class is unknown"):
        reg.register("lambda")(lambda **kw: Undeclared())
    assert "bare" not in reg and "lambda" not in reg
    x = torch.ones(1, 2, 3, 8)  # every registered attention passes, and counts something
    for name in ATTENTION.names():
        require_energy_products(ATTENTION.get(name), name)
        assert declared_class(ATTENTION.get(name)) is not None
        attn = ATTENTION.build(name, dim=8, heads=2, make_neuron=make_if)
        r = measure_ladder(TimeMajor(attn), [x], T=2, source="t")
        assert r["counts"]["attention"]["dense_macs"] > 0, name


def test_declared_products_reach_the_ladder():
    toy = TimeMajor(ToyAttention())
    x = torch.ones(2, 3, 4, 8)  # B=2, T=3: every unit spikes at every step
    r = measure_ladder(toy, [x], T=3, source="toy")
    assert r["counts"]["attention"]["effective_acs"] == 3 * 4 * 8  # per image
    assert r["energy_mj_by_component"]["paper"]["attention"] == pytest.approx(96 * 0.9e-9)


def calibrated_digits(**overrides) -> nn.Module:
    torch.manual_seed(0)
    model = create_model("digits-1-32", **overrides)
    calibrate_bn(model, [torch.rand(4, 1, 8, 8)])  # untrained BN buffers leave it silent
    return model.eval()


def test_counts_agree_with_spikingjelly_counters():
    model, x = calibrated_digits(), torch.rand(2, 1, 8, 8)
    bn = [nn.BatchNorm1d, nn.BatchNorm2d]
    syn, mac = SynOpCounter(extra_ignore_modules=bn), MACCounter(extra_ignore_modules=bn)
    with torch.no_grad(), DispatchCounterMode([syn, mac]):
        model(x)
    syn_at, mac_at = syn.get_counts(), mac.get_counts()
    with EnergyMeter(model) as meter, torch.no_grad():
        model(x)
    counts = meter.counts()
    for layer in counts.layers:
        scope = f"Spikformer.{layer.name}"
        b = layer.buckets
        assert b["binary"].effective * 2 == sum(syn_at[scope].values()), layer.name
        assert (b["integer"].dense + b["analog"].dense) * 2 == sum(mac_at[scope].values())
    attention = syn_at["Spikformer.blocks.0.attn.body"][torch.ops.aten.bmm.default]
    assert sum(p.acs for p in counts.products_in(KV_FIRST)) * 2 == attention > 0


@pytest.mark.parametrize("binary", [True, False])
def test_memory_model_agrees_with_spikingjelly_lemaire(binary):
    torch.manual_seed(0)
    conv, fc = nn.Conv2d(2, 4, 3, padding=1, bias=not binary), nn.Linear(100, 3)
    neuron = sj_neuron.IFNode() if binary else sj_neuron.LIFNode()

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.neuron, self.fc = conv, neuron, fc

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            functional.reset_net(self)
            return self.fc(self.neuron(self.conv(x) * 3).flatten(1))

    net = Net()
    x = (torch.rand(1, 2, 5, 5) < 0.4).float() if binary else torch.rand(1, 2, 5, 5)
    profiler = LemaireEnergyProfiler(config=LemaireEnergyConfig(strict=False))
    profiler.bind_model(net)
    with profiler, torch.no_grad():
        net(x)
    with EnergyMeter(net, T=1) as meter, torch.no_grad():
        net(x)
    assert sum(price(meter.counts(), "memory")[0].values()) == pytest.approx(
        profiler.get_report().total_pj
    )


@pytest.mark.parametrize("attention", ["ssa", "vsa"])
def test_ann_twin_macs_equal_the_flop_counter(attention):
    model, x = calibrated_digits(attention=attention), torch.rand(2, 1, 8, 8)
    twin = ann_twin(model)
    assert not any(isinstance(m, sj_neuron.BaseNode) for m in twin.modules())
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        twin(x)
    r = measure_ladder(model, [x], order=KV_FIRST, source="t")  # the order the code runs
    assert r["counts"]["total"]["ann_twin_macs"] * 2 == flops.get_total_flops() / 2
    assert r["ann_twin_mj"]["paper"] * 1e9 == pytest.approx(
        r["counts"]["total"]["ann_twin_macs"] * 4.6
    )


def test_sew_stream_with_twos_costs_more_when_strict():
    model = calibrated_digits()
    rep = measure_energy(model, torch.rand(4, 1, 8, 8))
    (stream,) = [r for r in rep.layers if r["name"] == "blocks.0.attn.body.qkv.linear"]
    assert stream["input_kinds"] == ["integer"] and stream["input_max"] >= 2
    assert stream["macs_strict"] == stream["dense_macs"] and stream["sops_paper"] > 0
    assert rep.totals["energy_strict_j"] > rep.totals["energy_paper_j"]
    assert set(rep.firing_rates) >= {"stem.blocks.1", "blocks.0.attn.body.attn_neuron"}


def test_membrane_shortcut_layers_see_binary_spikes():
    model = calibrated_digits(residual="ms")
    rep = measure_energy(model, torch.rand(4, 1, 8, 8))
    hidden = [r for r in rep.layers if r["type"] in ("TokenLinear", "Conv2d")][1:-1]
    assert hidden and all(r["input_kinds"] == ["binary"] for r in hidden)


def test_accumulation_is_the_per_sample_average():
    model = calibrated_digits()
    a, b = torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8)
    ra, rb = measure_energy(model, a), measure_energy(model, b)
    with EnergyMeter(model) as meter, torch.no_grad():
        model(a)
        model(b)
    both = meter.report()
    assert both.samples == 5
    for key, value in both.totals.items():
        if key != "mean_firing_rate":  # a rate over units, checked through firing_rates
            assert value == pytest.approx((2 * ra.totals[key] + 3 * rb.totals[key]) / 5), key
    for name, rate in both.firing_rates.items():
        assert rate == pytest.approx((2 * ra.firing_rates[name] + 3 * rb.firing_rates[name]) / 5)
    assert ra.totals["sops_paper"] != pytest.approx(rb.totals["sops_paper"])  # not trivial
    meter.reset()
    assert meter.report().totals["macs_dense"] == 0 and meter.samples == 0
    model(a)  # hooks were removed on exit: nothing more is counted
    assert meter.samples == 0 and meter.report().layers == []


def test_report_and_ladder_are_json_and_keep_the_record_keys():
    model = calibrated_digits(attention="vsa")
    rep = measure_energy(model, torch.rand(2, 1, 8, 8))
    back = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert back["totals"] == rep.totals and back["samples"] == 2 and back["T"] == 4
    consumed = {"energy_paper_j", "energy_strict_j", "sops_paper", "mean_firing_rate"}
    assert consumed | {f"energy_{m}_j" for m in LADDER} <= set(rep.totals)
    lad = json.loads(json.dumps(rep.ladder(source="s"), allow_nan=False))
    assert lad["energy_mj"]["paper"] == pytest.approx(rep.totals["energy_paper_j"] * 1e3)
    assert set(lad["counts"]) >= {"stem", "qkv", "attention", "proj", "mlp", "head", "total"}
    assert lad["counts"]["total"]["params"] == sum(p.numel() for p in model.parameters())


def fake_run(tmp_path, seed: int = 0):
    """A run folder as bench.train writes it: record.json with the config, checkpoint.pt."""
    cfg = resolve({"preset": "digits-1-32", "seed": seed})
    model = calibrated_digits()
    (tmp_path / "record.json").write_text(json.dumps({"config": cfg.to_dict()}))
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    return cfg, model


def test_cli_recomputes_the_ladder_of_a_run(tmp_path, capsys):
    cfg, model = fake_run(tmp_path)
    assert main([str(tmp_path), "--json", "--limit", "6", "split=test"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["energy_mj"]) == set(LADDER) and out["per_image"] and out["samples"] == 6
    assert "trained weights (epoch 3), test split, first 6 of" in out["source"]
    data = load_data("digits", batch_size=4, test_batch_size=4, T=cfg.model.T, augment=False)
    x = torch.cat([xb for xb, _ in data.test])[:6]
    again = measure_ladder(model, [x], source="same")
    for name, mj in again["energy_mj"].items():
        assert out["energy_mj"][name] == pytest.approx(mj), name
    assert main([str(tmp_path), "split=train"]) == 2  # one sentence on stderr
    assert "split=train" in capsys.readouterr().err


def test_cli_labels_every_line_of_an_untrained_preset(capsys):
    assert main(["digits-1-32", "--calibrate-bn", "1", "--batch", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) > len(LADDER)
    assert all(line.startswith("[untrained, BN calibrated on 1 random batches]") for line in lines)


def test_energy_frame_and_component_figure(tmp_path):
    records = []
    for variant, net, x in [("tiny", TinyNet(), TINY_X), ("linear", nn.Linear(4, 3), None)]:
        for seed in (0, 1):
            x_in = x if x is not None else torch.full((1, 4), float(seed + 1))
            lad = measure_ladder(net, [x_in], T=2 if variant == "tiny" else 1, source="t")
            records.append({"variant": variant, "seed": seed, "energy": {"ladder": lad}})
    records.append({"variant": "old", "seed": 0, "energy": {"totals": {}}})  # no ladder: skipped
    frame = energy_frame(records)
    assert set(frame["variant"]) == {"tiny", "linear"} and set(frame["model"]) == set(LADDER)
    sums = frame.groupby(["variant", "seed", "model"])["energy_mj"].sum()
    assert sums["tiny", 0, "memory"] == pytest.approx(
        records[0]["energy"]["ladder"]["energy_mj"]["memory"]
    )
    path = plot_energy_components(frame, tmp_path / "fig" / "energy.png", model="memory")
    assert path.is_file() and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="No energy for model 'nope'"):
        plot_energy_components(frame, tmp_path / "x.png", model="nope")
