"""CIFAR10-DVS and DVS128 Gesture: recordings found in any of three layouts, framed and cached.

Layouts recognised under the data root (the first that has recordings wins):
- ours: `<root>/cifar10_dvs/CIFAR10DVS/<class>/*.aedat4`,
  `<root>/dvs128_gesture/DVSGesture/ibmGesture{Train,Test}/user<NN>_<lighting>/<label>.npy`
  (tonic's files, downloaded here by tonic on first use);
- tonic's own (`save_to=<root>`): `<root>/CIFAR10DVS/...`, `<root>/DVSGesture/...`;
- spikingjelly's (`root=<root>/CIFAR10DVS`, `<root>/DVS128Gesture`, or our folder names):
  `.../events_np/<class>/*.npz`, `.../events_np/{train,test}/<label>/user<NN>_<light>_<k>.npz`.
Split files and frame caches always live in `<root>/<name>/`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.bundle import DATA_ROOT_ENV, DATASETS, DataError, DataRequest, Prepared
from bench.datasets.events import DVS_SENSOR, FRAME_METHODS, EventFrames, cache_dir, dvs_augment
from bench.datasets.splits import SPLIT_SEED, user_of
from bench.datasets.transforms import check_choice

__all__ = ["CIFAR10_DVS_CLASSES", "GESTURE_RELEASES", "Layout", "find_layout", "RecordingReader"]

CIFAR10_DVS_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
GESTURE_CLASSES = 11
# (train, test) recordings: tonic's preprocessed release vs the paper's and spikingjelly's.
GESTURE_RELEASES = {(1077, 264): "tonic", (1176, 288): "spikingjelly"}
TRAIN_PART, VAL_PART = 0.9, 0.1  # CIFAR10-DVS: of each class; of each class's training part
VAL_USERS = 0.1  # DVS128 Gesture: ceil(10%) of the training users validate


@dataclass(frozen=True)
class Layout:
    kind: str  # "ours", "tonic" or "spikingjelly"
    folder: Path  # split-file paths are relative to it

    def files(self, pattern: str) -> list[Path]:
        return sorted(self.folder.glob(pattern), key=lambda p: p.as_posix())


def find_layout(candidates: Sequence[tuple[str, Path, str]]) -> Layout | None:
    """The first (kind, folder, glob pattern) whose pattern matches a file."""
    for kind, folder, pattern in candidates:
        if next(iter(folder.glob(pattern)), None) is not None:
            return Layout(kind, folder)
    return None


class RecordingReader:
    """Reads recording i as structured events (t [us], x, y, p); picklable for loader workers."""

    def __init__(self, fmt: str, paths: Sequence[Path]) -> None:
        self.fmt, self.paths = fmt, list(paths)

    def __call__(self, index: int) -> np.ndarray:
        path = self.paths[index]
        if self.fmt == "aedat4":  # tonic's CIFAR10DVS files
            from tonic.io import read_aedat4

            events = read_aedat4(str(path))
            events.dtype.names = ["t", "x", "y", "p"]
            return events
        if self.fmt == "npz":  # spikingjelly's events_np
            with np.load(path) as f:
                columns = {k: f[k] for k in ("t", "x", "y", "p")}
        else:  # tonic's DVSGesture: columns x, y, p, t in milliseconds
            arr = np.load(path)
            columns = {"x": arr[:, 0], "y": arr[:, 1], "p": arr[:, 2], "t": arr[:, 3] * 1000}
        events = np.zeros(len(columns["t"]), [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "?")])
        for key, values in columns.items():
            events[key] = values
        return events


def _frames(
    name: str,
    layout: Layout,
    fmt: str,
    files: list[Path],
    labels: list[int],
    req: DataRequest,
    method: str,
) -> EventFrames:
    suffix = "" if layout.kind == "ours" else f"_{layout.kind}"
    cache = cache_dir(req.root, name, req.T, method + suffix)
    return EventFrames(
        name, RecordingReader(fmt, files), files, labels, layout.folder, cache, req.T, method
    )


def _tonic_download(cls: type, save_to: Path, name: str, layouts: str, **kwargs: Any) -> None:
    try:
        cls(str(save_to), **kwargs)
    except Exception as exc:
        url = getattr(cls, "url", None) or getattr(cls, "train_url", "")
        raise DataError(
            f"{name} is not under {save_to.parent} and downloading it failed ("
            f"{type(exc).__name__}: {exc}); put the extracted data in one of the layouts "
            f"{layouts} (from {url} via tonic, or spikingjelly's events_np), or point "
            f"data_root= / {DATA_ROOT_ENV} at a folder that has it."
        ) from exc


def _event_prepared(
    name: str,
    parts: dict[str, EventFrames],
    classes: int,
    split: dict,
    augment: bool,
    info: dict,
    req: DataRequest,
) -> Prepared:
    first = parts["train"]
    split = {**split, **{f"{s}_files": ds.relative() for s, ds in parts.items()}}
    method = first.method
    info = {
        "root": str(first.data_dir),
        "cache_dir": str(first.cache_dir),
        "cached_recordings": len(list(first.cache_dir.glob("*.npy"))) if first.cache_dir else 0,
        "frame_method": f"{method}: {req.T} slices with equal event counts"
        if method == "number"
        else f"{method}: {req.T} equal time windows",
        "frame_values": "event counts per pixel and polarity (not binarised), float32",
        **info,
    }
    return Prepared(
        parts["train"],
        parts["val"],
        parts["test"],
        num_classes=classes,
        in_channels=DVS_SENSOR[2],
        img_size=DVS_SENSOR[1],
        frames=req.T,
        split=split,
        split_file=req.root / name / "split.json",
        info=info,
        train_transform=dvs_augment if augment else None,
    )


def _cifar10_dvs_layout(root: Path) -> tuple[Layout, str, str]:
    """(layout, file format, glob pattern) of the CIFAR10-DVS recordings, downloading if none."""
    from tonic.datasets import CIFAR10DVS

    candidates = [
        ("ours", root / "cifar10_dvs", "CIFAR10DVS/*/*.aedat4"),
        ("tonic", root, "CIFAR10DVS/*/*.aedat4"),
        ("spikingjelly", root / "CIFAR10DVS", "events_np/*/*.npz"),
        ("spikingjelly", root / "cifar10_dvs", "events_np/*/*.npz"),
    ]
    layouts = (
        f"{root}/cifar10_dvs/CIFAR10DVS/<class>/*.aedat4 (ours, for the 10 classes "
        f"airplane..truck), {root}/CIFAR10DVS/<class>/*.aedat4 (tonic) or "
        f"{root}/CIFAR10DVS/events_np/<class>/*.npz (spikingjelly)"
    )
    layout = find_layout(candidates)
    if layout is None:
        _tonic_download(CIFAR10DVS, root / "cifar10_dvs", "cifar10_dvs", layouts)
        layout = find_layout(candidates[:1])
    if layout is None:
        raise DataError(f"cifar10_dvs: tonic left no recordings; expected {layouts}.")
    if layout.kind == "spikingjelly":
        return layout, "npz", "events_np/*/*.npz"
    return layout, "aedat4", "CIFAR10DVS/*/*.aedat4"


def _cifar10_dvs_split(per_class: dict[int, list[Path]]) -> dict[str, list[tuple[Path, int]]]:
    """First ceil(90%) of each class is the training part, the rest tests (spikingjelly's
    split_to_train_test_set, as the reference code); the last 10% of the training part
    validates."""
    out: dict[str, list[tuple[Path, int]]] = {"train": [], "val": [], "test": []}
    for c, items in sorted(per_class.items()):
        cut = math.ceil(len(items) * TRAIN_PART)
        val = round(cut * VAL_PART)
        out["train"] += [(p, c) for p in items[: cut - val]]
        out["val"] += [(p, c) for p in items[cut - val : cut]]
        out["test"] += [(p, c) for p in items[cut:]]
    return out


@DATASETS.register(
    "cifar10_dvs", num_classes=10, in_channels=2, img_size=128, frames=True, download=True
)
def _cifar10_dvs(req: DataRequest, method: str = "number") -> Prepared:
    check_choice("method", method, FRAME_METHODS)
    layout, fmt, pattern = _cifar10_dvs_layout(req.root)
    per_class: dict[int, list[Path]] = {}
    for path in layout.files(pattern):  # sorted names, as spikingjelly's DatasetFolder sorts
        if path.parent.name in CIFAR10_DVS_CLASSES:
            per_class.setdefault(CIFAR10_DVS_CLASSES.index(path.parent.name), []).append(path)
    if sorted(per_class) != list(range(10)):
        raise DataError(
            f"cifar10_dvs in {layout.folder} has recordings for {len(per_class)} of 10 classes; "
            "expected <class>/ folders airplane..truck."
        )
    parts = {
        s: _frames("cifar10_dvs", layout, fmt, [p for p, _ in m], [c for _, c in m], req, method)
        for s, m in _cifar10_dvs_split(per_class).items()
    }
    rule = (
        "per class, sorted file names: the first ceil(90%) are the training part (its last "
        "round(10%) validate, the rest train), the remaining 10% test"
    )
    split = {"rule": rule, "layout": layout.kind, "train_part": TRAIN_PART, "val_part": VAL_PART}
    info = {
        "layout": layout.kind,
        "augment": req.augment,
        "augmentation": "hflip 0.5 + one of identity/shear/translate/rotate/cutout per clip"
        if req.augment
        else "none",
    }
    return _event_prepared("cifar10_dvs", parts, 10, split, req.augment, info, req)


def _gesture_release(n_train: int, n_test: int) -> str:
    known = GESTURE_RELEASES.get((n_train, n_test))
    if known:
        return known
    return (
        f"unknown ({n_train:,} / {n_test:,} recordings; tonic's release has 1,077 / 264, the "
        "paper's and spikingjelly's 1,176 / 288)"
    )


def _gesture_layout(req: DataRequest) -> tuple[Layout, str, dict[str, str]]:
    from tonic.datasets import DVSGesture

    root = req.root
    tonic_parts = {
        "train": "DVSGesture/ibmGestureTrain/*/*.npy",
        "test": "DVSGesture/ibmGestureTest/*/*.npy",
    }
    jelly_parts = {"train": "events_np/train/*/*.npz", "test": "events_np/test/*/*.npz"}
    candidates = [
        ("ours", root / "dvs128_gesture", tonic_parts["train"]),
        ("tonic", root, tonic_parts["train"]),
        ("spikingjelly", root / "DVS128Gesture", jelly_parts["train"]),
        ("spikingjelly", root / "dvs128_gesture", jelly_parts["train"]),
    ]
    ours = "DVSGesture/ibmGestureTrain and ibmGestureTest, each user<NN>_<lighting>/<label>.npy"
    layouts = f"{root / 'dvs128_gesture'}/{ours}, {root}/DVSGesture, {root}/DVS128Gesture/events_np"
    layout = find_layout(candidates)
    if layout is None or layout.kind == "ours":
        save_to = root / "dvs128_gesture"
        for train, sub in ((True, "ibmGestureTrain"), (False, "ibmGestureTest")):
            if not any((save_to / "DVSGesture" / sub).glob("*/*.npy")):
                _tonic_download(DVSGesture, save_to, "dvs128_gesture", layouts, train=train)
        layout = Layout("ours", save_to)
    if layout.kind == "spikingjelly":
        return layout, "npz", jelly_parts
    return layout, "npy", tonic_parts


def _validation_users(train: list[Path], folder: Path) -> tuple[list[int], list[int]]:
    """(training users, the ceil(10%) of them that validate): whole users are held out, so one
    person's recordings never straddle train and validation."""
    users = sorted({user_of(p) for p in train})
    if len(users) < 2:
        raise DataError(
            f"dvs128_gesture in {folder} has training recordings of {len(users)} user(s); a "
            "validation split by user needs at least 2: restore the full ibmGestureTrain."
        )
    rng = np.random.default_rng(SPLIT_SEED)
    n_val = math.ceil(len(users) * VAL_USERS)
    return users, sorted(int(u) for u in rng.choice(users, size=n_val, replace=False))


@DATASETS.register(
    "dvs128_gesture",
    num_classes=GESTURE_CLASSES,
    in_channels=2,
    img_size=128,
    frames=True,
    download=True,
)
def _dvs128_gesture(req: DataRequest, method: str = "number") -> Prepared:
    """Never augmented: the paper augments CIFAR10-DVS only, and a horizontal flip would turn
    right-hand gestures into left-hand ones (label noise on 6 of the 11 classes)."""
    check_choice("method", method, FRAME_METHODS)
    layout, fmt, patterns = _gesture_layout(req)
    official = {s: layout.files(p) for s, p in patterns.items()}
    release = _gesture_release(len(official["train"]), len(official["test"]))
    users, val_users = _validation_users(official["train"], layout.folder)
    files = {
        "train": [p for p in official["train"] if user_of(p) not in val_users],
        "val": [p for p in official["train"] if user_of(p) in val_users],
        "test": official["test"],
    }

    def label(path: Path) -> int:  # tonic: <label>.npy; spikingjelly: <label>/<name>.npz
        return int(path.parent.name if fmt == "npz" else path.stem)

    parts = {
        s: _frames("dvs128_gesture", layout, fmt, fs, [label(p) for p in fs], req, method)
        for s, fs in files.items()
    }
    rule = (
        f"official test users; of the {len(users)} training users, ceil(10%) = {len(val_users)} "
        f"(users {val_users}, numpy default_rng({SPLIT_SEED}).choice of the sorted user numbers) "
        "validate, the others train"
    )
    split = {
        "rule": rule,
        "layout": layout.kind,
        "release": release,
        "train_users": [u for u in users if u not in val_users],
        "val_users": val_users,
    }
    info = {
        "layout": layout.kind,
        "release": release,
        "augment": False,
        "augmentation": "none (the paper augments CIFAR10-DVS only; a horizontal flip would "
        "swap left- and right-hand gestures)",
    }
    return _event_prepared("dvs128_gesture", parts, GESTURE_CLASSES, split, False, info, req)
