"""components/energy.py: operation counts and energy against numbers worked out by hand."""

from __future__ import annotations

import json

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

from components import ATTENTION, create_model
from components.attention import SpikingSelfAttention
from components.energy import (
    E_AC,
    E_MAC,
    EnergyMeter,
    attention_rule,
    calibrate_bn,
    measure_energy,
)
from components.neurons import NeuronSettings

# An IF neuron with V_th 1 and hard reset turns a 0/1 input into exactly the same spikes at every
# time step, which lets a test choose the spikes a module sees.
make_if = NeuronSettings(kind="if").factory()


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


def row(report, name: str) -> dict:
    (found,) = [r for r in report.layers if r["name"] == name]
    return found


def test_tiny_net_counts_by_hand():
    # Channel 0 sees 2x the pixels (1.2, 0, 0.6, 2.0), channel 1 sees 0. IF over 2 steps:
    # 1.2 and 2.0 fire at both steps, 0.6 fires at step 2 only (0.6 + 0.6), zeros never.
    x = torch.tensor([[[[0.6, 0.0], [0.3, 1.0]]]])
    rep = measure_energy(TinyNet(), x, T=2)
    spikes, outputs = 5, 2 * 8  # per image: 5 spikes out of T x 8 neuron outputs

    conv = row(rep, "conv")
    assert conv["macs_per_step"] == 8  # 2 channels x 4 pixels x fan-in 1
    assert conv["macs"] == 16 and conv["time_steps"] == 2
    assert not conv["integer"] and conv["input_rate"] == pytest.approx(3 / 4)
    assert conv["macs_paper"] == 16 and conv["sops_paper"] == 0  # analog input: MACs

    fc = row(rep, "fc")
    assert fc["macs_per_step"] == 24 and fc["macs"] == 48
    assert fc["binary"] and fc["input_rate"] == pytest.approx(spikes / outputs)
    assert fc["sops_paper"] == pytest.approx(15)  # 5 spikes x 3 outputs = 5/16 x 48
    assert fc["macs_paper"] == 0

    t = rep.totals
    assert t["macs_dense"] == 64
    assert t["ann_energy_j"] == pytest.approx(64 * 4.6e-12)
    assert t["macs_analog"] == 16 and t["sops_paper"] == pytest.approx(15)
    assert t["energy_paper_j"] == pytest.approx(16 * 4.6e-12 + 15 * 0.9e-12)
    assert t["energy_strict_j"] == pytest.approx(t["energy_paper_j"])  # every SOP input binary
    assert rep.firing_rates == {"lif": pytest.approx(spikes / outputs)}
    assert t["mean_firing_rate"] == pytest.approx(spikes / outputs)
    assert (E_MAC, E_AC) == (4.6e-12, 0.9e-12)


def test_integer_input_is_sops_on_paper_and_macs_when_strict():
    # Two samples of a SEW-like stream holding 2s: 4 non-zeros of 8, 12 MACs per sample.
    x = torch.tensor([[2.0, 0.0, 1.0, 0.0], [0.0, 0.0, 2.0, 1.0]])
    rep = measure_energy(nn.Linear(4, 3), x)
    assert rep.samples == 2 and rep.totals["macs_dense"] == 12
    layer = rep.layers[0]
    assert layer["integer"] and not layer["binary"] and layer["input_max"] == 2
    assert layer["input_mean"] == pytest.approx(6 / 8)
    assert rep.totals["sops_paper"] == pytest.approx(0.5 * 12)
    assert rep.totals["macs_analog"] == 0
    assert rep.totals["energy_paper_j"] == pytest.approx(6 * 0.9e-12)
    assert rep.totals["macs_strict"] == 12 and rep.totals["sops_strict"] == 0
    assert rep.totals["energy_strict_j"] == pytest.approx(12 * 4.6e-12)

    binary = measure_energy(nn.Linear(4, 3), (x > 0).float())
    assert binary.layers[0]["binary"]
    assert binary.totals["energy_strict_j"] == pytest.approx(binary.totals["energy_paper_j"])


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


def attention_report(attn: nn.Module, proj_name: str, fixed: Fixed | None = None):
    if fixed is not None:
        setattr(attn, proj_name, fixed)
    x = (torch.rand(1, T_, N_, attn.proj.linear.in_features) < 0.5).float()
    return measure_energy(TimeMajor(attn), x, T=T_)


def attention_rows(rep) -> dict[str, dict]:
    return {r["name"].split("[")[1][:-1]: r for r in rep.layers if "[" in r["name"]}


def test_ssa_attention_products_by_hand():
    attn = SpikingSelfAttention(dim=D_, heads=H_, make_neuron=make_if)
    rep = attention_report(attn, "qkv", Fixed(Q, K, V))
    ops = attention_rows(rep)
    # K^T V: a product K[n, i] V[n, j] is accumulated only when both are 1. Counted by brute
    # force over every (t, token, head, i, j); by hand per (t, token) the terms are
    # 2+2, 2+0, 0+2, 1+0, 0+0, 2+2 = 13.
    kv = sum(
        K[t][n][h * d_ + i] * V[t][n][h * d_ + j]
        for t in range(T_)
        for n in range(N_)
        for h in range(H_)
        for i in range(d_)
        for j in range(d_)
    )
    assert kv == 13
    # Q (K^T V): each Q spike adds one row (d integers) of K^T V; Q has 7 spikes.
    q_spikes = sum(map(sum, (tok for step in Q for tok in step)))
    assert q_spikes == 7
    dense = T_ * H_ * N_ * d_ * d_  # N d^2 per head and step
    assert ops["k^T v"]["macs"] == dense == 48
    assert ops["k^T v"]["sops_paper"] == kv
    assert ops["q (k^T v)"]["macs"] == dense
    assert ops["q (k^T v)"]["sops_paper"] == q_spikes * d_
    for op in ops.values():  # spike products: ACs in both conventions
        assert op["macs_paper"] == 0 and op["sops_strict"] == op["sops_paper"]
    assert rep.totals["attention_sops"] == 13 + 14 and rep.totals["attention_macs"] == 0
    assert rep.firing_rates["attn.q_neuron"] == pytest.approx(7 / (T_ * N_ * D_))


def test_sdsa_and_qk_attention_products_by_hand():
    sdsa = ATTENTION.build("sdsa", dim=D_, heads=H_, make_neuron=make_if)
    ops = attention_rows(attention_report(sdsa, "qkv", Fixed(Q, K, V)))
    both = sum(K[t][n][c] * V[t][n][c] for t in range(T_) for n in range(N_) for c in range(D_))
    assert both == 6  # by hand: 2 + 1 + 1 at step 1, 0 + 0 + 2 at step 2
    assert ops["sum_n k*v"]["sops_paper"] == both and ops["sum_n k*v"]["macs"] == T_ * N_ * D_
    assert ops["q * mask"]["sops_paper"] == 7 and ops["q * mask"]["macs"] == T_ * N_ * D_

    k_spikes = sum(map(sum, (tok for step in K for tok in step)))
    assert k_spikes == 11
    for name in ("qk_token", "qk_channel"):
        qk = ATTENTION.build(name, dim=D_, heads=H_, make_neuron=make_if)
        ops = attention_rows(attention_report(qk, "qk", Fixed(Q, K)))
        assert ops["sum q"]["sops_paper"] == 7 and ops["sum q"]["macs"] == T_ * N_ * D_
        assert ops["mask * k"]["sops_paper"] == k_spikes


@pytest.mark.parametrize("name", ["vsa", "vsa_float_v", "identity_map"])
def test_float_attention_costs_macs(name):
    dim, heads, n, t = 8, 2, 5, 2
    attn = ATTENTION.build(name, dim=dim, heads=heads, make_neuron=make_if)
    x = (torch.rand(1, t, n, dim) < 0.5).float()
    rep = measure_energy(TimeMajor(attn), x, T=t)
    ops = attention_rows(rep)
    per_product = t * heads * n * n * (dim // heads)  # N^2 d per head and step
    assert per_product == 400
    for op in ("q k^T", "a v"):
        assert ops[op]["macs"] == per_product and ops[op]["macs_paper"] == per_product
        assert ops[op]["sops_paper"] == 0 and ops[op]["macs_strict"] == per_product
    assert rep.totals["attention_macs"] == 800 and rep.totals["attention_sops"] == 0
    proj = row(rep, "attn.proj.linear")  # sees the float A V: MACs, not SOPs
    assert not proj["integer"] and proj["macs_paper"] == t * n * dim * dim
    assert rep.totals["macs_analog"] == 800 + t * n * dim * dim


def test_every_registered_attention_has_a_rule():
    for name in ATTENTION.names():
        attn = ATTENTION.build(name, dim=8, heads=2, make_neuron=make_if)
        assert attention_rule(attn) is not None, name


def calibrated_digits(**overrides) -> nn.Module:
    torch.manual_seed(0)
    model = create_model("digits-1-32", **overrides)
    calibrate_bn(model, [torch.rand(4, 1, 16, 16)])  # untrained BN buffers leave it silent
    return model.eval()


def test_sew_stream_with_twos_costs_more_when_strict():
    model = calibrated_digits()
    rep = measure_energy(model, torch.rand(4, 1, 16, 16))
    stream = row(rep, "blocks.0.attn.body.qkv.linear")  # reads the SEW stream x0 = x + LIF(.)
    assert stream["integer"] and stream["input_max"] >= 2 and not stream["binary"]
    assert stream["macs_strict"] == stream["macs"] and stream["sops_paper"] > 0
    assert rep.totals["energy_strict_j"] > rep.totals["energy_paper_j"]
    first = row(rep, "stem.blocks.0.conv")  # analog image: MACs in both conventions
    assert first["macs_paper"] == first["macs"] == 4 * 16 * 16 * 4 * 9  # T x HW x C_out x 3x3
    assert first["macs_per_step"] == 16 * 16 * 4 * 9
    assert row(rep, "head")["time_steps"] == 1 and row(rep, "head")["macs"] == 32 * 10
    assert set(rep.firing_rates) >= {"stem.blocks.1", "blocks.0.attn.body.attn_neuron"}


def test_membrane_shortcut_layers_see_binary_spikes():
    model = calibrated_digits(residual="ms")
    rep = measure_energy(model, torch.rand(4, 1, 16, 16))
    hidden = [r for r in rep.layers if r["type"] in ("Linear", "Conv2d")][1:-1]
    assert hidden and all(r["binary"] for r in hidden)
    assert rep.totals["energy_strict_j"] == pytest.approx(rep.totals["energy_paper_j"])


def test_accumulation_is_the_per_sample_average():
    model = calibrated_digits()
    a, b = torch.rand(2, 1, 16, 16), torch.rand(3, 1, 16, 16)
    ra, rb = measure_energy(model, a), measure_energy(model, b)
    with EnergyMeter(model) as meter, torch.no_grad():
        model(a)
        model(b)
    both = meter.report()
    assert both.samples == 5
    for key, value in both.totals.items():
        if key == "mean_firing_rate":
            continue  # a rate over units, checked through firing_rates below
        assert value == pytest.approx((2 * ra.totals[key] + 3 * rb.totals[key]) / 5), key
    for name, rate in both.firing_rates.items():
        assert rate == pytest.approx((2 * ra.firing_rates[name] + 3 * rb.firing_rates[name]) / 5)
    assert ra.totals["sops_paper"] != pytest.approx(rb.totals["sops_paper"])  # not trivial

    meter.reset()
    assert meter.report().totals["macs_dense"] == 0 and meter.samples == 0
    model(a)  # hooks were removed on exit: nothing more is counted
    assert meter.samples == 0 and meter.report().layers == []


def test_report_is_json_serialisable():
    rep = measure_energy(calibrated_digits(attention="vsa"), torch.rand(2, 1, 16, 16))
    text = json.dumps(rep.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["totals"] == rep.totals and back["samples"] == 2 and back["T"] == 4
    assert len(back["layers"]) == len(rep.layers) and back["firing_rates"] == rep.firing_rates
    assert set(rep.totals) >= {
        "macs_dense",
        "ann_energy_j",
        "sops_paper",
        "macs_analog",
        "energy_paper_j",
        "sops_strict",
        "macs_strict",
        "energy_strict_j",
        "attention_sops",
        "mean_firing_rate",
    }
    assert len({frozenset(r) for r in rep.layers}) == 1  # every row has the same keys
