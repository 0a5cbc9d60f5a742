"""ImageNet (ILSVRC2012) in ImageFolder layout, with the reference code's recipe.

Data: `<root>/imagenet/train/<wnid>/*.JPEG` and `<root>/imagenet/val/<wnid>/*.JPEG` (the
official validation images sorted into class folders); never downloaded. Split: the official
validation images test; `val_per_class` (25) images of each class of the training set, drawn
with the fixed split seed, validate (25,000 for ImageNet, 2,500 for ImageNet-100).
`classes=N` (or the name `imagenet100`) keeps N classes evenly spaced over the sorted wnids
(class k * 1000 // N for k = 0..N-1), recorded in the split file.

Recipes (`recipe=`): "authors" is the reference imagenet.yml: random-resized crop 224 with
scale (1, 1) (only the aspect ratio varies), bicubic, h-flip 0.5, RandAugment
`rand-m9-mstd0.5-inc1` (timm's table, as the reference code uses timm's), random erasing 0.25
const; evaluation resize 224 and centre crop 224 (crop_pct 1.0). "standard" is timm's usual
ImageNet recipe: scale (0.08, 1), evaluation resize 256 and centre crop 224 (crop_pct 0.875).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from bench.datasets.bundle import DATASETS, DataError, DataRequest, Prepared
from bench.datasets.images import image_prepared
from bench.datasets.splits import SPLIT_SEED, stratified_split
from bench.datasets.transforms import ImageRecipe, check_choice

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "RECIPES", "ImageFiles", "pick_classes"]

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_COMMON = dict(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, randaugment="rand-m9-mstd0.5-inc1")
RECIPES = {
    "authors": ImageRecipe(**_COMMON, scale=(1.0, 1.0), crop_pct=1.0),  # type: ignore[arg-type]
    "standard": ImageRecipe(**_COMMON, scale=(0.08, 1.0), crop_pct=0.875),  # type: ignore[arg-type]
}
LAYOUT = "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (ImageFolder layout)"


class ImageFiles(Dataset):
    """(PIL RGB image, label) of image files; `check_item` opens one fully."""

    def __init__(self, samples: Sequence[tuple[str, int]]) -> None:
        self.samples = list(samples)

    def __len__(self) -> int:
        return len(self.samples)

    def source(self, index: int) -> str:
        return self.samples[index][0]

    def _open(self, index: int):  # noqa: ANN202  (a PIL image)
        from PIL import Image

        with Image.open(self.samples[index][0]) as img:
            return img.convert("RGB")

    def __getitem__(self, index: int) -> tuple[object, int]:
        try:
            return self._open(index), self.samples[index][1]
        except Exception as exc:
            raise DataError(
                f"imagenet image {self.source(index)} is corrupt or truncated "
                f"({type(exc).__name__}: {exc}); replace it from the original archive."
            ) from exc

    def check_item(self, index: int) -> str | None:
        try:
            self[index]
        except DataError as err:
            return str(err)
        return None


def pick_classes(wnids: Sequence[str], n: int | None) -> list[str]:
    """All sorted wnids, or n of them evenly spaced (index k * len // n)."""
    wnids = sorted(wnids)
    if n is None:
        return wnids
    if not 1 <= n <= len(wnids):
        raise ValueError(
            f"classes={n} does not fit the {len(wnids)} classes found; use 1..{len(wnids)}."
        )
    return [wnids[k * len(wnids) // n] for k in range(n)]


def _scan(folder: Path, wnids: list[str]) -> list[tuple[str, int]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    try:
        return make_dataset(folder, {w: i for i, w in enumerate(wnids)}, IMG_EXTENSIONS)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(
            f"imagenet in {folder.parent} is incomplete ({exc}); it needs {LAYOUT}."
        ) from exc


def _folders(req: DataRequest, name: str, classes: int | None) -> tuple[Path, list[str]]:
    """The ImageNet folder and the wnids used (all, or `classes` evenly spaced)."""
    folder = req.root / "imagenet"
    train_dir, test_dir = folder / "train", folder / "val"
    if not (train_dir.is_dir() and test_dir.is_dir()):
        raise DataError(
            f"{name} is not in {folder} (it is never downloaded): put the ILSVRC2012 images "
            f"there as {LAYOUT}, or point data_root= / SPIKFORMER_DATA at a folder that has them."
        )
    found = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if classes is not None and classes > len(found):
        raise DataError(
            f"{name} needs {classes} classes but {train_dir} has {len(found)}; restore the "
            f"missing class folders or use classes=N with N <= {len(found)}."
        )
    return folder, pick_classes(found, classes)


def _imagenet(
    req: DataRequest, name: str, classes: int | None, val_per_class: int, recipe: str
) -> Prepared:
    check_choice("recipe", recipe, tuple(RECIPES))
    if val_per_class < 0:
        raise ValueError(f"val_per_class={val_per_class} is negative; use 0 or more.")
    folder, wnids = _folders(req, name, classes)
    train_set = ImageFiles(_scan(folder / "train", wnids))
    test_set = ImageFiles(_scan(folder / "val", wnids))
    index = stratified_split([y for _, y in train_set.samples], {"val": val_per_class})
    rule = (
        f"official validation images test; {val_per_class} training images per class (numpy "
        f"default_rng({SPLIT_SEED}) permutation of each class, classes in order) validate"
    )
    val_files = [Path(train_set.source(i)).relative_to(folder).as_posix() for i in index["val"]]
    split = {
        "rule": rule,
        "split_seed": SPLIT_SEED,
        "val_per_class": val_per_class,
        "classes": wnids,
        "class_rule": "all" if classes is None else f"{classes} evenly spaced of the sorted wnids",
        "val_files": val_files,
    }
    return image_prepared(
        req,
        RECIPES[recipe],
        "timm",
        train_set=train_set,
        index=index,
        test_set=test_set,
        num_classes=len(wnids),
        split=split,
        split_file=req.root / name / "split.json",
        info={"root": str(folder), "classes": len(wnids), "recipe": recipe},
    )


_FACTS = dict(in_channels=3, img_size=224, frames=False, download=False)


@DATASETS.register("imagenet", num_classes=1000, **_FACTS)
def _imagenet1k(
    req: DataRequest, classes: int | None = None, val_per_class: int = 25, recipe: str = "authors"
) -> Prepared:
    return _imagenet(req, "imagenet", classes, val_per_class, recipe)


@DATASETS.register("imagenet100", num_classes=100, **_FACTS)
def _imagenet100(req: DataRequest, val_per_class: int = 25, recipe: str = "authors") -> Prepared:
    """100 classes evenly spaced over ImageNet's sorted wnids, read from `<root>/imagenet`."""
    return _imagenet(req, "imagenet100", 100, val_per_class, recipe)
