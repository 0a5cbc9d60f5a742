"""Neurons x encodings, the encodings themselves, family presets against the facts table, timm."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import timm
import torch
from torch import nn

from components import ENCODING, NEURON, ModelConfig, Spikformer
from components.encodings import unit_intensity
from components.energy import measure_energy
from components.model import ADDED_DEFAULTS
from components.neurons import LEAKY, NeuronSettings, is_neuron, leaky_neurons
from components.presets import (
    ALIASES,
    FAMILIES,
    MODEL_PRESETS,
    create_model,
    get_preset,
    preset_params,
)
from components.registry import UnknownNameError

FACTS = Path(__file__).resolve().parents[1] / "components" / "presets" / "FACTS.md"


def tiny(**overrides) -> ModelConfig:
    # paper thresholds (1.0, 0.5): every neuron's own defaults are tuned for them
    base = dict(depth=1, dim=16, heads=2, T=4, img_size=8, in_channels=1, num_classes=3)
    return ModelConfig(**{**base, **overrides})


def neuron_outputs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list]:
    outs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o: outs.append(o.detach()))
        for m in model.modules()
        if is_neuron(m)
    ]
    logits = model(x)
    for h in hooks:
        h.remove()
    return logits, outs


@pytest.mark.parametrize(
    "neuron,encoding", list(itertools.product(NEURON.names(), ENCODING.names()))
)
def test_every_neuron_and_encoding_trains_a_step_and_spikes(neuron: str, encoding: str) -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny(neuron=neuron, encoding=encoding))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(4, 1, 8, 8) * 2, torch.tensor([0, 1, 2, 0])
    logits, outs = neuron_outputs(model, x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    changed = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert changed >= len(before) // 2  # the step reached most of the network

    assert len(outs) >= 8 and sum(o.sum() for o in outs) > 0
    values = torch.cat([o.flatten() for o in outs]).unique()
    if NEURON.meta(neuron)["binary"]:
        assert set(values.tolist()) <= {0.0, 1.0}
    else:  # the integer LIF: counts 0..4, and some count above 1
        assert torch.equal(values, values.round()) and values.min() >= 0 and values.max() <= 4
        assert values.max() > 1


def test_neuron_metadata_drives_leaky_and_steps() -> None:
    assert set(LEAKY) == set(leaky_neurons()) == set(NEURON.where(leaky=True))
    assert {"lif", "plif", "clif", "klif", "ilif", "eif", "izhikevich"} <= set(LEAKY)
    assert not {"if", "psn", "glif"} & set(LEAKY)
    assert NEURON.where(needs_T=True) == ["glif", "psn"]
    assert NEURON.where(binary=False) == ["ilif"]
    with pytest.raises(ValueError, match="one parameter per time step"):
        NeuronSettings(kind="psn")
    psn = NeuronSettings(kind="psn", T=5).factory()()
    assert psn.weight.shape == (5, 5) and torch.equal(psn.bias, -torch.ones(5, 1))
    with pytest.raises(ValueError, match="tau must be > 1.0 for clif"):
        ModelConfig(neuron="clif", tau=1.0)
    ModelConfig(neuron="psn", tau=1.0)  # no time constant, so any tau


def test_every_neuron_of_a_model_is_its_own_module() -> None:
    for name in ["qkformer-digits-3-32", "sdt-digits-2-32", "spikingformer-digits-2-32"]:
        model = create_model(name)
        ids = [id(m) for _, m in model.named_modules(remove_duplicate=False) if is_neuron(m)]
        assert len(ids) == len(set(ids)), name  # a shared neuron would share its state


# ---------------------------------------------------------------------------- encodings

PIXELS = torch.tensor([[[[-1.0, 0.0, 1.0]]]])  # one sample: unit intensities 0, 0.5, 1


def test_unit_intensity_is_a_per_sample_min_max() -> None:
    x = torch.stack([PIXELS[0], 3 * PIXELS[0] + 7])  # an affine copy gives the same intensities
    assert torch.equal(unit_intensity(x), torch.tensor([[[[0.0, 0.5, 1.0]]]] * 2))
    assert torch.equal(unit_intensity(torch.ones(1, 1, 2, 2)), torch.zeros(1, 1, 2, 2))


def test_direct_ttfs_and_phase_codes_by_hand() -> None:
    direct = ENCODING.build("direct", T=3)(PIXELS)
    assert direct.shape == (3, 1, 1, 1, 3) and torch.equal(direct[2], PIXELS)
    ttfs = ENCODING.build("ttfs", T=3)(PIXELS)[:, 0, 0, 0]  # [T, pixel]
    # u = 1 fires at step 0, u = 0.5 at floor(0.5 * 3) = 1, u = 0 never
    assert ttfs.tolist() == [[0, 0, 1], [0, 1, 0], [0, 0, 0]]
    phase = ENCODING.build("phase", T=3)(PIXELS)[:, 0, 0, 0]
    # round(u * 7) = 0, 4 (3.5 to even), 7 -> bits 000, 100, 111, most significant first
    assert phase.tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 1]]


def test_rate_code_fires_at_the_intensity() -> None:
    torch.manual_seed(0)
    spikes = ENCODING.build("rate", T=4000)(PIXELS)[:, 0, 0, 0]
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    rates = spikes.mean(0)
    assert rates[0] == 0 and rates[2] == 1 and abs(rates[1] - 0.5) < 0.03


@pytest.mark.parametrize("encoding", ENCODING.names())
def test_an_encoded_input_makes_the_first_conv_accumulate(encoding: str) -> None:
    torch.manual_seed(0)
    model = Spikformer(tiny(encoding=encoding)).eval()
    with torch.no_grad():
        first = measure_energy(model, torch.randn(4, 1, 8, 8)).layers[0]
    assert first["name"] == "stem.blocks.0.conv"
    binary = ENCODING.meta(encoding)["binary"]
    assert model.binary_input == model.cfg.binary_input == binary == (encoding != "direct")
    assert first["input_kinds"] == (["binary"] if binary else ["analog"])
    assert (first["effective_macs"] == 0) == binary


def test_event_frames_only_take_direct_encoding() -> None:
    frames = torch.rand(2, 4, 1, 8, 8)
    assert Spikformer(tiny()).eval()(frames).shape == (2, 3)
    with pytest.raises(ValueError, match="use encoding=direct for event data"):
        Spikformer(tiny(encoding="rate"))(frames)
    with pytest.raises(UnknownNameError, match="Unknown encoding 'poisson'"):
        tiny(encoding="poisson")


# ---------------------------------------------------------------------------- presets


def facts_table() -> dict[str, int]:
    """preset -> 'used' count, read from the facts table's parameter rows."""
    rows = {}
    section = FACTS.read_text().split("## Parameter counts")[1].split("\n## ")[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in MODEL_PRESETS:
            rows[cells[0]] = int(cells[2].replace(",", ""))
    return rows


FACT_ROWS = facts_table()


@pytest.mark.parametrize("name", sorted(FACT_ROWS))
def test_preset_parameter_count_equals_the_facts_table(name: str) -> None:
    assert preset_params(name) == FACT_ROWS[name]


def test_every_paper_preset_is_in_the_facts_table() -> None:
    paper = {n for n, p in MODEL_PRESETS.items() if not p.dataset.startswith("digits")}
    assert paper == set(FACT_ROWS)
    assert {p.family for p in MODEL_PRESETS.values()} == set(FAMILIES)


def test_the_issue_and_brief_names_exist() -> None:
    for name in [
        "spikingformer-cifar10-4-384",
        "spikingformer-imagenet-8-768",
        "sdt-cifar10-2-512",
        "sdt-imagenet-8-768",
        "qkformer-cifar10-4-384",
        "qkformer-imagenet-10-768",
        "qkformer-cifar-4-384",
        "spikformer-cifar10-4-384",
    ]:
        assert get_preset(name).name in MODEL_PRESETS
    assert get_preset("spikformer-cifar10-4-384") is MODEL_PRESETS["cifar10-4-384"]
    assert all(target in MODEL_PRESETS for target in ALIASES.values())
    with pytest.raises(UnknownNameError, match="Unknown model preset 'qkformer-cifar10-4-38'"):
        get_preset("qkformer-cifar10-4-38")


def test_digits_models_of_every_family_share_a_parameter_budget() -> None:
    for small, budget in [("2-32", "digits-2-32"), ("2-64", "digits-2-64")]:
        reference = preset_params(budget)
        wide = small.replace("2-", "3-")
        names = [f"spikingformer-digits-{small}", f"sdt-digits-{small}"]
        for name in [*names, f"qkformer-digits-{wide}"]:
            assert abs(preset_params(name) / reference - 1) < 0.1, name


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_searchable_width_builds(family: str) -> None:
    fam = FAMILIES[family]
    for depth, dim, heads in itertools.product(*(fam.widths[k] for k in ("depth", "dim", "heads"))):
        cfg = fam.config("digits", depth, dim, heads)
        with torch.device("meta"):
            Spikformer(cfg)
    with pytest.raises(UnknownNameError, match="Unknown dataset"):
        fam.config("mnist", 2, 32, 2)


def test_hierarchical_settings_are_checked_and_survive_json() -> None:
    cfg = get_preset("qkformer-cifar10-4-384").model
    assert cfg.stage_dims() == (96, 192, 384) and cfg.stage_depths() == (1, 1, 2)
    assert cfg.num_tokens == 64 and get_preset("qkformer-imagenet-10-768").model.num_tokens == 196
    assert ModelConfig.from_dict(cfg.to_dict() | {"stage_blocks": [1, 1]}) == cfg
    with pytest.raises(ValueError, match="leave at least one"):
        replace(cfg, depth=2)
    with pytest.raises(ValueError, match="multiple of 32"):
        replace(cfg, dim=400, heads=4)
    with pytest.raises(ValueError, match="does not divide the first stage width 96"):
        replace(cfg, heads=64)


def test_added_settings_default_to_the_models_built_before_them() -> None:
    assert {k: getattr(ModelConfig(), k) for k in ADDED_DEFAULTS} == ADDED_DEFAULTS
    names = [n for n, _ in create_model("digits-1-32").named_parameters()]
    assert names[0] == "stem.blocks.0.conv.weight" and names[-1] == "head.bias"
    assert not any(n.startswith("encoding") for n in names)


def test_a_fresh_interpreter_gets_timm_models_and_plugin_neurons_from_the_package() -> None:
    # one subprocess for both (an interpreter start costs seconds on a shared machine)
    code = (
        "import components, timm\n"
        "m = timm.create_model('spikformer_cifar10_4_384')\n"
        "print(sum(p.numel() for p in m.parameters()))\n"
        "m = timm.create_model('qkformer_digits_3_32', num_classes=4, in_chans=3)\n"
        "print(m.cfg.num_classes, m.cfg.in_channels, type(m).__name__)\n"
        "print(len(timm.list_models('spikformer_*')), len(timm.list_models('qkformer_*')))\n"
        "from components.neurons import leaky_neurons, lif\n"
        "components.NEURON.register('my_lif', leaky=True, binary=True)(lif)\n"
        "print('my_lif' in leaky_neurons())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, built, listed, plugin = out.stdout.split("\n")[:4]
    assert int(count) == FACT_ROWS["cifar10-4-384"]
    assert built == "4 3 Spikformer"
    spikformer = sum(p.family == "spikformer" for p in MODEL_PRESETS.values())
    qkformer = sum(p.family == "qkformer" for p in MODEL_PRESETS.values())
    assert listed == f"{spikformer} {qkformer}"
    assert plugin == "True"


def test_timm_names_and_errors() -> None:
    assert {re.sub("_", "-", n) for n in timm.list_models("sdt_*")} == {
        n for n, p in MODEL_PRESETS.items() if p.family == "sdt"
    }
    with pytest.raises(TypeError, match="Unknown setting 'drop_rate'"):
        timm.create_model("sdt_digits_2_32", drop_rate=0.1)
    with pytest.raises(ValueError, match="has no pretrained weights"):
        timm.create_model("sdt_digits_2_32", pretrained=True)
