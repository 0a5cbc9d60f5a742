"""Seeded sampling: the training order depends only on (seed, epoch), each sample's augmentation
only on (seed, epoch, index) and each batch-level draw only on (seed, epoch, step), never on the
global RNG state, so variants trained with the same seed see identical batches.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = [
    "Transform",
    "sample_seed",
    "batch_seed",
    "seeded_rngs",
    "EpochSampler",
    "SeededSamples",
    "Subset",
    "make_loader",
]

Transform = Callable[[Any, torch.Generator], Any]

# Domain tags keep the per-sample and the per-batch streams apart for equal (epoch, index/step).
_SAMPLE, _BATCH = 0, 1


def _mix(seed: int, epoch: int, index: int, domain: int) -> int:
    words = [seed % 2**32, seed // 2**32 % 2**32, epoch, index]
    state = np.random.SeedSequence(words if domain == _SAMPLE else [*words, domain])
    hi, lo = state.generate_state(2)
    return int((int(hi) << 32 | int(lo)) & (2**63 - 1))


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed that depends only on (seed, epoch, sample index)."""
    return _mix(seed, epoch, index, _SAMPLE)


def batch_seed(seed: int, epoch: int, step: int) -> int:
    """A well-mixed 63-bit seed for the batch-level draws (mixup, erasing) of one step."""
    return _mix(seed, epoch, step, _BATCH)


@contextlib.contextmanager
def seeded_rngs(seed: int, device: torch.device | None = None) -> Iterator[torch.Generator]:
    """Seed python, numpy and torch global RNGs for library transforms, restore them afterwards.

    timm's RandAugment and Mixup draw from `random` and `numpy.random`, torchvision and random
    erasing from torch; restoring keeps the caller's RNG streams (model init, dropout) untouched.
    A CUDA `device` has its generator forked and seeded too. Also yields a private generator for
    our own transforms.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda = [device.index or 0] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(cuda[0]):
                torch.cuda.manual_seed(seed)
        try:
            yield torch.Generator().manual_seed(seed)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class EpochSampler(Sampler[int]):
    """Sample order from (seed, epoch) only, sharded over ranks.

    Shuffled (training): the permutation comes from a torch.Generator seeded with
    seed * 1000003 + epoch; with world_size > 1 its tail is dropped to a multiple of world_size
    (DistributedSampler's drop_last semantics) and rank r takes positions r, r+W, ... so the shards
    are disjoint and equal in size. Unshuffled (evaluation): rank r takes indices r, r+W, ... of
    the natural order with nothing dropped, so the shards together cover every sample once.
    """

    def __init__(
        self, n: int, *, seed: int, shuffle: bool, world_size: int = 1, rank: int = 0
    ) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"rank={rank} does not fit world_size={world_size}; use 0 <= rank < world_size."
            )
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.world_size, self.rank, self.epoch = world_size, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> list[int]:
        return self.indices_for(self.epoch)

    def indices_for(self, epoch: int) -> list[int]:
        """This rank's sample order in `epoch` (the current epoch is left alone)."""
        if not self.shuffle:
            return list(range(self.rank, self.n, self.world_size))
        g = torch.Generator().manual_seed(self.seed * 1000003 + epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        usable = self.n - self.n % self.world_size
        return order[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        if not self.shuffle:
            return len(range(self.rank, self.n, self.world_size))
        return self.n // self.world_size


class Subset(Dataset):
    """Items `indices` of a base dataset (the base stays reachable for checks and caches)."""

    def __init__(self, base: Dataset, indices: Sequence[int]) -> None:
        self.base, self.indices = base, [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.base[self.indices[index]]


class SeededSamples(Dataset):
    """Applies `transform(sample, generator)` seeded by (seed, epoch, index) to a base dataset.

    The base dataset returns (sample, label). `epoch` is set by DataBundle.set_epoch; workers are
    not persistent, so each epoch's workers receive the current value.
    """

    def __init__(self, base: Dataset, transform: Transform | None, seed: int) -> None:
        self.base, self.transform, self.seed, self.epoch = base, transform, seed, 0

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x, y = self.base[index]
        if self.transform is not None:
            with seeded_rngs(sample_seed(self.seed, self.epoch, index)) as g:
                x = self.transform(x, g)
        return x, int(y)


def make_loader(
    dataset: Dataset,
    transform: Transform | None,
    *,
    train: bool,
    batch_size: int,
    workers: int,
    seed: int,
    world_size: int,
    rank: int,
    drop_last: bool = False,
) -> DataLoader:
    """A loader over `dataset`: shuffled per (seed, epoch) when `train`, natural order otherwise."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} is not positive; use batch_size >= 1.")
    if workers < 0:
        raise ValueError(
            f"workers={workers} is negative; use 0 (load in the main process) or more."
        )
    wrapped = SeededSamples(dataset, transform, seed)
    sampler = EpochSampler(len(wrapped), seed=seed, shuffle=train, world_size=world_size, rank=rank)
    # A private generator: the loader's worker base seed must not consume the global RNG.
    return DataLoader(
        wrapped,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=False,
        drop_last=drop_last and train,
    )
