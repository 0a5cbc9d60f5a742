"""Datasets: one call returns seeded train / validation / test loaders and the input geometry.

    from bench.datasets import load_data, DATASETS
    bundle = load_data("cifar10", batch_size=128, seed=3)
    DATASETS.meta("cifar10")  # {"num_classes": 10, "in_channels": 3, "img_size": 32, ...}

Modules: `bundle` (registry, DataBundle, load_data), `sampling` (seeded per-(seed, epoch, index)
sampling), `splits` (fixed splits), `transforms` (image pipelines, RandAugment op tables),
`batch` (BatchAugment: mixup / erasing per step), and one file per family: `digits`, `cifar`,
`events` (framing, frame cache) with `dvs` (CIFAR10-DVS, DVS128 Gesture), `imagenet`.
Data root: `data_root=`, else $SPIKFORMER_DATA, else `~/.cache/spikformer-bench/data`.
`python -m bench.data NAME [key=value ...] [--json] [--verify]` describes or checks one.
"""

from bench.datasets import cifar, digits, dvs, imagenet  # noqa: F401  (register the datasets)
from bench.datasets.batch import BatchAugment
from bench.datasets.bundle import (
    DATA_ROOT_ENV,
    DATASETS,
    DEFAULT_DATA_ROOT,
    DataBundle,
    DataError,
    load_data,
    resolve_data_root,
    verify,
)
from bench.datasets.events import frame_bounds, integrate_frames
from bench.datasets.sampling import EpochSampler, sample_seed

__all__ = [
    "BatchAugment",
    "DATA_ROOT_ENV",
    "DATASETS",
    "DEFAULT_DATA_ROOT",
    "DataBundle",
    "DataError",
    "EpochSampler",
    "frame_bounds",
    "integrate_frames",
    "load_data",
    "resolve_data_root",
    "sample_seed",
    "verify",
]
