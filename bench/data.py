"""Dataset registry: one call returns seeded train/test loaders and the input geometry.

`load_data(name, ...)` builds a `DataBundle` for one of `DATASETS.names()`:

- `digits`: scikit-learn's embedded 8x8 digits (1797 images, 10 classes), a fixed stratified 80/20
  split (random_state 0, independent of the run seed), native 8x8 (`digits16`: bilinear resize
  to 16x16), normalised with the
  training split's pixel mean/std; kept in memory; never augmented (the `augment` flag is ignored).
- `cifar10`, `cifar100`: torchvision's classes, downloaded on first use; the reference code's timm
  augmentation (RandAugment `rand-m9-n1-mstd0.4-inc1`, h-flip, random erasing 0.25, normalisation).
- `cifar10_dvs`, `dvs128_gesture`: tonic's classes; each recording is integrated into T frames with
  equal event counts (the reference code's spikingjelly `split_by='number'` rule), cached on disk.

Data root: `data_root=`, else the SPIKFORMER_DATA environment variable, else
`~/.cache/spikformer-bench/data`. Each dataset lives in `<root>/<name>/`.

Determinism: the training order depends only on (seed, epoch) and each sample's augmentation only
on (seed, epoch, sample index), never on the global RNG state, so variants trained with the same
seed see identical batches. `python -m bench.data NAME [key=value ...] [--json]` describes one.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import pickle
import random
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from components.registry import Registry

DEFAULT_DATA_ROOT = "~/.cache/spikformer-bench/data"
DATA_ROOT_ENV = "SPIKFORMER_DATA"
DATASETS = Registry("dataset")

# Reference-code normalisation constants (ZK-Zhou/spikformer cifar10.yml / cifar100.yml).
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)
CIFAR_RANDAUGMENT = "rand-m9-n1-mstd0.4-inc1"
DVS_SENSOR = (128, 128, 2)  # (width, height, polarities), both event datasets
FRAME_METHODS = ("number", "time")
DIGITS_SPLIT_STATE = 0  # fixed: every run and variant sees the same digits split


class DataError(RuntimeError):
    """Data that is missing, corrupt or unusable; the message says what to do."""


# --------------------------------------------------------------------------------------------
# Bundle, seeding, samplers
# --------------------------------------------------------------------------------------------


@dataclass
class DataBundle:
    """Loaders plus the input geometry a model needs."""

    train: DataLoader  # yields (x float32, y int64); x [B,C,H,W] or [B,T,C,H,W] for event data
    test: DataLoader  # deterministic order, no augmentation
    num_classes: int
    in_channels: int
    img_size: int
    frames: int | None  # T for event data, None for static images
    info: dict = field(default_factory=dict)  # JSON-serialisable description

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle the training order and re-draw the augmentation for this epoch."""
        self.train.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        self.train.dataset.epoch = epoch  # type: ignore[attr-defined]


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """`data_root`, else $SPIKFORMER_DATA, else the default cache folder (not created here)."""
    chosen = data_root if data_root else os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(chosen).expanduser().resolve()


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed that depends only on (seed, epoch, sample index)."""
    state = np.random.SeedSequence([seed % 2**32, seed // 2**32 % 2**32, epoch, index])
    hi, lo = state.generate_state(2)
    return int((int(hi) << 32 | int(lo)) & (2**63 - 1))


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[torch.Generator]:
    """Seed python, numpy and torch global RNGs for library transforms, restore them afterwards.

    timm's RandAugment draws from `random` and `numpy.random`, torchvision and random erasing from
    torch; restoring keeps the caller's RNG streams (model init, dropout) untouched. Also yields a
    private generator for our own transforms.
    """
    py_state, np_state, torch_state = (
        random.getstate(),
        np.random.get_state(),
        torch.get_rng_state(),
    )
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)  # CPU only: leave CUDA generators alone
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


class EpochSampler(Sampler[int]):
    """Sample order from (seed, epoch) only, sharded over ranks.

    Shuffled (training): the permutation comes from a torch.Generator seeded with
    seed * 1000003 + epoch; with world_size > 1 its tail is dropped to a multiple of world_size
    (DistributedSampler's drop_last semantics) and rank r takes positions r, r+W, ... so the shards
    are disjoint and equal in size. Unshuffled (testing): rank r takes indices r, r+W, ... of the
    natural order with nothing dropped, so the shards together cover every sample exactly once.
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
        if not self.shuffle:
            return list(range(self.rank, self.n, self.world_size))
        g = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        usable = self.n - self.n % self.world_size
        return order[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        if not self.shuffle:
            return len(range(self.rank, self.n, self.world_size))
        return self.n // self.world_size


Transform = Callable[[Any, torch.Generator], Any]


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


def _loaders(
    train: Dataset,
    test: Dataset,
    *,
    train_transform: Transform | None,
    test_transform: Transform | None,
    batch_size: int,
    test_batch_size: int | None,
    workers: int,
    seed: int,
    world_size: int,
    rank: int,
) -> tuple[DataLoader, DataLoader]:
    if batch_size < 1 or (test_batch_size is not None and test_batch_size < 1):
        raise ValueError("batch_size and test_batch_size must be at least 1.")
    if workers < 0:
        raise ValueError(
            f"workers={workers} is negative; use 0 (load in the main process) or more."
        )
    loaders = []
    for ds, tf, shuffle, bs in (
        (train, train_transform, True, batch_size),
        (test, test_transform, False, test_batch_size or batch_size),
    ):
        wrapped = SeededSamples(ds, tf, seed)
        sampler = EpochSampler(
            len(wrapped), seed=seed, shuffle=shuffle, world_size=world_size, rank=rank
        )
        # A private generator: the loader's worker base seed must not consume the global RNG.
        loaders.append(
            DataLoader(
                wrapped,
                batch_size=bs,
                sampler=sampler,
                num_workers=workers,
                generator=torch.Generator().manual_seed(seed),
                persistent_workers=False,
            )
        )
    return loaders[0], loaders[1]


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# digits (embedded)
# --------------------------------------------------------------------------------------------


class TensorSamples(Dataset):
    """(x[i], y[i]) from in-memory tensors."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], int(self.y[index])


def digits_tensors(
    size: int = 8,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """(x_train, y_train, x_test, y_test, stats): size x size normalised digits, fixed split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [N,1,8,8]
    if size != 8:  # bilinear, align_corners=False (digits16: 8x8 -> 16x16)
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
    labels = torch.tensor(digits.target, dtype=torch.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)),
        test_size=0.2,
        stratify=digits.target,
        random_state=DIGITS_SPLIT_STATE,
    )
    idx_train, idx_test = np.sort(idx_train), np.sort(idx_test)
    mean = float(images[idx_train].mean())
    std = float(images[idx_train].std())
    images = ((images - mean) / std).contiguous()
    stats = {"mean": mean, "std": std}
    return images[idx_train], labels[idx_train], images[idx_test], labels[idx_test], stats


def _digits_bundle(size: int, loader_args: dict[str, Any]) -> DataBundle:
    x_train, y_train, x_test, y_test, stats = digits_tensors(size)
    train, test = _loaders(
        TensorSamples(x_train, y_train),
        TensorSamples(x_test, y_test),
        train_transform=None,
        test_transform=None,
        **loader_args,
    )
    info = {
        "root": "embedded (sklearn.datasets.load_digits)",
        "train_size": len(y_train),
        "test_size": len(y_test),
        "split": "stratified 80/20, sklearn train_test_split random_state=0 (fixed)",
        "preprocessing": "x/16, "
        + ("native 8x8 (no resize)" if size == 8 else f"bilinear resize 8x8 -> {size}x{size}")
        + ", (x - mean) / std of the train split",
        "normalisation": stats,
        "augment": False,  # digits is never augmented
    }
    return DataBundle(train, test, 10, 1, size, None, info)


@DATASETS.register("digits")
def _digits(*, root: Path, T: int, augment: bool, **loader_args: Any) -> DataBundle:
    """Native 8x8: the CPU default (the SPS stem then keeps all 64 positions as tokens)."""
    return _digits_bundle(8, loader_args)


@DATASETS.register("digits16")
def _digits16(*, root: Path, T: int, augment: bool, **loader_args: Any) -> DataBundle:
    """Bilinear 16x16: one SPS max-pool, as on larger inputs, at about twice the cost."""
    return _digits_bundle(16, loader_args)


# --------------------------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100 (torchvision)
# --------------------------------------------------------------------------------------------


def cifar_transforms(
    mean: Sequence[float], std: Sequence[float], augment: bool
) -> tuple[Transform, Transform]:
    """(train, test) transforms as the reference code builds them with timm."""
    from timm.data import create_transform

    common = dict(input_size=32, interpolation="bicubic", mean=tuple(mean), std=tuple(std))
    test_tf = create_transform(is_training=False, crop_pct=1.0, **common)
    if not augment:
        train_tf = test_tf
    else:
        # scale = ratio = 1 makes timm's random-resized crop a plain resize (no crop), as in the
        # reference config; colour jitter is off because RandAugment is on.
        train_tf = create_transform(
            is_training=True,
            scale=(1.0, 1.0),
            ratio=(1.0, 1.0),
            hflip=0.5,
            color_jitter=0.0,
            auto_augment=CIFAR_RANDAUGMENT,
            re_prob=0.25,
            re_mode="const",
            re_count=1,
            **common,
        )
    return LibraryTransform(train_tf), LibraryTransform(test_tf)


class LibraryTransform:
    """Adapts a one-argument library transform (global RNGs, seeded by SeededSamples)."""

    def __init__(self, transform: Callable[[Any], Any]) -> None:
        self.transform = transform

    def __call__(self, sample: Any, g: torch.Generator) -> Any:
        return self.transform(sample)


def _cifar_bundle(
    name: str,
    cls: type,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    root: Path,
    T: int,
    augment: bool,
    **loader_args: Any,
) -> DataBundle:
    import torchvision.datasets.cifar as tv_cifar

    folder = root / name
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
    train_tf, test_tf = cifar_transforms(mean, std, augment)
    train, test = _loaders(
        train_set, test_set, train_transform=train_tf, test_transform=test_tf, **loader_args
    )
    info = {
        "root": str(base),
        "train_size": len(train_set),
        "test_size": len(test_set),
        "split": "official",
        "augment": augment,
        "augmentation": (
            f"timm: resize 32 bicubic, hflip 0.5, RandAugment {CIFAR_RANDAUGMENT}, "
            "normalise, random erasing 0.25 const"
            if augment
            else "none"
        ),
        "normalisation": {"mean": list(mean), "std": list(std)},
    }
    return DataBundle(train, test, len(train_set.classes), 3, 32, None, info)


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


@DATASETS.register("cifar10")
def _cifar10(**kwargs: Any) -> DataBundle:
    from torchvision.datasets import CIFAR10

    return _cifar_bundle("cifar10", CIFAR10, CIFAR10_MEAN, CIFAR10_STD, **kwargs)


@DATASETS.register("cifar100")
def _cifar100(**kwargs: Any) -> DataBundle:
    from torchvision.datasets import CIFAR100

    return _cifar_bundle("cifar100", CIFAR100, CIFAR100_MEAN, CIFAR100_STD, **kwargs)


# --------------------------------------------------------------------------------------------
# Event data: framing, augmentation, cache
# --------------------------------------------------------------------------------------------


def frame_bounds(t: np.ndarray, T: int, method: str = "number") -> tuple[np.ndarray, np.ndarray]:
    """Start/end event indices of the T slices, spikingjelly's `split_by` rules.

    "number": slice j holds events [j*floor(N/T), (j+1)*floor(N/T)), the last slice runs to N (so
    it also takes the N mod T remainder; tonic's `n_event_bins` would drop it instead).
    "time": T equal time windows of floor((t_last - t_first) / T), the last one runs to the end.
    """
    n = len(t)
    if T < 1:
        raise ValueError(f"T={T} frames is not positive; use T >= 1.")
    if method == "number":
        step = n // T
        starts = np.arange(T, dtype=np.int64) * step
        ends = starts + step
    elif method == "time":
        if n == 0:
            return np.zeros(T, np.int64), np.zeros(T, np.int64)
        t = np.asarray(t, dtype=np.int64)
        dt = (int(t[-1]) - int(t[0])) // T
        edges = int(t[0]) + dt * np.arange(T + 1, dtype=np.int64)
        starts = np.searchsorted(t, edges[:-1], side="left")
        ends = np.searchsorted(t, edges[1:], side="left")
    else:
        raise ValueError(f"Unknown frame method '{method}'; choose one of {FRAME_METHODS}.")
    ends[-1] = n
    return starts, ends


def integrate_frames(
    events: np.ndarray,
    T: int,
    sensor_size: tuple[int, int, int] = DVS_SENSOR,
    method: str = "number",
) -> np.ndarray:
    """Event counts [T, P, H, W] (int32) of a structured event array with fields t, x, y, p."""
    width, height, pols = sensor_size
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    p = events["p"].astype(np.int64)
    if len(x) and (
        x.max() >= width
        or y.max() >= height
        or x.min() < 0
        or y.min() < 0
        or p.max() >= pols
        or p.min() < 0
    ):
        raise ValueError(
            f"events fall outside the {width}x{height}x{pols} sensor "
            f"(x {x.min()}..{x.max()}, y {y.min()}..{y.max()}, p {p.min()}..{p.max()})"
        )
    starts, ends = frame_bounds(events["t"], T, method)
    # The slices are contiguous, so one bincount over (frame, p, y, x) counts everything at once.
    frame = np.repeat(np.arange(T, dtype=np.int64), ends - starts)
    sel = slice(int(starts[0]), int(ends[-1]))
    flat = ((frame * pols + p[sel]) * height + y[sel]) * width + x[sel]
    counts = np.bincount(flat, minlength=T * pols * height * width)
    return counts.reshape(T, pols, height, width).astype(np.int32)


def dvs_augment(frames: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """h-flip (p 0.5), then one op for the whole clip, as the reference CIFAR10-DVS code does.

    The op is drawn uniformly from identity, shear-x (+-0.3 rad), translate-x / -y (+-5 px),
    rotate (+-30 deg) and cutout (one zeroed square of 0.1%-11% of the area); magnitudes from 31
    evenly spaced bins with a random sign; nearest interpolation, zero fill.
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    def draw(n: int) -> int:
        return int(torch.randint(n, (1,), generator=g))

    if draw(2):
        frames = frames.flip(-1)
    op = ("identity", "shear_x", "translate_x", "translate_y", "rotate", "cutout")[draw(6)]
    span = {"shear_x": 0.3, "translate_x": 5.0, "translate_y": 5.0, "rotate": 30.0}.get(op, 0.0)
    magnitude = float(torch.linspace(-span, span, 31)[draw(31)]) * (-1 if draw(2) else 1)
    nearest = InterpolationMode.NEAREST
    if op == "shear_x":
        shear = [math.degrees(magnitude), 0.0]
        frames = tvf.affine(frames, 0.0, [0, 0], 1.0, shear, interpolation=nearest, fill=0.0)
    elif op in ("translate_x", "translate_y"):
        move = [int(magnitude), 0] if op == "translate_x" else [0, int(magnitude)]
        frames = tvf.affine(frames, 0.0, move, 1.0, [0.0, 0.0], interpolation=nearest, fill=0.0)
    elif op == "rotate":
        frames = tvf.rotate(frames, magnitude, interpolation=nearest, fill=0.0)
    elif op == "cutout":
        h, w = frames.shape[-2:]
        area = (0.001 + (0.11 - 0.001) * float(torch.rand(1, generator=g))) * h * w
        side = max(1, min(h, w, int(round(math.sqrt(area)))))
        top, left = draw(h - side + 1), draw(w - side + 1)
        frames = frames.clone()
        frames[..., top : top + side, left : left + side] = 0.0
    return frames


class EventFrames(Dataset):
    """Frames of event recordings, integrated once and cached as one .npy per recording.

    `reader(i)` returns the structured events of recording i (through tonic's dataset class);
    `sources[i]` is its file, `labels[i]` its class. Cache files are uncompressed (loading one is
    ~0.1 ms; zlib would cost ~4 ms, more than half of integrating afresh), written atomically so
    concurrent workers and interrupted runs are safe, and named with the recording's byte size so
    a replaced recording is integrated again.
    """

    def __init__(
        self,
        name: str,
        reader: Callable[[int], np.ndarray],
        sources: Sequence[Path],
        labels: Sequence[int],
        data_dir: Path,
        cache_dir: Path | None,
        T: int,
        method: str,
        sensor_size: tuple[int, int, int] = DVS_SENSOR,
    ) -> None:
        self.name, self.reader = name, reader
        self.sources, self.labels = list(sources), list(labels)
        self.data_dir, self.cache_dir, self.T, self.method = data_dir, cache_dir, T, method
        self.sensor_size = sensor_size

    def __len__(self) -> int:
        return len(self.sources)

    def cache_path(self, index: int) -> Path | None:
        source = self.sources[index]
        if self.cache_dir is None or not source.is_file():
            return None
        rel = source.relative_to(self.data_dir).as_posix().replace("/", "__")
        return self.cache_dir / f"{rel}.{source.stat().st_size}.npy"

    def integrate(self, index: int) -> np.ndarray:
        source = self.sources[index]
        if not source.is_file():
            raise DataError(
                f"{self.name} recording {source} is missing; restore it or re-download "
                f"the dataset into {self.data_dir}."
            )
        try:
            events = self.reader(index)
            return integrate_frames(events, self.T, self.sensor_size, self.method)
        except Exception as exc:
            raise DataError(
                f"{self.name} recording {source} is corrupt or truncated ({type(exc).__name__}: "
                f"{exc}); delete it and restore it from the original archive."
            ) from exc

    def frames(self, index: int) -> np.ndarray:
        path = self.cache_path(index)
        if path is None:
            return self.integrate(index)
        width, height, pols = self.sensor_size
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape == (self.T, pols, height, width):
                    return cached
            except (OSError, ValueError):  # an unreadable cache entry is derived data: redo it
                pass
        frames = self.integrate(index)
        peak = int(frames.max(initial=0))
        dtype = np.uint8 if peak < 2**8 else np.uint16 if peak < 2**16 else np.int32
        _atomic_write(path, lambda f: np.save(f, frames.astype(dtype)))
        return frames

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.frames(index).astype(np.float32)), self.labels[index]


def _write_json(path: Path, content: dict) -> None:
    text = json.dumps(content, indent=1) + "\n"
    if path.is_file() and path.read_text() == text:
        return
    _atomic_write(path, lambda f: f.write(text), mode="w")


def _event_bundle(
    name: str,
    train: EventFrames,
    test: EventFrames,
    classes: int,
    split_file: Path,
    split_rule: str,
    augment: bool,
    loader_args: dict,
) -> DataBundle:
    data_dir = train.data_dir

    def rel(ds: EventFrames) -> list[str]:
        return [s.relative_to(data_dir).as_posix() for s in ds.sources]

    _write_json(
        split_file, {"dataset": name, "rule": split_rule, "train": rel(train), "test": rel(test)}
    )
    train_tf = dvs_augment if augment else None
    tr, te = _loaders(train, test, train_transform=train_tf, test_transform=None, **loader_args)
    info = {
        "root": str(data_dir),
        "train_size": len(train),
        "test_size": len(test),
        "split": split_rule,
        "split_file": str(split_file),
        "cache_dir": str(train.cache_dir),
        "cached_recordings": len(list(train.cache_dir.glob("*.npy"))) if train.cache_dir else 0,
        "frame_method": f"{train.method}: {train.T} slices with equal event counts"
        if train.method == "number"
        else f"{train.method}: {train.T} equal time windows",
        "frame_values": "event counts per pixel and polarity (not binarised), float32",
        "augment": augment,
        "augmentation": "hflip 0.5 + one of identity/shear/translate/rotate/cutout"
        if augment
        else "none",
    }
    return DataBundle(tr, te, classes, 2, DVS_SENSOR[1], train.T, info)


class TonicReader:
    """Reads recording i of a subset through the tonic dataset's own __getitem__ (picklable)."""

    def __init__(self, tonic_set: Any, indices: Sequence[int]) -> None:
        self.tonic_set, self.indices = tonic_set, list(indices)

    def __call__(self, index: int) -> np.ndarray:
        return self.tonic_set[self.indices[index]][0]


def _cache_dir(root: Path, name: str, T: int, method: str) -> Path:
    return root / name / f"frames_T{T}_{method}"


def _open_extracted(cls: type, save_to: Path, **kwargs: Any) -> Any:
    """tonic's dataset over extracted data, without tonic's download check.

    tonic re-downloads unless the archive is still there (and, for CIFAR10-DVS, 1000+ files are);
    we check the extracted folders ourselves first, so the check is skipped while constructing.
    The instance stays of tonic's own class (picklable for loader workers).
    """
    original = cls._check_exists
    cls._check_exists = lambda self: True
    try:
        return cls(str(save_to), **kwargs)
    finally:
        cls._check_exists = original


def _tonic_download(
    cls: type, save_to: Path, name: str, folder: Path, layout: str, **kwargs: Any
) -> None:
    try:
        cls(str(save_to), **kwargs)
    except Exception as exc:
        url = getattr(cls, "url", None) or getattr(cls, "train_url", "")
        raise DataError(
            f"{name} is not in {folder} and downloading it failed ({type(exc).__name__}: {exc}); "
            f"put the extracted data there ({layout}), from {url} via tonic, or point "
            f"data_root= / {DATA_ROOT_ENV} at a folder that has it."
        ) from exc


@DATASETS.register("cifar10_dvs")
def _cifar10_dvs(
    *, root: Path, T: int, augment: bool, method: str = "number", **loader_args: Any
) -> DataBundle:
    from tonic.datasets import CIFAR10DVS

    save_to = root / "cifar10_dvs"
    folder = save_to / "CIFAR10DVS"
    layout = "CIFAR10DVS/<class>/*.aedat4 for the 10 classes airplane..truck"
    if not any(folder.glob("*/*.aedat4")):
        _tonic_download(CIFAR10DVS, save_to, "cifar10_dvs", folder, layout)
    tonic_set = _open_extracted(CIFAR10DVS, save_to)
    # tonic lists files in os.walk order (unsorted); sort by path so the split is reproducible.
    # Lexicographic order matches the reference code (spikingjelly's DatasetFolder sorts names).
    order = sorted(range(len(tonic_set)), key=lambda i: tonic_set.data[i])
    per_class: dict[int, list[int]] = {}
    for i in order:
        per_class.setdefault(tonic_set.targets[i], []).append(i)
    if sorted(per_class) != list(range(10)):
        raise DataError(
            f"cifar10_dvs in {folder} has recordings for {len(per_class)} of 10 classes; "
            f"expected {layout}."
        )
    # First ceil(90%) of each class trains, the rest tests (spikingjelly split_to_train_test_set).
    train_idx, test_idx = [], []
    for c in range(10):
        items = per_class[c]
        cut = math.ceil(len(items) * 0.9)
        train_idx += items[:cut]
        test_idx += items[cut:]

    cache = _cache_dir(root, "cifar10_dvs", T, method)
    train, test = (
        EventFrames(
            "cifar10_dvs",
            TonicReader(tonic_set, idx),
            [Path(tonic_set.data[i]) for i in idx],
            [tonic_set.targets[i] for i in idx],
            save_to,
            cache,
            T,
            method,
        )
        for idx in (train_idx, test_idx)
    )
    return _event_bundle(
        "cifar10_dvs",
        train,
        test,
        10,
        save_to / "split.json",
        "first ceil(90%) of each class (sorted file names) train, the rest test",
        augment,
        loader_args,
    )


@DATASETS.register("dvs128_gesture")
def _dvs128_gesture(
    *, root: Path, T: int, augment: bool, method: str = "number", **loader_args: Any
) -> DataBundle:
    from tonic.datasets import DVSGesture

    save_to = root / "dvs128_gesture"
    folder = save_to / "DVSGesture"
    layout = "DVSGesture/ibmGestureTrain and ibmGestureTest, each user<NN>_<lighting>/<label>.npy"
    cache = _cache_dir(root, "dvs128_gesture", T, method)
    subsets = []
    for train_split, sub in ((True, "ibmGestureTrain"), (False, "ibmGestureTest")):
        if not any((folder / sub).glob("*/*.npy")):
            _tonic_download(
                DVSGesture, save_to, "dvs128_gesture", folder / sub, layout, train=train_split
            )
        tonic_set = _open_extracted(DVSGesture, save_to, train=train_split)
        # tonic lists the user folders in os.walk order (unsorted): sort by path.
        idx = sorted(range(len(tonic_set)), key=lambda i: tonic_set.data[i])
        subsets.append(
            EventFrames(
                "dvs128_gesture",
                TonicReader(tonic_set, idx),
                [Path(tonic_set.data[i]) for i in idx],
                [tonic_set.targets[i] for i in idx],
                save_to,
                cache,
                T,
                method,
            )
        )
    return _event_bundle(
        "dvs128_gesture",
        subsets[0],
        subsets[1],
        len(DVSGesture.classes),
        save_to / "split.json",
        "official (ibmGestureTrain / ibmGestureTest)",
        augment,
        loader_args,
    )


# --------------------------------------------------------------------------------------------
# Entry point and CLI
# --------------------------------------------------------------------------------------------


def load_data(
    name: str,
    *,
    data_root: str | None = None,
    batch_size: int = 64,
    test_batch_size: int | None = None,
    workers: int = 0,
    T: int = 4,
    seed: int = 0,
    augment: bool = True,
    world_size: int = 1,
    rank: int = 0,
) -> DataBundle:
    """Train and test loaders plus input geometry for dataset `name` (see DATASETS.names()).

    `T` is the frame count for event data and ignored for static images (the model repeats them).
    `augment` switches the training augmentation (digits is never augmented). With world_size > 1,
    rank r gets a disjoint, equal-sized shard of each epoch's training permutation (tail dropped)
    and the r-th of every world_size test samples (all test samples once over all ranks).
    """
    builder = DATASETS.get(name)
    if T < 1:
        raise ValueError(f"T={T} frames is not positive; use T >= 1.")
    root = resolve_data_root(data_root)
    bundle = builder(
        root=root,
        T=T,
        augment=augment,
        batch_size=batch_size,
        test_batch_size=test_batch_size,
        workers=workers,
        seed=seed,
        world_size=world_size,
        rank=rank,
    )
    bundle.info = {
        "dataset": name,
        "num_classes": bundle.num_classes,
        "input_shape": ([T] if bundle.frames else [])
        + [bundle.in_channels, bundle.img_size, bundle.img_size],
        "frames": bundle.frames,
        **bundle.info,
        "batch_size": batch_size,
        "test_batch_size": test_batch_size or batch_size,
        "seed": seed,
        "world_size": world_size,
        "rank": rank,
    }
    return bundle


_CLI_KEYS = {
    k: p.annotation for k, p in inspect.signature(load_data).parameters.items() if k != "name"
}


def _parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or key not in _CLI_KEYS:
        raise SystemExit(
            f"Cannot use '{text}': give key=value with key one of {', '.join(_CLI_KEYS)}."
        )
    if key == "data_root":
        return key, value
    if key == "augment":
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise SystemExit(f"augment={value} is not a boolean; use augment=true or false.")
        return key, value.lower() in ("true", "1", "yes")
    try:
        return key, int(value)
    except ValueError:
        raise SystemExit(f"{key}={value} is not an integer; give a whole number.") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.data",
        description="Describe a dataset: where it is, split sizes, input shape, classes, frames.",
    )
    parser.add_argument("name", help=f"one of: {', '.join(DATASETS.names())}")
    parser.add_argument("overrides", nargs="*", help=f"key=value, keys: {', '.join(_CLI_KEYS)}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    kwargs = dict(_parse_override(o) for o in args.overrides)
    try:
        bundle = load_data(args.name, **kwargs)
    except (DataError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    info = bundle.info
    if args.json:
        print(json.dumps(info, indent=2))
        return
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {json.dumps(value) if isinstance(value, dict) else value}")


if __name__ == "__main__":
    main()
