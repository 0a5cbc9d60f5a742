"""Training protocols (issue 12): the paper recipes against a hand-written table, fp16 only on
CUDA, the schedule's LR and drop_last through the training code, per-family init statistics."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path

import pytest
import torch
from data_fixtures import write_cifar10
from torch import nn

from bench.config import ConfigError, RunConfig, TrainConfig, resolve
from bench.config.protocols import PROTOCOLS, departures
from bench.datasets import load_data
from bench.datasets.transforms import RANDAUGMENT_OPS
from bench.training.run import build, load_run_data
from components.model import Spikformer

# The authors' recipes, written out by hand from their configs and scripts (sources in
# bench/config/protocols.py), as a CUDA run resolves them.
PAPER_TRAIN = {
    "cifar10": TrainConfig(
        epochs=300, cooldown_epochs=10, batch_size=128, lr=5e-4, min_lr=1e-5, warmup_epochs=20,
        warmup_lr=1e-5, weight_decay=0.06, label_smoothing=0.1, mixup=0.5, cutmix=0.0,
        mixup_prob=1.0, mixup_off_epoch=200, clip_grad=None, amp="fp16",
    ),
    "cifar10_dvs": TrainConfig(
        epochs=96, cooldown_epochs=10, batch_size=16, lr=1e-3, min_lr=1e-5, warmup_epochs=10,
        warmup_lr=1e-5, weight_decay=0.06, label_smoothing=0.1, mixup=0.5, cutmix=0.0,
        mixup_prob=0.5, mixup_off_epoch=75, clip_grad=None, amp="fp16",
    ),
    "dvs128_gesture": TrainConfig(
        epochs=190, cooldown_epochs=10, batch_size=16, lr=1e-3, min_lr=1e-5, warmup_epochs=10,
        warmup_lr=1e-5, weight_decay=0.06, label_smoothing=0.1, mixup=0.0, cutmix=0.0,
        mixup_prob=1.0, mixup_off_epoch=None, clip_grad=None, amp="fp16",
    ),
    "imagenet": TrainConfig(
        epochs=300, cooldown_epochs=10, batch_size=192, lr=5e-4, min_lr=1e-5, warmup_epochs=20,
        warmup_lr=1e-6, weight_decay=0.05, label_smoothing=0.1, mixup=0.8, cutmix=1.0,
        mixup_prob=1.0, mixup_off_epoch=None, clip_grad=None, amp="fp16",
    ),
    "digits": TrainConfig(
        epochs=20, batch_size=32, lr=5e-3, min_lr=1e-5, warmup_epochs=0, weight_decay=0.01,
        label_smoothing=0.0,
    ),
}  # fmt: skip
PAPER_TRAIN["cifar100"] = PAPER_TRAIN["cifar10"]
PAPER_TRAIN["imagenet100"] = PAPER_TRAIN["imagenet"]
PAPER_TRAIN["digits16"] = PAPER_TRAIN["digits"]
# (augment, drop_last, augment_order, randaugment_ops, init, preset, protocol)
PAPER_REST = {
    "cifar10": (True, True, "authors", "authors", "trunc_normal", "cifar10-4-384", "paper"),
    "cifar100": (True, True, "authors", "authors", "trunc_normal", "cifar100-4-384", "paper"),
    "cifar10_dvs": (True, True, "timm", None, "pytorch_default", "cifar10dvs-2-256", "paper"),
    "dvs128_gesture": (False, True, "timm", None, "pytorch_default", "dvs128-2-256", "paper"),
    "imagenet": (True, True, "authors", "timm", "pytorch_default", "imagenet-8-512", "paper"),
    "imagenet100": (True, True, "authors", "timm", "pytorch_default", "imagenet-8-512", "paper"),
    "digits": (True, False, "timm", None, "trunc_normal", "digits-2-32", "cpu"),
    "digits16": (True, False, "timm", None, "trunc_normal", "digits16-2-32", "cpu"),
}


@pytest.mark.parametrize("dataset", sorted(PAPER_REST))
def test_default_protocol_of_each_dataset_equals_the_table(dataset: str) -> None:
    cfg = resolve({"data.name": dataset, "device": "cuda"})
    assert cfg.train == PAPER_TRAIN[dataset]
    d, m = cfg.data, cfg.model
    got = (d.augment, d.drop_last, d.augment_order, d.randaugment_ops, m.init, cfg.preset)
    assert (*got, cfg.protocol) == PAPER_REST[dataset]
    assert departures(cfg) == []


def test_the_paper_total_epochs_are_the_papers() -> None:
    total = {ds: PAPER_TRAIN[ds].epochs + PAPER_TRAIN[ds].cooldown_epochs for ds in PAPER_TRAIN}
    # spec, training protocols: CIFAR 300 (+10 cooldown), CIFAR10-DVS 106, DVS128 200, ImageNet 310
    assert [total[d] for d in ("cifar10", "cifar10_dvs", "dvs128_gesture", "imagenet")] == [
        310,
        106,
        200,
        310,
    ]


def test_every_paper_item_has_a_source_and_every_training_setting_is_given() -> None:
    wanted = {f"train.{f.name}" for f in fields(TrainConfig)} - {"train.compile"}
    for dataset, by_name in PROTOCOLS.items():
        for protocol in by_name.values():
            assert protocol.dataset == dataset
            assert all(item.source.strip() for item in protocol.items.values())
            if protocol.name == "paper":
                assert wanted <= set(protocol.items), dataset
            resolve({"data.name": dataset, "protocol": protocol.name})  # every item a setting


def test_fp16_only_where_the_device_is_cuda() -> None:
    cpu = resolve({"data.name": "cifar10_dvs", "device": "cpu"})
    assert cpu.train.amp == "none"
    [line] = departures(cpu)
    assert line.startswith("train.amp='none' instead of 'fp16'") and "no CUDA device" in line
    assert resolve({"data.name": "cifar10_dvs", "device": "cuda:1"}).train.amp == "fp16"
    auto = resolve({"data.name": "cifar10"}).train.amp
    assert auto == ("fp16" if torch.cuda.is_available() else "none")
    with pytest.raises(ConfigError, match="amp=fp16 needs a CUDA GPU"):
        resolve({"data.name": "cifar10", "device": "cpu", "train.amp": "fp16"})  # by hand: no


def test_overrides_win_and_are_listed_as_departures() -> None:
    dvs = {"data.name": "cifar10_dvs", "device": "cuda"}
    cfg = resolve({**dvs, "epochs": 5, "init": "trunc_normal"})
    assert (cfg.train.epochs, cfg.model.init) == (5, "trunc_normal")
    lines = departures(cfg)
    assert len(lines) == 2 and all(line.endswith(": overridden") for line in lines)
    assert lines[0].startswith("train.epochs=5 instead of 96 [cifar10dvs/train.py:110")


def test_suite_protocol_is_opt_in_and_named() -> None:
    cfg = resolve({"data.name": "cifar10_dvs", "protocol": "suite", "device": "cuda"})
    assert (cfg.protocol, cfg.train.epochs, cfg.train.cooldown_epochs, cfg.train.amp) == (
        "suite",
        106,
        0,
        "none",
    )
    assert (cfg.data.drop_last, cfg.data.augment_order, cfg.model.init) == (
        False,
        "timm",
        "trunc_normal",
    )
    assert resolve({"data.name": "cifar10"}).protocol == "paper"


@pytest.mark.parametrize("overrides,message", [
    ({"data.name": "digits", "protocol": "paper"},
     "protocol=paper is not defined for digits: use protocol=cpu."),
    ({"data.name": "imagenet", "protocol": "suite"},
     "protocol=suite is not defined for imagenet: use protocol=paper."),
    ({"data.name": "cifar10", "protocol": "papr"}, "protocol='papr' is not a choice"),
    ({"data.name": "cifar10", "init": "xavier"}, "Unknown init 'xavier'"),
])  # fmt: skip
def test_bad_protocol_choices_are_one_sentence(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(overrides)


def test_protocol_name_is_recorded_but_not_part_of_the_run_id() -> None:
    cfg = resolve({"data.name": "digits"})
    assert cfg.to_dict()["protocol"] == "cpu"
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.run_id == replace(cfg, protocol=None).run_id
    old = {k: v for k, v in cfg.to_dict().items() if k != "protocol"}  # a record from before
    assert RunConfig.from_dict(old).run_id == cfg.run_id


def test_dvs128_protocol_resolves_to_no_augmentation_at_all() -> None:
    for device in ("cpu", "cuda"):
        cfg = resolve({"data.name": "dvs128_gesture", "device": device})
        assert cfg.data.augment is False  # never a flip: it swaps left- and right-hand gestures
        assert (cfg.train.mixup, cfg.train.cutmix) == (0.0, 0.0)
        assert cfg.data.randaugment_ops is None


# ---------------------------------------------------------------------------------------------
# the schedule and drop_last through the training code


def _lr(t: float, c: TrainConfig) -> float:
    """timm's CosineLRScheduler as the authors' create_scheduler builds it (warm-up not a
    prefix: the cosine runs on the raw epoch t; after `epochs`, min_lr)."""
    if t < c.warmup_epochs:
        return c.warmup_lr + t * (c.lr - c.warmup_lr) / c.warmup_epochs
    if t >= c.epochs:
        return c.min_lr
    return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1 + math.cos(math.pi * t / c.epochs))


@pytest.mark.parametrize("dataset,hand", [
    # CIFAR10-DVS: 1e-3 peak, 10 warm-up epochs from 1e-5, cosine over 96, then 1e-5
    ("cifar10_dvs", {0: 1e-5, 5: 5.05e-4, 10: 9.737304e-4, 50: 4.726255e-4, 95: 1.026503e-5,
                     96: 1e-5, 100: 1e-5, 105: 1e-5}),
    # CIFAR: 5e-4 peak, 20 warm-up epochs from 1e-5, cosine over 300, then 1e-5 for 10
    ("cifar10", {0: 1e-5, 10: 2.55e-4, 150: 2.55e-4, 300: 1e-5, 309: 1e-5}),
])  # fmt: skip
def test_schedule_lr_at_chosen_epochs(dataset: str, hand: dict[int, float]) -> None:
    paper = resolve({"data.name": dataset, "device": "cpu"}).train
    for epoch, lr in hand.items():  # the hand table and the formula agree
        assert _lr(epoch, paper) == pytest.approx(lr, rel=1e-6)
    cfg = replace(resolve({"data.name": "digits", "preset": "digits-1-32"}), train=paper)
    built = build(cfg, load_data("digits", batch_size=16), torch.device("cpu"), 1)
    for epoch, lr in hand.items():  # the run sets epoch e's LR with scheduler.step(e)
        built.scheduler.step(epoch)
        assert built.trainer.optimizer.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-6)


@pytest.fixture
def cifar_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CIFAR10 fixture of 100 training images (10 per class); fixture files cannot match the
    official md5 sums, so only their existence is checked."""
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())
    write_cifar10(tmp_path, per_batch=20, balanced=True)
    return tmp_path


def test_paper_cifar_run_drops_the_last_batch_and_mixes_uint8(cifar_root: Path) -> None:
    base = {"data.name": "cifar10", "data_root": str(cifar_root), "batch_size": 16}
    for drop, n_batches, last in ((True, 5, 16), (None, 5, 16), (False, 6, 10)):
        overrides = base if drop is None else {**base, "data.drop_last": drop}
        data = load_run_data(resolve(overrides), 1, 0)
        # 100 images, 1 per class held out for validation: 90 = 5 x 16 + 10
        assert data.info["train_size"] == 90 and data.info["drop_last"] is (drop is not False)
        sizes = [len(y) for _, y in data.train]
        assert (len(sizes), sizes[-1], set(sizes[:-1])) == (n_batches, last, {16})
    x, _ = next(iter(data.train))
    assert x.dtype == torch.uint8  # the authors' order: mixed as uint8, normalised afterwards


def test_paper_cifar_run_draws_only_the_authors_randaugment_ops(
    cifar_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import timm.data.auto_augment as aa

    drawn: list[str] = []
    original = aa.AugmentOp.__call__

    def record(self: aa.AugmentOp, img: object) -> object:
        drawn.append(self.name)
        return original(self, img)

    monkeypatch.setattr(aa.AugmentOp, "__call__", record)
    cfg = resolve({"data.name": "cifar10", "data_root": str(cifar_root), "batch_size": 16})
    data = load_run_data(cfg, 1, 0)
    assert data.info["randaugment_ops"] == cfg.data.randaugment_ops == "authors"
    samples = data.train.dataset
    for epoch in range(200):  # one fixed image, 200 seeded draws of n=1 op
        samples.epoch = epoch
        samples[0]
    assert len(drawn) == 200
    assert (
        set(drawn)
        == set(RANDAUGMENT_OPS["authors"])
        == {"Equalize", "Rotate", "ShearX", "TranslateXRel", "TranslateYRel"}
    )


# ---------------------------------------------------------------------------------------------
# per-family initialisation


def _weights(model: Spikformer) -> dict[str, nn.Linear]:
    block = model.blocks[0]
    return {
        "qkv": block.attn.body.qkv.linear,
        "proj": block.attn.body.proj.linear,
        "fc1": block.mlp.body[0].linear,
        "fc2": block.mlp.body[2].linear,
    }


def test_dvs_paper_init_keeps_pytorch_default_on_the_projections() -> None:
    cfg = resolve({"data.name": "cifar10_dvs"}).model
    assert (cfg.dim, cfg.init, cfg.qkv_bias) == (256, "pytorch_default", False)
    torch.manual_seed(0)
    model = Spikformer(cfg)
    # kaiming-uniform a=sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std 1/sqrt(3 fan_in)
    std = {"qkv": 0.03608, "proj": 0.03608, "fc1": 0.03608, "fc2": 0.01804}
    for name, layer in _weights(model).items():
        fan_in = layer.in_features
        assert 1 / math.sqrt(3 * fan_in) == pytest.approx(std[name], rel=1e-3)
        assert layer.weight.std().item() == pytest.approx(std[name], rel=0.02)
        assert layer.weight.abs().max().item() <= 1 / math.sqrt(fan_in)
        if layer.bias is not None:  # proj, fc1, fc2: U(-b, b) as well, not zero
            assert 0 < layer.bias.abs().max().item() <= 1 / math.sqrt(fan_in)
    assert model.head.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.head.bias.abs().max().item() == 0.0


def test_cifar_paper_init_is_trunc_normal_002_with_zero_bias() -> None:
    cfg = resolve({"data.name": "cifar10"}).model
    assert cfg.init == "trunc_normal"
    torch.manual_seed(0)
    model = Spikformer(cfg)
    for layer in [*_weights(model).values(), model.head]:
        assert layer.weight.std().item() == pytest.approx(0.02, rel=0.02)
        assert layer.bias.abs().max().item() == 0.0


def test_pytorch_default_of_linear_equals_conv1d_k1() -> None:
    """Our projections are nn.Linear standing for the authors' Conv1d(k=1): PyTorch draws the
    same numbers for both (kaiming-uniform a=sqrt(5), fan_in = in_features), bias included."""
    torch.manual_seed(3)
    linear = nn.Linear(256, 768)
    torch.manual_seed(3)
    conv = nn.Conv1d(256, 768, kernel_size=1)
    assert torch.equal(linear.weight, conv.weight[:, :, 0])
    assert torch.equal(linear.bias, conv.bias)


# ---------------------------------------------------------------------------------------------
# the GPU check


def test_gpu_check_exits_cleanly_with_one_sentence_without_a_gpu(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert module.main([]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("No CUDA GPU is visible") and out.count(".") == 1 and "\n" not in out
