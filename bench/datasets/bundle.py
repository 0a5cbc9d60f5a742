"""The dataset registry, the bundle a training run gets, and `load_data`, the one entry point.

A dataset family registers a builder with its facts as metadata, so a config can read them
without loading anything (`DATASETS.meta("cifar10")["num_classes"]`):

    @DATASETS.register("cifar10", num_classes=10, in_channels=3, img_size=32, frames=False, ...)
    def _cifar10(req: DataRequest, **options) -> Prepared: ...

The builder finds (or downloads) the data, splits it and returns a `Prepared`; `load_data` turns
that into seeded loaders, writes the split file and describes everything in `bundle.info`.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from bench.datasets.batch import BatchAugment
from bench.datasets.sampling import SeededSamples, Subset, Transform, make_loader
from bench.datasets.splits import write_split_file
from bench.datasets.transforms import AUGMENT_ORDERS, RANDAUGMENT_OPS, Normalizer, check_choice
from components.registry import Registry

__all__ = [
    "DEFAULT_DATA_ROOT",
    "DATA_ROOT_ENV",
    "DATASETS",
    "DataError",
    "DataRequest",
    "Prepared",
    "DataBundle",
    "resolve_data_root",
    "load_data",
    "verify",
]

DEFAULT_DATA_ROOT = "~/.cache/spikformer-bench/data"
DATA_ROOT_ENV = "SPIKFORMER_DATA"
DATASETS = Registry("dataset")


class DataError(RuntimeError):
    """Data that is missing, corrupt or unusable; the message says what to do."""


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """`data_root`, else $SPIKFORMER_DATA, else the default cache folder (not created here)."""
    chosen = data_root if data_root else os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class DataRequest:
    """What every builder is asked for; `randaugment_ops` None means the dataset's own default."""

    root: Path
    T: int
    augment: bool
    augment_order: str
    randaugment_ops: str | None


@dataclass
class Prepared:
    """A builder's answer: three base datasets, their transforms and the split's description."""

    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int
    in_channels: int
    img_size: int
    frames: int | None
    split: dict  # written to split_file: the rule and the members of every split
    split_file: Path
    info: dict
    train_transform: Transform | None = None
    eval_transform: Transform | None = None
    normalize: Normalizer | None = None  # set when training batches come un-normalised
    erase_prob: float = 0.0  # random erasing of the batch (authors' order only)


@dataclass
class DataBundle:
    """Loaders plus the input geometry a model needs."""

    train: DataLoader  # yields (x, y int64); x [B,C,H,W] or [B,T,C,H,W] for event data
    val: DataLoader  # held out of the training data; test-time transforms, fixed order
    test: DataLoader  # read for final figures only; test-time transforms, fixed order
    num_classes: int
    in_channels: int
    img_size: int
    frames: int | None  # T for event data, None for static images
    info: dict = field(default_factory=dict)  # JSON-serialisable description
    augment_order: str = "timm"
    normalize: Normalizer | None = None  # what BatchAugment applies in the authors' order
    erase_prob: float = 0.0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle the training order and re-draw the augmentation for this epoch."""
        self.train.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        self.train.dataset.epoch = epoch  # type: ignore[attr-defined]

    def order_hash(self, epoch: int) -> str:
        """sha1 of this rank's training order in `epoch` (pairing evidence: equal for every
        variant of a seed)."""
        order = self.train.sampler.indices_for(epoch)  # type: ignore[union-attr]
        return hashlib.sha1(np.asarray(order, dtype=np.int64).tobytes()).hexdigest()

    def batch_augment(
        self,
        *,
        mixup: float = 0.0,
        cutmix: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        off_epoch: int | None = None,
        smoothing: float = 0.0,
    ) -> BatchAugment:
        """The per-step batch augmentation that completes this bundle's training pipeline."""
        authors = self.augment_order == "authors"
        return BatchAugment(
            self.num_classes,
            order=self.augment_order,
            normalize=self.normalize if authors else None,
            erase_prob=self.erase_prob if authors else 0.0,
            mixup=mixup,
            cutmix=cutmix,
            prob=prob,
            switch_prob=switch_prob,
            off_epoch=off_epoch,
            smoothing=smoothing,
        )


def _check_options(name: str, builder: Any, options: dict[str, Any]) -> None:
    allowed = [p for p in inspect.signature(builder).parameters if p != "req"]
    for key in options:
        if key not in allowed:
            choices = ", ".join(allowed) if allowed else "none"
            raise ValueError(
                f"'{key}' is not an option of dataset {name}; its options are: {choices}."
            )


def load_data(
    name: str,
    *,
    data_root: str | os.PathLike | None = None,
    batch_size: int = 64,
    test_batch_size: int | None = None,
    workers: int = 0,
    T: int = 4,
    seed: int = 0,
    augment: bool = True,
    world_size: int = 1,
    rank: int = 0,
    drop_last: bool = False,
    augment_order: str = "timm",
    randaugment_ops: str | None = None,
    **options: Any,
) -> DataBundle:
    """Train, validation and test loaders plus input geometry for dataset `name`.

    `T` is the frame count for event data and ignored for static images (the model repeats them).
    `augment` switches the training augmentation (some datasets never augment; `info` says what
    applied). `drop_last` drops the last partial training batch. `augment_order` "authors" makes
    the image loaders yield uint8 training batches that `bundle.batch_augment(...)` mixes,
    normalises and erases (see bench.datasets.batch). `randaugment_ops` picks the RandAugment op
    table ("authors" or "timm"; None: the dataset's paper default). `options` are the dataset's
    own (e.g. `method=` for event framing, `classes=` for ImageNet). With world_size > 1, rank r
    gets a disjoint, equal-sized shard of each epoch's training permutation (tail dropped) and
    the r-th of every world_size validation and test samples.
    """
    builder = DATASETS.get(name)
    _check_arguments(T, test_batch_size, augment_order, randaugment_ops)
    _check_options(name, builder, options)
    req = DataRequest(resolve_data_root(data_root), T, augment, augment_order, randaugment_ops)
    prep: Prepared = builder(req, **options)
    common = dict(workers=workers, seed=seed, world_size=world_size, rank=rank)
    eval_batch = test_batch_size or batch_size
    train = make_loader(
        prep.train,
        prep.train_transform,
        train=True,
        batch_size=batch_size,
        drop_last=drop_last,
        **common,
    )
    val, test = (
        make_loader(ds, prep.eval_transform, train=False, batch_size=eval_batch, **common)
        for ds in (prep.val, prep.test)
    )
    info = {
        "dataset": name,
        "num_classes": prep.num_classes,
        "input_shape": ([T] if prep.frames else [])
        + [prep.in_channels, prep.img_size, prep.img_size],
        "frames": prep.frames,
        **_split_info(name, prep),
        **prep.info,
        "augment_order": augment_order,
        "drop_last": drop_last,
        "batch_size": batch_size,
        "test_batch_size": eval_batch,
        "seed": seed,
        "world_size": world_size,
        "rank": rank,
    }
    geometry = (prep.num_classes, prep.in_channels, prep.img_size, prep.frames)
    return DataBundle(
        train, val, test, *geometry, info, augment_order, prep.normalize, prep.erase_prob
    )


def _split_info(name: str, prep: Prepared) -> dict[str, Any]:
    """The split's sizes and rule, and the split file (written once) with its SHA-1."""
    sizes = {f"{s}_size": len(getattr(prep, s)) for s in ("train", "val", "test")}
    split_file, split_sha1 = write_split_file(
        prep.split_file, {"dataset": name, **sizes, **prep.split}
    )
    return {
        **sizes,
        "split": prep.split["rule"],
        "split_file": split_file,
        "split_sha1": split_sha1,
    }


def _check_arguments(
    T: int, test_batch_size: int | None, augment_order: str, randaugment_ops: str | None
) -> None:
    if T < 1:
        raise ValueError(f"T={T} frames is not positive; use T >= 1.")
    if test_batch_size is not None and test_batch_size < 1:
        raise ValueError(f"test_batch_size={test_batch_size} is not positive; use 1 or more.")
    check_choice("augment_order", augment_order, AUGMENT_ORDERS)
    if randaugment_ops is not None:
        check_choice("randaugment_ops", randaugment_ops, tuple(RANDAUGMENT_OPS))


def _bases(dataset: Dataset) -> list[tuple[Dataset, list[int]]]:
    """The innermost dataset(s) behind a loader's dataset and the indices used of each."""
    if isinstance(dataset, SeededSamples):
        return _bases(dataset.base)
    if isinstance(dataset, Subset):
        return [(base, [idx[i] for i in dataset.indices]) for base, idx in _bases(dataset.base)]
    return [(dataset, list(range(len(dataset))))]  # type: ignore[arg-type]


def verify(bundle: DataBundle) -> tuple[int, list[tuple[str, str]]]:
    """Read every item of every split that can be read on its own (recordings, image files).

    Returns (items checked, [(file, reason), ...] for the unreadable ones). Datasets held in
    memory (digits) or checked by checksum when loading (CIFAR) have nothing left to check.
    """
    seen: set[str] = set()
    bad: list[tuple[str, str]] = []
    for loader in (bundle.train, bundle.val, bundle.test):
        for base, indices in _bases(loader.dataset):
            check = getattr(base, "check_item", None)
            if check is None:
                continue
            for i in indices:
                source = base.source(i)  # type: ignore[attr-defined]
                if source in seen:
                    continue
                seen.add(source)
                reason = check(i)
                if reason is not None:
                    bad.append((source, reason))
    return len(seen), bad
