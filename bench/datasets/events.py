"""Event data: framing into T slices, the CIFAR10-DVS augmentation and the frame cache.

Each recording is integrated into T frames of event counts per pixel and polarity (not
binarised) with the reference code's spikingjelly rules (`split_by="number"`: equal event counts;
`"time"`: equal time windows), once, and cached on disk as one .npy per recording with a sha1
sidecar; a cache file whose bytes no longer match its checksum is integrated again.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.datasets.bundle import DataError
from bench.files import atomic_write, write_text

__all__ = [
    "DVS_SENSOR",
    "FRAME_METHODS",
    "frame_bounds",
    "integrate_frames",
    "dvs_augment",
    "EventFrames",
    "cache_dir",
]

DVS_SENSOR = (128, 128, 2)  # (width, height, polarities), both event datasets
FRAME_METHODS = ("number", "time")


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
    evenly spaced bins with a random sign; nearest interpolation, zero fill. CIFAR10-DVS only:
    the flip would swap left- and right-hand gestures in DVS128 Gesture.
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


def cache_dir(root: Path, name: str, T: int, method: str) -> Path:
    return root / name / f"frames_T{T}_{method}"


class EventFrames(Dataset):
    """Frames of event recordings, integrated once and cached as one .npy per recording.

    `reader(i)` returns the structured events (fields t, x, y, p) of recording i; `sources[i]` is
    its file, `labels[i]` its class. Cache files are uncompressed (loading one is ~0.1 ms; zlib
    would cost ~4 ms, more than half of integrating afresh), written atomically so concurrent
    workers and interrupted runs are safe, named with the recording's byte size so a replaced
    recording is integrated again, and carry a sha1 of their bytes in a `.sha1` sidecar so one
    changed in place is integrated again too.
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

    def source(self, index: int) -> str:
        return str(self.sources[index])

    def relative(self) -> list[str]:
        return [s.relative_to(self.data_dir).as_posix() for s in self.sources]

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

    def check_item(self, index: int) -> str | None:
        """Read and integrate recording `index` afresh (no cache): None if fine, else why not."""
        try:
            self.integrate(index)
        except DataError as err:
            return str(err)
        return None

    def _cached(self, path: Path) -> np.ndarray | None:
        width, height, pols = self.sensor_size
        checksum = path.with_name(path.name + ".sha1")
        try:
            data = path.read_bytes()
            if hashlib.sha1(data).hexdigest() != checksum.read_text().strip():
                return None
            cached = np.load(io.BytesIO(data))
        except (OSError, ValueError):  # an unreadable cache entry is derived data: redo it
            return None
        return cached if cached.shape == (self.T, pols, height, width) else None

    def frames(self, index: int) -> np.ndarray:
        path = self.cache_path(index)
        if path is None:
            return self.integrate(index)
        cached = self._cached(path)
        if cached is not None:
            return cached
        frames = self.integrate(index)
        peak = int(frames.max(initial=0))
        dtype = np.uint8 if peak < 2**8 else np.uint16 if peak < 2**16 else np.int32
        buffer = io.BytesIO()
        np.save(buffer, frames.astype(dtype))
        data = buffer.getvalue()
        # The data first, then its checksum: a crash between the two leaves a file without a
        # valid sidecar, which is redone on the next read.
        atomic_write(path, lambda f: f.write(data), binary=True)
        write_text(path.with_name(path.name + ".sha1"), hashlib.sha1(data).hexdigest() + "\n")
        return frames

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.frames(index).astype(np.float32)), self.labels[index]
