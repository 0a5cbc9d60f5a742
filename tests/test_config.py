"""The override grammar, presets and run ids."""

from __future__ import annotations

import pytest

from bench.config import ConfigError, parse_overrides, parse_value, resolve, run_id


def test_values_are_typed() -> None:
    assert [parse_value(v) for v in ["3", "0.5", "1e-3", "true", "off", "none", "ssa"]] == [
        3,
        0.5,
        1e-3,
        True,
        False,
        None,
        "ssa",
    ]


def test_sweeps_short_and_dotted_keys() -> None:
    parsed = parse_overrides(["attention=ssa,vsa", "model.dim=64", "lr=1e-3", "seeds=0,1,2"])
    assert parsed == {
        "model.attention": ["ssa", "vsa"],
        "model.dim": [64],
        "train.lr": [0.001],
        "seeds": [0, 1, 2],
    }


@pytest.mark.parametrize(
    "args,message",
    [
        (["atention=ssa"], "Unknown setting 'atention'. Did you mean 'attention'?"),
        (["dim"], "'dim' is not an override: write key=value"),
        (["dim=64", "model.dim=32"], "'model.dim' is given twice"),
        (["attention="], "has an empty value"),
        (["attention=ssa,"], "has an empty value"),
    ],
)
def test_grammar_errors_are_one_sentence(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_overrides(args)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"model.attention": "vssa"}, "Unknown attention 'vssa'. Did you mean 'vsa'?"),
        ({"model.heads": 5}, "not divisible by heads=5"),
        ({"train.lr": "fast"}, "lr='fast' has the wrong type: lr takes float"),
        ({"data.name": "cifar11"}, "Unknown dataset 'cifar11'. Did you mean 'cifar10'?"),
        ({"preset": "cifar10-4-38"}, "Did you mean 'cifar10-4-384'?"),
        ({"model.num_classes": 7}, "num_classes is set by the dataset"),
        ({"train.amp": "fp8"}, "amp='fp8' is not a choice"),
    ],
)
def test_bad_values_fail_before_any_work(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(overrides)


def test_dataset_picks_its_paper_model_and_protocol() -> None:
    cfg = resolve({"data.name": "cifar100"})
    assert cfg.preset == "cifar100-4-384"
    assert (cfg.model.depth, cfg.model.dim, cfg.model.heads, cfg.model.num_classes) == (
        4,
        384,
        12,
        100,
    )
    t = cfg.train
    assert (
        t.epochs,
        t.batch_size,
        t.lr,
        t.weight_decay,
        t.warmup_epochs,
        t.mixup,
        t.mixup_off_epoch,
        t.label_smoothing,
    ) == (300, 128, 5e-4, 0.06, 20, 0.5, 200, 0.1)
    dvs = resolve({"data.name": "cifar10_dvs", "preset": "paper"})
    assert (dvs.model.T, dvs.model.in_channels, dvs.model.attn_scale) == (16, 2, 0.25)
    # spec: 106 epochs = cosine over 96, then 10 cooldown epochs at the minimum LR.
    assert (dvs.train.epochs, dvs.train.cooldown_epochs) == (96, 10)


def test_a_preset_on_another_dataset_takes_the_datasets_shape() -> None:
    cfg = resolve({"preset": "cifar10-4-256", "data.name": "cifar100"})
    assert (cfg.model.dim, cfg.model.num_classes) == (256, 100)


def test_run_id_is_stable_and_depends_only_on_what_changes_results() -> None:
    a = resolve({"model.attention": "vsa", "seed": 1})
    assert run_id(a) == run_id(resolve({"seed": 1, "model.attention": "vsa"}))
    assert run_id(a) == run_id(
        resolve(
            {
                "model.attention": "vsa",
                "seed": 1,
                "loader_workers": 4,
                "data_root": "/elsewhere",
                "device": "cpu",
            }
        )
    )
    assert run_id(a) != run_id(resolve({"model.attention": "vsa", "seed": 2}))
    assert run_id(resolve({"train.lr": 1})) == run_id(resolve({"train.lr": 1.0}))
    assert len(run_id(a)) == 12


def test_worker_processes_are_a_flag_not_a_setting() -> None:
    with pytest.raises(ConfigError, match=r"workers= is not a setting: .*pass --workers N"):
        resolve({"workers": 4})
