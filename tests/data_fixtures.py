"""Format-faithful data fixtures written by the tests, read through the real loaders.

CIFAR: pickle batches in torchvision's `cifar-10-batches-py` layout. CIFAR10-DVS: real AEDAT 4
files (aedat4_writer) read by tonic, or spikingjelly's `events_np/<class>/*.npz`. DVS128 Gesture:
tonic's `user<NN>_<lighting>/<label>.npy` arrays (x, y, p, t in ms) or spikingjelly's
`events_np/{train,test}/<label>/user<NN>_<lighting>_<k>.npz`. ImageNet: tiny JPEGs in
ImageFolder layout.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from aedat4_writer import write_aedat4

from bench.datasets.dvs import CIFAR10_DVS_CLASSES

DVS_CLASSES = list(CIFAR10_DVS_CLASSES)  # the folder names tonic's release uses
GESTURE_USERS = {
    "train": ["user02_led", "user01_fluorescent", "user03_natural"],
    "test": ["user24_natural"],
}


def batches(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in loader]


def events_array(t, x, y, p) -> np.ndarray:
    ev = np.zeros(len(t), dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "?")])
    ev["t"], ev["x"], ev["y"], ev["p"] = t, x, y, p
    return ev


def random_events(rng: np.random.Generator, n: int, t_max: int = 10**5) -> np.ndarray:
    return events_array(
        np.sort(rng.integers(0, t_max, n)),
        rng.integers(0, 128, n),
        rng.integers(0, 128, n),
        rng.integers(0, 2, n),
    )


def write_cifar10(
    root: Path, per_batch: int = 8, n_test: int = 12, balanced: bool = False, own_root=False
) -> dict:
    """cifar-10-batches-py with 5 train batches, a test batch and batches.meta.

    `balanced`: labels cycle 0..9 (every class equally often), else random. `own_root`: in
    torchvision's own layout `<root>/cifar-10-batches-py` instead of `<root>/cifar10/...`."""
    folder = (root if own_root else root / "cifar10") / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [i % 10 for i in range(n)] if balanced else rng.integers(0, 10, n).tolist()
        entry = {"batch_label": name, "labels": labels, "data": pixels, "filenames": [""] * n}
        (folder / name).write_bytes(pickle.dumps(entry))
        written[name] = (pixels, labels)
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return written


def write_cifar10_dvs(
    root: Path, per_class: int = 10, layout: str = "ours"
) -> dict[str, np.ndarray]:
    """Recordings `cifar10_<class>_<i>`; layout "ours", "tonic" or "spikingjelly"."""
    folder = {
        "ours": root / "cifar10_dvs" / "CIFAR10DVS",
        "tonic": root / "CIFAR10DVS",
        "spikingjelly": root / "CIFAR10DVS" / "events_np",
    }[layout]
    rng = np.random.default_rng(1)
    written = {}
    for c, name in enumerate(DVS_CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            ev = random_events(rng, 40 + 7 * i + c)
            if layout == "spikingjelly":
                path = folder / name / f"cifar10_{name}_{i}.npz"
                np.savez_compressed(path, t=ev["t"], x=ev["x"], y=ev["y"], p=ev["p"])
            else:
                path = folder / name / f"cifar10_{name}_{i}.aedat4"
                write_aedat4(path, ev, packet_size=32)
            written[f"{name}/{path.name}"] = ev
    return written


def _gesture_columns(rng: np.random.Generator, n: int) -> np.ndarray:
    """Columns x, y, p, t in milliseconds (tonic multiplies t by 1000 on reading)."""
    return np.stack(
        [
            rng.integers(0, 128, n),
            rng.integers(0, 128, n),
            rng.integers(0, 2, n),
            np.sort(rng.integers(0, 6000, n)),
        ],
        1,
    )


def write_gesture(root: Path, layout: str = "ours") -> dict[str, np.ndarray]:
    """11 recordings per user; keys `<split>/<user>/<label>` -> columns (x, y, p, t ms)."""
    rng = np.random.default_rng(2)
    written = {}
    base = {
        "ours": root / "dvs128_gesture" / "DVSGesture",
        "tonic": root / "DVSGesture",
        "spikingjelly": root / "DVS128Gesture" / "events_np",
    }[layout]
    for split, users in GESTURE_USERS.items():
        for user in users:
            for label in range(11):
                arr = _gesture_columns(rng, 30 + label)
                written[f"{split}/{user}/{label}"] = arr
                if layout == "spikingjelly":
                    folder = base / split / str(label)
                    folder.mkdir(parents=True, exist_ok=True)
                    np.savez(
                        folder / f"{user}_0.npz",
                        x=arr[:, 0],
                        y=arr[:, 1],
                        p=arr[:, 2],
                        t=arr[:, 3] * 1000,
                    )
                else:
                    sub = "ibmGestureTrain" if split == "train" else "ibmGestureTest"
                    folder = base / sub / user
                    folder.mkdir(parents=True, exist_ok=True)
                    np.save(folder / f"{label}.npy", arr.astype(np.float64))
    return written


def gesture_frames(arr: np.ndarray, T: int, integrate) -> torch.Tensor:
    ev = events_array(arr[:, 3] * 1000, arr[:, 0], arr[:, 1], arr[:, 2])
    return torch.from_numpy(integrate(ev, T).astype(np.float32))


def write_imagenet(
    root: Path, classes: list[str], train_per_class: int = 4, val_per_class: int = 2
) -> None:
    """root/imagenet/{train,val}/<wnid>/*.JPEG, small random RGB JPEGs of varied shapes."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for split, n in (("train", train_per_class), ("val", val_per_class)):
        for wnid in classes:
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            for i in range(n):
                h, w = int(rng.integers(40, 80)), int(rng.integers(40, 80))
                pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{wnid}_{i}.JPEG", quality=90)
