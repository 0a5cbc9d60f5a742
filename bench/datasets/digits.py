"""scikit-learn's embedded 8x8 digits (1,797 images, 10 classes): the CPU default, no download.

Split: stratified 60/20/20 (bench.datasets.splits.stratified_split, split seed 0, independent of
the run seed): 1,079 train / 359 val / 359 test images. Normalised with the training split's
pixel mean and std; kept in memory; never augmented (the `augment` flag is ignored).
`digits16` resizes bilinearly to 16x16.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from bench.datasets.bundle import DATASETS, DataRequest, Prepared
from bench.datasets.splits import SPLIT_SEED, stratified_split

__all__ = ["TensorSamples", "digits_tensors"]

FRACTIONS = {"test": 0.2, "val": 0.2}  # of each class; the rest trains


class TensorSamples(Dataset):
    """(x[i], y[i]) from in-memory tensors."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], int(self.y[index])


def digits_tensors(size: int = 8) -> tuple[dict[str, TensorSamples], dict[str, list[int]], dict]:
    """({split: samples}, {split: indices into load_digits()}, normalisation stats)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [N,1,8,8]
    if size != 8:  # bilinear, align_corners=False (digits16: 8x8 -> 16x16)
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
    labels = torch.tensor(digits.target, dtype=torch.int64)
    index = stratified_split(digits.target, FRACTIONS, SPLIT_SEED)
    train = index["train"]
    mean, std = float(images[train].mean()), float(images[train].std())
    images = ((images - mean) / std).contiguous()
    parts = {s: TensorSamples(images[idx], labels[idx]) for s, idx in index.items()}
    return parts, index, {"mean": mean, "std": std}


def _digits(req: DataRequest, size: int) -> Prepared:
    parts, index, stats = digits_tensors(size)
    name = "digits" if size == 8 else f"digits{size}"
    rule = (
        "stratified 60/20/20 train/val/test per class (numpy default_rng(0) permutation of each "
        "class, classes in order; fixed, independent of the run seed)"
    )
    resize = "native 8x8 (no resize)" if size == 8 else f"bilinear resize 8x8 -> {size}x{size}"
    info = {
        "root": "embedded (sklearn.datasets.load_digits)",
        "preprocessing": f"x/16, {resize}, (x - mean) / std of the train split",
        "normalisation": stats,
        "augment": False,  # digits is never augmented
        "augmentation": "none",
    }
    split = {"rule": rule, "split_seed": SPLIT_SEED, "fractions": FRACTIONS, **index}
    return Prepared(
        parts["train"],
        parts["val"],
        parts["test"],
        num_classes=10,
        in_channels=1,
        img_size=size,
        frames=None,
        split=split,
        split_file=req.root / name / "split.json",
        info=info,
    )


_FACTS = dict(num_classes=10, in_channels=1, frames=False, download=False)


@DATASETS.register("digits", img_size=8, **_FACTS)
def _digits8(req: DataRequest) -> Prepared:
    """Native 8x8: the CPU default (the SPS stem then keeps all 64 positions as tokens)."""
    return _digits(req, 8)


@DATASETS.register("digits16", img_size=16, **_FACTS)
def _digits16(req: DataRequest) -> Prepared:
    """Bilinear 16x16: one SPS max-pool, as on larger inputs, at about twice the cost."""
    return _digits(req, 16)
