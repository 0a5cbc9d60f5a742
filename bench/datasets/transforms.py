"""Image pipelines (CIFAR, ImageNet) from timm's building blocks, with a selectable RandAugment
op table and one normaliser for every place that normalises.

Two augmentation orders (`augment_order`):
- "timm": per sample, crop/flip/RandAugment -> normalise -> random erasing; batch mixup later
  mixes normalised images (the usual timm loop without its prefetcher).
- "authors": per sample, crop/flip/RandAugment -> uint8 tensor; the training loop's
  `BatchAugment` mixes the uint8 batch, normalises, then random-erases the mixed batch (the
  reference code's fast-collate mixup and CUDA prefetcher).
Evaluation images are always normalised here, by the same `Normalizer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "AUGMENT_ORDERS",
    "RANDAUGMENT_OPS",
    "Normalizer",
    "LibraryTransform",
    "ImageRecipe",
    "image_transforms",
    "check_choice",
]

AUGMENT_ORDERS = ("timm", "authors")
# The reference CIFAR code's own copy of timm's table keeps five geometric/histogram ops (the
# photometric ops and ShearY are commented out there); "timm" is timm's standard table.
RANDAUGMENT_OPS: dict[str, tuple[str, ...] | None] = {
    "authors": ("Equalize", "Rotate", "ShearX", "TranslateXRel", "TranslateYRel"),
    "timm": None,
}


def check_choice(setting: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{setting}={value!r} is not known; choose one of {', '.join(choices)}.")


class Normalizer:
    """(x / 255 - mean) / std per channel, for uint8 (or 0..255 float) images [..., C, H, W]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = tuple(mean), tuple(std)
        self._mean = torch.tensor(self.mean).view(-1, 1, 1)
        self._std = torch.tensor(self.std).view(-1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._mean.to(x.device), self._std.to(x.device)
        return (x.float() / 255 - mean) / std

    def describe(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}


class LibraryTransform:
    """Adapts a one-argument library transform (global RNGs, seeded by SeededSamples)."""

    def __init__(self, transform: Callable[[Any], Any]) -> None:
        self.transform = transform

    def __call__(self, sample: Any, g: torch.Generator) -> Any:
        return self.transform(sample)


@dataclass(frozen=True)
class ImageRecipe:
    """The per-dataset facts of an image pipeline (sizes, crop, RandAugment, erasing)."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    randaugment: str  # timm config string, e.g. "rand-m9-n1-mstd0.4-inc1"
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    crop_pct: float = 1.0  # evaluation: resize to size / crop_pct, then centre crop
    hflip: float = 0.5
    erase_prob: float = 0.25
    erase_mode: str = "const"
    interpolation: str = "bicubic"

    def describe(self, augment: bool, ops: str, order: str) -> str:
        if not augment:
            return f"none (resize {self.size}, normalise)"
        erase = f"random erasing {self.erase_prob} {self.erase_mode}"
        erase += " of the mixed batch" if order == "authors" else " per sample"
        return (
            f"random-resized crop {self.size} scale {list(self.scale)} ratio "
            f"{[round(r, 4) for r in self.ratio]} {self.interpolation}, hflip {self.hflip}, "
            f"RandAugment {self.randaugment} ({ops} op table), normalise, {erase}"
        )


def _randaugment(recipe: ImageRecipe, ops: str) -> Callable[[Any], Any]:
    from timm.data.auto_augment import rand_augment_transform
    from timm.data.transforms import str_to_pil_interp

    hparams = {  # as timm's create_transform (and the reference code) set them
        "translate_const": int(recipe.size * 0.45),
        "img_mean": tuple(min(255, round(255 * m)) for m in recipe.mean),
        "interpolation": str_to_pil_interp(recipe.interpolation),
    }
    table = RANDAUGMENT_OPS[ops]
    return rand_augment_transform(
        recipe.randaugment, hparams, transforms=list(table) if table else None
    )


def image_transforms(
    recipe: ImageRecipe, *, augment: bool, ops: str, order: str
) -> tuple[LibraryTransform, LibraryTransform, Normalizer]:
    """(train, eval, normaliser). With order "authors" the train transform stops at uint8."""
    from timm.data.random_erasing import RandomErasing
    from timm.data.transforms import (
        MaybePILToTensor,
        RandomResizedCropAndInterpolation,
        str_to_interp_mode,
    )
    from torchvision import transforms as tv

    check_choice("randaugment_ops", ops, tuple(RANDAUGMENT_OPS))
    check_choice("augment_order", order, AUGMENT_ORDERS)
    normalize = Normalizer(recipe.mean, recipe.std)
    resize = [
        tv.Resize(int(recipe.size / recipe.crop_pct), str_to_interp_mode(recipe.interpolation)),
        tv.CenterCrop(recipe.size),
        MaybePILToTensor(),
    ]
    eval_tf = tv.Compose([*resize, normalize])
    if not augment:
        train = resize if order == "authors" else [*resize, normalize]
        return LibraryTransform(tv.Compose(train)), LibraryTransform(eval_tf), normalize
    train = [
        RandomResizedCropAndInterpolation(
            recipe.size, scale=recipe.scale, ratio=recipe.ratio, interpolation=recipe.interpolation
        ),
        tv.RandomHorizontalFlip(recipe.hflip),
        _randaugment(recipe, ops),
        MaybePILToTensor(),
    ]
    if order == "timm":
        train += [normalize, RandomErasing(recipe.erase_prob, mode=recipe.erase_mode, device="cpu")]
    return LibraryTransform(tv.Compose(train)), LibraryTransform(eval_tf), normalize
