"""Run configurations as data: the `key=value` override grammar, presets, stable run ids.

A run is fully described by a `RunConfig` (model + data + training protocol + seed). Users
write overrides such as `attention=vsa dim=256 epochs=5`; short keys map to dotted paths
(`dim` -> `model.dim`), dotted keys reach any field. `key=a,b,c` is a sweep (ablate only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from bench.config.protocols import (  # PAPER_MODEL, PROTOCOLS: re-exported
    PAPER_MODEL,
    PROTOCOL_NAMES,
    PROTOCOLS,  # noqa: F401
    get_protocol,
    on_cuda,
)
from bench.datasets import DATASETS
from components.model import ModelConfig
from components.presets import get_preset
from components.registry import UnknownNameError, unknown_choice_message


class ConfigError(ValueError):
    """A user's override that cannot be applied; the message is one sentence with the fix."""


def setting(default: Any, help: str, **check: Any) -> Any:
    """A config field with its one-line meaning and its valid range, as field metadata: the one
    table that `--help`, `python -m bench.config` and the checks before any work read.
    check: ge / gt / lt (numbers), choices (a tuple of values)."""
    return field(default=default, metadata={"help": help, **check})


@dataclass(frozen=True)
class DataConfig:
    name: str = setting("digits", "dataset (digits, cifar10, cifar100, cifar10_dvs, ...)")
    root: str | None = setting(
        None, "data folder (default $SPIKFORMER_DATA, then ~/.cache/spikformer-bench/data)"
    )
    workers: int = setting(0, "data-loader worker processes per run", ge=0)
    augment: bool = setting(True, "training augmentation of the dataset's protocol")
    test_batch_size: int | None = setting(None, "evaluation batch (default: batch_size)", ge=1)
    drop_last: bool = setting(False, "drop the last partial training batch (authors: on)")
    augment_order: str = setting(
        "timm",
        "timm: erase per sample, then mix; authors: mix uint8, normalise, erase the batch",
        choices=("timm", "authors"),
    )
    randaugment_ops: str | None = setting(
        None,
        "RandAugment op table: authors (their 5 ops), timm (15); none: dataset default",
        choices=("authors", "timm"),
    )


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(300, "epochs of the cosine schedule", ge=1)
    cooldown_epochs: int = setting(0, "extra epochs at min_lr after the schedule (timm)", ge=0)
    batch_size: int = setting(128, "global training batch", ge=1)
    lr: float = setting(5e-4, "peak learning rate (AdamW)", gt=0)
    min_lr: float = setting(1e-5, "learning rate at the end of the cosine", ge=0)
    warmup_epochs: int = setting(20, "linear warm-up epochs", ge=0)
    warmup_lr: float = setting(1e-5, "learning rate at the start of the warm-up", ge=0)
    weight_decay: float = setting(0.06, "AdamW weight decay (not on biases and BN)", ge=0)
    label_smoothing: float = setting(0.1, "label smoothing", ge=0, lt=1)
    mixup: float = setting(0.0, "mixup alpha (0: off)", ge=0)
    cutmix: float = setting(0.0, "cutmix alpha (0: off)", ge=0)
    mixup_prob: float = setting(1.0, "probability of mixing a batch", ge=0, le=1)
    mixup_off_epoch: int | None = setting(None, "mixup/cutmix stop from this epoch on", ge=0)
    clip_grad: float | None = setting(None, "gradient-norm clipping (None: off)", gt=0)
    amp: str = setting(
        "none",
        "mixed precision: none, bf16 (CPU opt-in), fp16 (CUDA)",
        choices=("none", "bf16", "fp16"),
    )
    compile: bool = setting(False, "torch.compile the model")


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = setting(0, "seed of init, data order, augmentation (ablate: seeds=N)", ge=0)
    device: str = setting("auto", "auto, cpu, cuda or cuda:N")
    preset: str = setting("digits-2-32", "model preset (python -m bench.models lists them)")
    protocol: str | None = setting(
        None,
        "training protocol: paper (the authors' recipe), suite (the suite's earlier one), cpu "
        "(digits); none: the dataset's own (docs/protocols.md)",
        choices=PROTOCOL_NAMES,
    )
    log: str = setting(
        "none",
        "per-run logging beside record.json: none, or tensorboard (RUN_DIR/tensorboard/)",
        choices=("none", "tensorboard"),
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(
            model=ModelConfig(**d["model"]),
            data=DataConfig(**d["data"]),
            train=TrainConfig(**d["train"]),
            seed=d["seed"],
            device=d["device"],
            preset=d["preset"],
            protocol=d.get("protocol"),  # records written before protocols had none
            log=d.get("log", "none"),
        )

    @property
    def run_id(self) -> str:
        return run_id(self)


MODEL_KEYS = [f.name for f in fields(ModelConfig)]
SHORT_KEYS: dict[str, str] = {
    **{k: f"model.{k}" for k in MODEL_KEYS},
    **{k: f"train.{f.name}" for f in fields(TrainConfig) for k in [f.name]},
    "dataset": "data.name",
    "data_root": "data.root",
    "loader_workers": "data.workers",
    "augment": "data.augment",
    "seed": "seed",
    "device": "device",
    "preset": "preset",
    "protocol": "protocol",
    "log": "log",
}
# Flags given as settings: the sentence names the flag (`workers=2` is not a loader setting).
FLAGS = {
    "workers": "worker processes are a flag: pass --workers N (data-loader workers of each run: "
    "loader_workers=N)",
    "study": "the study name is a flag: pass --study NAME",
    "storage": "the storage is a flag: pass --storage URL",
    "results": "the results folder is a flag: pass --results DIR",
    "trials": "the search budget is a flag: pass --trials N",
    "objectives": "objectives are a flag: pass --objectives accuracy,energy",
    "sampler": "the sampler is a flag: pass --sampler NAME",
}
# Set by the dataset, never by hand: a mismatch would only fail later inside the model.
DATASET_FIXED = ("num_classes", "in_channels", "img_size")


def all_keys() -> list[str]:
    dotted = [f"model.{k}" for k in MODEL_KEYS]
    dotted += [f"data.{f.name}" for f in fields(DataConfig)]
    dotted += [f"train.{f.name}" for f in fields(TrainConfig)]
    return sorted(set(SHORT_KEYS) | set(dotted))


def canonical_key(key: str) -> str:
    """`dim` -> `model.dim`; a dotted key is checked; an unknown key is one sentence."""
    if key in FLAGS:
        raise ConfigError(f"{key}= is not a setting: {FLAGS[key]}.")
    if key in SHORT_KEYS:
        return SHORT_KEYS[key]
    if key in all_keys():
        return key
    close = unknown_choice_message("setting", key, all_keys()).split(" Choose")[0]
    raise ConfigError(
        f"{close} Choose one of: {', '.join(sorted(SHORT_KEYS))} "
        "(or a dotted key such as model.dim, train.lr)."
    )


def check_type(section: type, name: str, value: Any) -> Any:
    """The override's value must fit the field's annotation (int, float, bool, str, None);
    returns it with an int given for a float field made a float (so lr=1 and lr=1.0 agree)."""
    annotation = {f.name: f.type for f in fields(section)}[name]
    allowed = {t.strip() for t in str(annotation).split("|")}
    ok = (
        (value is None and "None" in allowed)
        or (isinstance(value, bool) and "bool" in allowed)
        or (type(value) is int and ("int" in allowed or "float" in allowed))
        or (type(value) is float and "float" in allowed)
        or (isinstance(value, str) and "str" in allowed)
    )
    if not ok:
        want = " or ".join(sorted(allowed))
        raise ConfigError(f"{name}={value!r} has the wrong type: {name} takes {want}.")
    if type(value) is int and "int" not in allowed:
        value = float(value)
    check_range(section, name, value)
    return value


def check_range(section: type, name: str, value: Any) -> None:
    """The value must lie in the field's stated range (`setting(..., ge=, gt=, lt=, le=,
    choices=)`); ConfigError with one sentence naming the range otherwise."""
    meta = {f.name: f.metadata for f in fields(section)}[name]
    if value is None or isinstance(value, bool):
        return
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(
            f"{name}={value!r} is not a choice: use {', '.join(map(str, meta['choices']))}."
        )
    rules = {
        "ge": (">=", lambda a, b: a >= b),
        "gt": (">", lambda a, b: a > b),
        "le": ("<=", lambda a, b: a <= b),
        "lt": ("<", lambda a, b: a < b),
    }
    for key, (sign, ok) in rules.items():
        if key in meta and isinstance(value, int | float) and not ok(value, meta[key]):
            raise ConfigError(
                f"{name}={value!r} is out of range: {name} must be {sign} {meta[key]}."
            )


def check_device(device: str, amp: str) -> None:
    """Device names and the precision each device supports, before any work."""
    if device not in ("auto", "cpu", "cuda") and not (
        device.startswith("cuda:") and device[5:].isdigit()
    ):
        raise ConfigError(f"device={device!r} is not a device: use auto, cpu, cuda or cuda:N.")
    if amp == "fp16" and not on_cuda(device):
        raise ConfigError("amp=fp16 needs a CUDA GPU: use amp=bf16 (opt-in on CPU) or amp=none.")


def parse_value(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, 'none' -> None, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def parse_overrides(args: list[str]) -> dict[str, list[Any]]:
    """['attention=ssa,vsa', 'dim=64'] -> {'model.attention': ['ssa', 'vsa'], 'model.dim': [64]}.

    Keys are canonical (dotted) except the meta keys `seed`, `device`, `preset`, `seeds`."""
    out: dict[str, list[Any]] = {}
    for arg in args:
        if "=" not in arg or arg.startswith("="):
            raise ConfigError(f"'{arg}' is not an override: write key=value (for example dim=256).")
        key, _, text = arg.partition("=")
        key = key.strip()
        key = key if key == "seeds" else canonical_key(key)
        if key in out:
            raise ConfigError(f"'{key}' is given twice: give it once, with a,b,c for a sweep.")
        values = [parse_value(v) for v in text.split(",")] if text else []
        if not values or any(v == "" for v in values):
            raise ConfigError(f"'{arg}' has an empty value: write {key}=value or {key}=a,b.")
        out[key] = values
    return out


def resolve(overrides: dict[str, Any]) -> RunConfig:
    """Build one RunConfig from single-valued canonical overrides (see `parse_overrides`).

    Order: the model preset (from `preset`, else the dataset's paper model), then the dataset's
    training protocol (`protocol`, else the dataset's default; bench/config/protocols.py: its
    fp16 applies only where the device is CUDA), then every override. Registry names and model
    shapes are checked here, so a bad value fails before any work starts. Short keys (`dim`)
    are accepted too."""
    overrides = {canonical_key(k): v for k, v in overrides.items()}
    dataset = overrides.pop("data.name", None)
    preset_name = overrides.pop("preset", None)
    protocol_name = overrides.pop("protocol", None)
    if preset_name in (None, "paper"):
        preset_name = PAPER_MODEL.get(dataset or "digits")
        if preset_name is None:
            raise ConfigError(unknown_choice_message("dataset", dataset, list(PAPER_MODEL)))
    try:
        preset = get_preset(preset_name)
    except UnknownNameError as err:
        raise ConfigError(str(err)) from None
    dataset = dataset or preset.dataset
    if dataset not in PAPER_MODEL:
        raise ConfigError(unknown_choice_message("dataset", dataset, list(PAPER_MODEL)))
    shape = DATASETS.meta(dataset)
    model = replace(preset.model, **{k: shape[k] for k in DATASET_FIXED})
    try:
        protocol = get_protocol(dataset, check_type(RunConfig, "protocol", protocol_name))
    except UnknownNameError as err:
        raise ConfigError(str(err)) from None
    # the protocol's items go in as overrides the user's own replace
    overrides = {**protocol.settings(on_cuda(str(overrides.get("device", "auto")))), **overrides}
    cfg = RunConfig(
        model=model, data=DataConfig(name=dataset), preset=preset_name, protocol=protocol.name
    )
    sections: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "train": {}}
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if name and section in sections:
            if section == "model" and name in DATASET_FIXED:
                raise ConfigError(
                    f"{name} is set by the dataset ({dataset}); choose the dataset "
                    "instead of overriding it."
                )
            section_cls = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}[section]
            sections[section][name] = check_type(section_cls, name, value)
        else:
            top[key] = check_type(RunConfig, key, value)
    check_device(top.get("device", cfg.device), sections["train"].get("amp", cfg.train.amp))
    try:
        return replace(
            cfg,
            **top,
            model=replace(cfg.model, **sections["model"]),
            data=replace(cfg.data, **sections["data"]),
            train=replace(cfg.train, **sections["train"]),
        )
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None


def run_id(cfg: RunConfig) -> str:
    """Stable 12-hex id of everything that changes a run's result (not where data lives, not
    the number of loader workers, not its logging)."""
    d = cfg.to_dict()
    d["data"] = {k: v for k, v in d["data"].items() if k not in ("root", "workers")}
    d.pop("device")
    d.pop("protocol")  # a name for settings that are all in the id already
    d.pop("log")  # watching a run does not change it
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
