"""CIFAR-10 / CIFAR-100 through torchvision, with the reference code's augmentation.

Data: `<root>/<name>/cifar-10-batches-py` (ours) or `<root>/cifar-10-batches-py` (torchvision's
own root); downloaded into the first on first use. Split: the official 10,000 test images; a
stratified 10% of each class of the 50,000 training images (5,000 images, split seed 0,
independent of the run seed) is held out for validation, 45,000 train.
Augmentation (the reference config cifar10.yml): resize 32 bicubic (random-resized crop with
scale = ratio = 1), h-flip 0.5, RandAugment `rand-m9-n1-mstd0.4-inc1` through the authors' op
table (Equalize, Rotate, ShearX, TranslateXRel, TranslateYRel; `randaugment_ops="timm"` for
timm's 15-op table), normalise, random erasing 0.25 const.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.datasets.bundle import DATA_ROOT_ENV, DATASETS, DataError, DataRequest, Prepared
from bench.datasets.images import image_prepared
from bench.datasets.splits import SPLIT_SEED, stratified_split
from bench.datasets.transforms import ImageRecipe

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD", "CIFAR_RANDAUGMENT"]

# Reference-code normalisation constants (ZK-Zhou/spikformer cifar10.yml / cifar100.yml).
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)
CIFAR_RANDAUGMENT = "rand-m9-n1-mstd0.4-inc1"
VAL_FRACTION = 0.1  # of each class of the training set: 5,000 of 50,000


def _recipe(mean: Sequence[float], std: Sequence[float]) -> ImageRecipe:
    return ImageRecipe(
        size=32,
        mean=tuple(mean),
        std=tuple(std),
        randaugment=CIFAR_RANDAUGMENT,
        scale=(1.0, 1.0),
        ratio=(1.0, 1.0),
    )


def _find(root: Path, name: str, cls: type) -> Path:
    """The folder that holds `cls.base_folder` (ours first, then torchvision's own root)."""
    for folder in (root / name, root):
        if (folder / cls.base_folder).is_dir():
            return folder
    return root / name


def _first_unreadable_pickle(paths: Sequence[Path]) -> Path | None:
    for path in paths:
        try:
            with open(path, "rb") as f:
                entry = pickle.load(f, encoding="latin1")
            if not isinstance(entry, dict):
                return path
            if "data" in entry and np.asarray(entry["data"]).size % (3 * 32 * 32):
                return path
        except Exception:
            return path
    return None


def _open(name: str, cls: type, root: Path) -> tuple[object, object, Path]:
    import torchvision.datasets.cifar as tv_cifar

    folder = _find(root, name, cls)
    base = folder / cls.base_folder
    files = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    layout = f"'{cls.base_folder}' with {', '.join(files)}"
    if not all((base / f).is_file() for f in files):
        try:
            cls(str(folder), train=True, download=True)
        except Exception as exc:  # network down, refused, or a bad archive: one sentence
            raise DataError(
                f"{name} is not in {base} and downloading it failed ({type(exc).__name__}: "
                f"{exc}); put the extracted folder {layout} from {cls.url} under {folder}, or "
                f"point data_root= / {DATA_ROOT_ENV} at a folder that has it."
            ) from exc
    # Check each file ourselves so a bad one is named (torchvision only says "corrupted").
    checks = cls.train_list + cls.test_list + [[cls.meta["filename"], cls.meta["md5"]]]
    for fname, md5 in checks:
        if not tv_cifar.check_integrity(str(base / fname), md5):
            raise DataError(
                f"{name} file {base / fname} is corrupt or truncated (md5 mismatch); delete it "
                f"and run again to re-download it, or replace it from {cls.url}."
            )
    try:
        train_set = cls(str(folder), train=True, download=False)
        test_set = cls(str(folder), train=False, download=False)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, RuntimeError, OSError) as exc:
        bad = _first_unreadable_pickle([base / f for f in files])
        raise DataError(
            f"{name} file {bad or base} cannot be read ({type(exc).__name__}: {exc}); delete it "
            f"and run again to re-download it, or replace it from {cls.url}."
        ) from exc
    return train_set, test_set, base


def _cifar(
    name: str, cls: type, mean: Sequence[float], std: Sequence[float], req: DataRequest
) -> Prepared:
    train_set, test_set, base = _open(name, cls, req.root)
    index = stratified_split(train_set.targets, {"val": VAL_FRACTION}, SPLIT_SEED)  # type: ignore[attr-defined]
    split = {
        "rule": (
            f"official test set; stratified {VAL_FRACTION:.0%} of each class of the training "
            f"set held out for validation (numpy default_rng({SPLIT_SEED}) permutation of each "
            "class, classes in order; fixed, independent of the run seed)"
        ),
        "split_seed": SPLIT_SEED,
        "val_fraction": VAL_FRACTION,
        "val": index["val"],  # indices into the official training set
    }
    return image_prepared(
        req,
        _recipe(mean, std),
        "authors",
        train_set=train_set,  # type: ignore[arg-type]
        index=index,
        test_set=test_set,  # type: ignore[arg-type]
        num_classes=len(train_set.classes),  # type: ignore[attr-defined]
        split=split,
        split_file=req.root / name / "split.json",
        info={"root": str(base)},
    )


_FACTS = dict(in_channels=3, img_size=32, frames=False, download=True)


@DATASETS.register("cifar10", num_classes=10, **_FACTS)
def _cifar10(req: DataRequest) -> Prepared:
    from torchvision.datasets import CIFAR10

    return _cifar("cifar10", CIFAR10, CIFAR10_MEAN, CIFAR10_STD, req)


@DATASETS.register("cifar100", num_classes=100, **_FACTS)
def _cifar100(req: DataRequest) -> Prepared:
    from torchvision.datasets import CIFAR100

    return _cifar("cifar100", CIFAR100, CIFAR100_MEAN, CIFAR100_STD, req)
