"""Fast paths: the fused LIF equals spikingjelly's LIFNode bit for bit (spikes and gradients),
`make_fast` keeps BN inputs and membranes fp32, and the throughput measurement runs.

Tiny shapes only; no timing thresholds (speed is measured by bench.throughput / benchmarks/)."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from bench.throughput import measure
from components import count_params, create_model
from components.fastpath import BF16Conv2d, BF16Linear, BF16TokenLinear, make_fast
from components.layers import TokenLinear
from components.neurons import FusedLIFNode


def _lif_pair(**overrides) -> tuple[nn.Module, nn.Module]:
    kw = dict(
        tau=2.0,
        decay_input=True,
        v_threshold=1.0,
        v_reset=0.0,
        surrogate_function=sj_surrogate.Sigmoid(alpha=4.0),
        detach_reset=True,
        step_mode="m",
    )
    kw.update(overrides)
    return sj_neuron.LIFNode(**kw), FusedLIFNode(**kw)


def _run(node: nn.Module, x: torch.Tensor, g: torch.Tensor, calls: int = 1):
    functional.reset_net(node)
    x = x.detach().clone().requires_grad_(True)
    outs = [node(x) for _ in range(calls)]  # calls > 1: state carried between calls
    torch.autograd.backward(outs, [g] * calls)
    return torch.stack(outs), x.grad


@pytest.mark.parametrize(
    "overrides",
    [{}, {"v_threshold": 0.5}, {"tau": 3.0}, {"v_reset": -0.2}, {"v_reset": None}],
    ids=["paper", "vth0.5", "tau3", "reset-0.2", "soft-reset-fallback"],
)
@pytest.mark.parametrize("layout", ["contiguous", "chunk-view", "channels-last"])
def test_fused_lif_equals_spikingjelly(overrides: dict, layout: str) -> None:
    torch.manual_seed(0)
    if layout == "chunk-view":  # like q = qkv.chunk(3, -1)[0]
        x = torch.randn(4, 3, 5, 18).chunk(3, dim=-1)[0]
    elif layout == "channels-last":
        x = torch.randn(12, 6, 5, 5).to(memory_format=torch.channels_last).reshape(4, 3, 6, 5, 5)
    else:
        x = torch.randn(4, 3, 7, 6)
    x = x * 1.5 + 0.6
    g = torch.randn(x.shape)
    sj, fused = _lif_pair(**overrides)
    for calls in (1, 2):
        s_ref, gx_ref = _run(sj, x, g, calls)
        s_new, gx_new = _run(fused, x, g, calls)
        assert s_ref.sum() > 0
        assert torch.equal(s_ref, s_new)
        assert torch.equal(gx_ref, gx_new)


def test_model_with_fused_lif_is_bit_identical() -> None:
    torch.manual_seed(0)
    a = create_model("digits-1-32")  # default "lif" = FusedLIFNode
    b = create_model("digits-1-32", neuron="lif_sj")
    assert any(isinstance(m, FusedLIFNode) for m in a.modules())
    assert not any(isinstance(m, FusedLIFNode) for m in b.modules())
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(3, 1, 16, 16), torch.randint(0, 10, (3,))
    for m in (a, b):
        nn.functional.cross_entropy(m(x), y).backward()
    assert torch.equal(a(x), b(x))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)


def test_make_fast_keeps_bn_inputs_and_membranes_fp32() -> None:
    torch.manual_seed(0)
    ref = create_model("digits-1-32")
    fast = create_model("digits-1-32")
    fast.load_state_dict(ref.state_dict())
    keys, n_params = list(fast.state_dict()), count_params(fast)
    make_fast(fast)
    assert list(fast.state_dict()) == keys and count_params(fast) == n_params
    assert any(isinstance(m, BF16TokenLinear) for m in fast.modules())
    assert any(isinstance(m, BF16Conv2d) for m in fast.modules())

    seen: dict[str, set[torch.dtype]] = {"bn": set(), "neuron": set(), "bf16_out": set()}

    def record(kind: str):
        def hook(_m, inp, out) -> None:
            seen[kind].add(out.dtype if kind == "bf16_out" else inp[0].dtype)

        return hook

    for m in fast.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.register_forward_hook(record("bn"))
        elif isinstance(m, sj_neuron.BaseNode):
            m.register_forward_hook(record("neuron"))
        elif isinstance(m, (BF16Linear, BF16TokenLinear, BF16Conv2d)):
            m.register_forward_hook(record("bf16_out"))
    x, y = torch.randn(4, 1, 16, 16), torch.randint(0, 10, (4,))
    out = fast(x)
    nn.functional.cross_entropy(out, y).backward()
    assert seen == {"bn": {torch.float32}, "neuron": {torch.float32}, "bf16_out": {torch.float32}}
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in fast.parameters())
    assert torch.isfinite(out).all()
    with torch.no_grad():
        rel = (out - ref(x)).norm() / ref(x).norm()
    assert rel < 0.5  # spikes amplify rounding; bench.throughput reports the flip fraction

    lin = nn.Linear(32, 16)
    s = (torch.rand(2, 8, 32) < 0.3).float()  # spike tokens, exact in bf16
    for cls in (BF16Linear, BF16TokenLinear):
        fast_lin = nn.Linear(32, 16)
        fast_lin.load_state_dict(lin.state_dict())
        fast_lin.__class__ = cls
        out = fast_lin(s)
        assert out.dtype == torch.float32
        assert torch.allclose(out, lin(s), rtol=2e-2, atol=2e-2)


def test_token_linear_equals_linear() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(24, 40)
    tok = TokenLinear(24, 40)
    tok.load_state_dict(lin.state_dict())
    x = (torch.rand(3, 2, 5, 24) < 0.3).float().requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    out, ref = tok(x), lin(x2)
    assert out.shape == ref.shape and out.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    g = torch.randn(ref.shape)
    out.backward(g)
    ref.backward(g)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tok.weight.grad, lin.weight.grad, rtol=1e-5, atol=1e-5)


def test_throughput_measure_runs_on_tiny_preset() -> None:
    report = measure("digits-1-32", batch=2, rounds=1, fast=True)
    paths = {r["path"]: r for r in report["results"]}
    assert set(paths) == {"eager", "fast"}  # spikingjelly has no 16x16 digits equivalent
    for r in paths.values():
        assert r["train_ips"] > 0 and r["eval_ips"] > 0
        assert r["gflops_fwd"] > 0 and r["gflops_train"] > r["gflops_fwd"]
        assert r["act_mb"] > 0
    assert 0 <= report["fast_path_spikes"]["flip_fraction"] < 1
