"""Frame cache benchmark: second-epoch data time with the cache vs integrating on the fly.

Writes synthetic full-size CIFAR10-DVS recordings (real AEDAT 4 files, ~300k events each, the
size of the real ones) into a temporary data root, then times with T frames:
  1. reading + integrating one recording (tonic/aedat decode, then equal-count framing);
  2. an epoch of the training loader that fills the cache, a second epoch that reads it, and an
     epoch with the cache switched off (every recording decoded and integrated again).
Augmentation is off so that only data loading is timed.

    python benchmarks/data_cache.py [--recordings 20] [--events 300000] [--T 16] [--workers 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.datasets import integrate_frames, load_data

# The AEDAT 4 writer is test code (the package only reads recordings): take it from tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from aedat4_writer import synthetic_events, write_aedat4  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def epoch_seconds(loader) -> float:
    start = time.perf_counter()
    for x, _ in loader:
        x.sum()  # touch the data
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=20, help="total, spread over 10 classes")
    parser.add_argument("--events", type=int, default=300_000, help="events per recording")
    parser.add_argument("--T", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    # One intra-op thread, as in DataLoader worker processes; on a shared machine torch's default
    # thread pool otherwise spins and makes the float conversion and collation 100x slower.
    torch.set_num_threads(1)
    per_class = max(1, args.recordings // 10)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"writing {per_class * 10} AEDAT 4 recordings of {args.events:,} events to {root}")
        for c, name in enumerate(CLASSES):
            folder = root / "cifar10_dvs" / "CIFAR10DVS" / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                events = synthetic_events(args.events, seed=c * 1000 + i)
                write_aedat4(folder / f"cifar10_{name}_{i}.aedat4", events)
        bundle = load_data(
            "cifar10_dvs",
            data_root=str(root),
            T=args.T,
            batch_size=4,
            workers=args.workers,
            augment=False,
        )
        frames = bundle.train.dataset.base  # the EventFrames of the training split
        n = len(frames)

        # 1. one recording: decode through tonic, then integrate
        reps = 5
        start = time.perf_counter()
        for _ in range(reps):
            events = frames.reader(0)
        read_s = (time.perf_counter() - start) / reps
        start = time.perf_counter()
        for _ in range(reps):
            integrate_frames(events, args.T)
        integrate_s = (time.perf_counter() - start) / reps

        # 2. epochs
        first = epoch_seconds(bundle.train)
        bundle.set_epoch(1)
        second = epoch_seconds(bundle.train)
        cache_dir = frames.cache_dir
        frames.cache_dir = None  # switch the cache off: integrate every recording on the fly
        bundle.set_epoch(2)
        on_the_fly = epoch_seconds(bundle.train)
        frames.cache_dir = cache_dir
        cache_mb = sum(p.stat().st_size for p in cache_dir.glob("*.npy")) / 2**20

    print(
        f"one recording ({args.events:,} events, T={args.T}): read {read_s * 1e3:.1f} ms + "
        f"integrate {integrate_s * 1e3:.1f} ms = {(read_s + integrate_s) * 1e3:.1f} ms"
    )
    print(f"epoch of {n} recordings, workers={args.workers}:")
    for label, seconds in (
        ("first epoch (integrate + write cache)", first),
        ("second epoch (cached)", second),
        ("on the fly (no cache)", on_the_fly),
    ):
        print(f"  {label:<38} {seconds:6.2f} s  ({seconds / n * 1e3:.1f} ms/sample)")
    print(f"  speed-up of the cached second epoch over on the fly: {on_the_fly / second:.1f}x")
    print(f"  cache size {cache_mb:.1f} MiB ({cache_mb / n * 1024:.0f} KiB per recording)")


if __name__ == "__main__":
    main()
