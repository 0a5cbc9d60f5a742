"""The part every image dataset shares: its pipelines, their description and the Prepared."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from bench.datasets.bundle import DataRequest, Prepared
from bench.datasets.sampling import Subset
from bench.datasets.transforms import ImageRecipe, image_transforms

__all__ = ["image_prepared"]


def image_prepared(
    req: DataRequest,
    recipe: ImageRecipe,
    default_ops: str,
    *,
    train_set: Dataset,
    index: dict[str, list[int]],
    test_set: Dataset,
    num_classes: int,
    split: dict,
    split_file: Path,
    info: dict,
) -> Prepared:
    """Train / val as subsets `index` of `train_set`, with `recipe`'s pipelines for `req`."""
    ops = req.randaugment_ops or default_ops
    train_tf, eval_tf, normalize = image_transforms(
        recipe, augment=req.augment, ops=ops, order=req.augment_order
    )
    authors = req.augment_order == "authors"
    info = {
        **info,
        "augment": req.augment,
        "randaugment_ops": ops,
        "augmentation": recipe.describe(req.augment, ops, req.augment_order),
        "normalisation": normalize.describe(),
        "train_values": "uint8 0..255 (bundle.batch_augment normalises)" if authors else "float",
    }
    return Prepared(
        Subset(train_set, index["train"]),
        Subset(train_set, index["val"]),
        test_set,
        num_classes=num_classes,
        in_channels=3,
        img_size=recipe.size,
        frames=None,
        split=split,
        split_file=split_file,
        info=info,
        train_transform=train_tf,
        eval_transform=eval_tf,
        normalize=normalize,
        erase_prob=recipe.erase_prob if req.augment else 0.0,
    )
