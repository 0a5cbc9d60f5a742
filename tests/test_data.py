"""bench.datasets and the bench.data CLI: registry, seeded loaders, fixed splits, and
format-faithful fixtures through the real loaders.

Fixtures (tests/data_fixtures.py) are format-faithful files read through the real loaders. CIFAR
fixtures cannot match the official md5 sums, so the tests that load them replace torchvision's
`check_integrity` by an existence check (the md5 path itself is tested with the real function).
"""

from __future__ import annotations

import json
import pickle
import random
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import (
    DVS_CLASSES,
    batches,
    events_array,
    gesture_frames,
    write_cifar10,
    write_cifar10_dvs,
    write_gesture,
    write_imagenet,
)

from bench import datasets
from bench.data import main as data_main
from bench.datasets import (
    DataError,
    EpochSampler,
    cifar,
    dvs,
    events,
    imagenet,
    integrate_frames,
    load_data,
)
from bench.datasets.splits import stratified_split
from components.registry import UnknownNameError

# --------------------------------------------------------------------------------------------
# registry, digits, samplers
# --------------------------------------------------------------------------------------------


def test_registry_names_and_unknown_name():
    assert set(datasets.DATASETS.names()) == {
        "cifar10",
        "cifar100",
        "cifar10_dvs",
        "dvs128_gesture",
        "digits",
        "digits16",
        "imagenet",
        "imagenet100",
    }
    assert datasets.DATASETS.meta("cifar10") == {
        "num_classes": 10,
        "in_channels": 3,
        "img_size": 32,
        "frames": False,
        "download": True,
    }
    assert datasets.DATASETS.where(frames=True) == ["cifar10_dvs", "dvs128_gesture"]
    assert datasets.DATASETS.meta("imagenet100")["num_classes"] == 100
    with pytest.raises(UnknownNameError, match="Did you mean 'digits'"):
        load_data("digit")


@pytest.mark.parametrize("name,size", [("digits", 8), ("digits16", 16)])
def test_digits_shapes_split_and_normalisation(name, size):
    b = load_data(name, batch_size=100, seed=3)
    assert (b.num_classes, b.in_channels, b.img_size, b.frames) == (10, 1, size, None)
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (1079, 359, 359)
    x, y = next(iter(b.train))
    assert x.shape == (100, 1, size, size) and x.dtype == torch.float32 and y.dtype == torch.int64
    train_x = torch.cat([x for x, _ in b.train])
    assert abs(float(train_x.mean())) < 1e-4 and abs(float(train_x.std()) - 1) < 1e-3
    test_y = torch.cat([y for _, y in b.test])
    # Stratified: every class has 35 to 37 of the 359 test images (20% of 174..183).
    assert set(torch.bincount(test_y, minlength=10).tolist()) <= {35, 36, 37}
    json.dumps(b.info)  # JSON-serialisable


def test_digits_are_the_real_embedded_images():
    from sklearn.datasets import load_digits

    b = load_data("digits", batch_size=2000)
    x = torch.cat([x for x, _ in b.test])
    stats = b.info["normalisation"]
    raw = torch.tensor(load_digits().images, dtype=torch.float32) / 16
    pixels = x[:, 0] * stats["std"] + stats["mean"]
    # Every test image is one of the 1797 real images (no substitute data).
    distances = torch.cdist(pixels.flatten(1), raw.flatten(1)).min(dim=1).values
    assert float(distances.max()) < 1e-4


def test_digits_split_does_not_depend_on_run_seed():
    for split in ("test", "val"):
        a = batches(getattr(load_data("digits", batch_size=64, seed=0), split))
        b = batches(getattr(load_data("digits", batch_size=64, seed=7), split))
        assert all(
            torch.equal(xa, xb) and torch.equal(ya, yb)
            for (xa, ya), (xb, yb) in zip(a, b, strict=True)
        )


def test_digits_splits_are_disjoint_stratified_and_recorded(tmp_path):
    from sklearn.datasets import load_digits

    b = load_data("digits", data_root=str(tmp_path), batch_size=2000)
    split = json.loads(Path(b.info["split_file"]).read_text())
    assert split["split_seed"] == 0 and split["fractions"] == {"test": 0.2, "val": 0.2}
    parts = [set(split[s]) for s in ("train", "val", "test")]
    assert sum(map(len, parts)) == len(set().union(*parts)) == 1797  # a partition
    labels = load_digits().target
    for s in ("val", "test"):  # round(20%) of each class
        counts = np.bincount(labels[split[s]], minlength=10)
        assert counts.tolist() == [round(0.2 * n) for n in np.bincount(labels)]
    # The split file reproduces the split: redo it from what it records.
    again = stratified_split(labels, split["fractions"], split["split_seed"])
    assert all(again[s] == split[s] for s in ("train", "val", "test"))
    assert b.info["split_sha1"] and len(b.info["split_sha1"]) == 40
    # The validation loader is deterministic: same order and values in every epoch.
    first = batches(b.val)
    b.set_epoch(3)
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first, batches(b.val), strict=True))
    assert torch.cat([y for _, y in first]).tolist() == labels[split["val"]].tolist()


def test_same_seed_and_epoch_give_identical_batches_and_other_seeds_differ():
    first = load_data("digits", batch_size=50, seed=11)
    second = load_data("digits", batch_size=50, seed=11)
    torch.manual_seed(123)  # the global RNG state must not matter
    for bundle in (first, second):
        bundle.set_epoch(4)
    a, b = batches(first.train), batches(second.train)
    assert all(
        torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True)
    )
    other = load_data("digits", batch_size=50, seed=12)
    other.set_epoch(4)
    assert not torch.equal(torch.cat([y for _, y in a]), torch.cat([y for _, y in other.train]))
    first.set_epoch(5)
    assert not torch.equal(torch.cat([y for _, y in a]), torch.cat([y for _, y in first.train]))
    # Pairing evidence: the order hash of an epoch is a function of (seed, epoch) only.
    assert first.order_hash(4) == second.order_hash(4) != first.order_hash(5)
    assert other.order_hash(4) != first.order_hash(4)


def test_loading_does_not_touch_global_rngs():
    bundle = load_data("digits", batch_size=64)
    torch.manual_seed(5)
    random.seed(5)
    expected = (torch.rand(3), random.random())
    torch.manual_seed(5)
    random.seed(5)
    batches(bundle.train)
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]


def test_epoch_sampler_shards_are_disjoint_and_equal():
    shards = []
    for rank in range(3):
        s = EpochSampler(100, seed=2, shuffle=True, world_size=3, rank=rank)
        s.set_epoch(1)
        shards.append(list(s))
        assert len(shards[-1]) == len(s) == 33
    flat = sum(shards, [])
    assert len(set(flat)) == 99  # one sample dropped so that all ranks have 33
    single = EpochSampler(100, seed=2, shuffle=True)
    single.set_epoch(1)
    assert sorted(flat) == sorted(list(single)[:99])
    tests = [list(EpochSampler(10, seed=0, shuffle=False, world_size=3, rank=r)) for r in range(3)]
    assert sorted(sum(tests, [])) == list(range(10))
    with pytest.raises(ValueError, match="rank"):
        EpochSampler(10, seed=0, shuffle=True, world_size=2, rank=2)


def test_cli_digits_json(capsys):
    assert data_main(["digits", "batch_size=32", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["input_shape"] == [1, 8, 8] and info["train_size"] == 1079
    assert info["num_classes"] == 10 and info["frames"] is None


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKFORMER_DATA", str(tmp_path / "env"))
    assert datasets.resolve_data_root(None) == (tmp_path / "env").resolve()
    assert datasets.resolve_data_root(tmp_path / "arg") == (tmp_path / "arg").resolve()
    monkeypatch.delenv("SPIKFORMER_DATA")
    assert (
        datasets.resolve_data_root(None) == Path(datasets.DEFAULT_DATA_ROOT).expanduser().resolve()
    )


# --------------------------------------------------------------------------------------------
# CIFAR (torchvision pickle batches)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def no_md5(monkeypatch):
    """Fixture files cannot match the official md5 sums: check existence only."""
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())


def test_cifar10_fixture_through_torchvision(tmp_path, no_md5):
    written = write_cifar10(tmp_path)
    b = load_data("cifar10", data_root=str(tmp_path), batch_size=16, test_batch_size=5, seed=1)
    assert (b.num_classes, b.in_channels, b.img_size, b.frames) == (10, 3, 32, None)
    assert (b.info["train_size"] + b.info["val_size"], b.info["test_size"]) == (40, 12)
    xs, ys = zip(*batches(b.test), strict=True)
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.shape == (12, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    pixels, labels = written["test_batch"]
    assert y.tolist() == labels  # test order is the file order
    mean = torch.tensor(cifar.CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(cifar.CIFAR10_STD).view(3, 1, 1)
    expected = (torch.tensor(pixels).view(-1, 3, 32, 32).float() / 255 - mean) / std
    assert torch.allclose(x, expected, atol=1e-5)  # no augmentation on the test set
    xt, yt = next(iter(b.train))
    assert xt.shape == (16, 3, 32, 32)


def test_cifar10_augmentation_is_seeded_per_sample(tmp_path, no_md5):
    write_cifar10(tmp_path)
    runs = []
    for perturb in (0, 99):
        torch.manual_seed(perturb)
        random.seed(perturb)
        np.random.seed(perturb)
        b = load_data("cifar10", data_root=str(tmp_path), batch_size=40, seed=5)
        b.set_epoch(2)
        runs.append(batches(b.train))
    (xa, ya), (xb, yb) = runs[0][0], runs[1][0]
    assert torch.equal(ya, yb) and torch.equal(xa, xb)
    b.set_epoch(3)
    x3, y3 = batches(b.train)[0]
    order2, order3 = ya.tolist(), y3.tolist()
    assert order2 != order3 or not torch.equal(xa, x3)
    plain = load_data("cifar10", data_root=str(tmp_path), batch_size=40, seed=5, augment=False)
    plain.set_epoch(2)
    xp, yp = batches(plain.train)[0]
    assert torch.equal(yp, ya) and not torch.equal(xp, xa)  # same order, augmented pixels differ


def test_cifar_validation_is_a_stratified_fixed_holdout_with_test_transforms(tmp_path, no_md5):
    written = write_cifar10(tmp_path, per_batch=40, balanced=True)  # 200 images, 20 per class
    b = load_data("cifar10", data_root=str(tmp_path), batch_size=64, seed=1)
    assert (b.info["train_size"], b.info["val_size"]) == (180, 20)  # 10% of each class
    split = json.loads(Path(b.info["split_file"]).read_text())
    other = load_data("cifar10", data_root=str(tmp_path), batch_size=64, seed=9)
    assert json.loads(Path(other.info["split_file"]).read_text()) == split  # not the run seed
    pixels = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert np.bincount([labels[i] for i in split["val"]]).tolist() == [2] * 10
    x, y = (torch.cat(t) for t in zip(*batches(b.val), strict=True))
    assert y.tolist() == [labels[i] for i in split["val"]]
    mean = torch.tensor(cifar.CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(cifar.CIFAR10_STD).view(3, 1, 1)
    raw = torch.tensor(pixels[split["val"]]).view(-1, 3, 32, 32).float() / 255
    assert torch.allclose(x, (raw - mean) / std, atol=1e-5)  # normalised, never augmented


@pytest.mark.parametrize(
    "ops,expected",
    [
        (None, {"Equalize", "Rotate", "ShearX", "TranslateXRel", "TranslateYRel"}),  # default
        ("authors", {"Equalize", "Rotate", "ShearX", "TranslateXRel", "TranslateYRel"}),
        ("timm", None),  # timm's 15-op table for an "inc1" config
    ],
)
def test_cifar_randaugment_draws_only_the_chosen_op_table(
    tmp_path, no_md5, monkeypatch, ops, expected
):
    import timm.data.auto_augment as aa

    drawn = []
    original = aa.AugmentOp.__call__

    def record(self, img):
        drawn.append(self.name)
        return original(self, img)

    monkeypatch.setattr(aa.AugmentOp, "__call__", record)
    write_cifar10(tmp_path, per_batch=2)
    b = load_data("cifar10", data_root=str(tmp_path), batch_size=4, randaugment_ops=ops)
    assert b.info["randaugment_ops"] == (ops or "authors")
    samples = b.train.dataset
    for epoch in range(400):  # one fixed image, 400 seeded draws of n=1 op
        samples.epoch = epoch
        samples[0]
    assert len(drawn) == 400
    assert set(drawn) == (expected or set(aa._RAND_INCREASING_TRANSFORMS))


def test_cifar100_fixture(tmp_path, no_md5):
    folder = tmp_path / "cifar100" / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", 20), ("test", 6)):
        entry = {
            "data": np.zeros((n, 3072), np.uint8),
            "fine_labels": list(range(n)),
            "coarse_labels": [0] * n,
        }
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [str(i) for i in range(100)]}))
    b = load_data("cifar100", data_root=str(tmp_path), batch_size=4)
    assert b.num_classes == 100 and (b.info["train_size"], b.info["test_size"]) == (20, 6)
    assert torch.cat([y for _, y in b.test]).tolist() == list(range(6))


def test_cifar_missing_and_offline_raises_one_sentence(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    with pytest.raises(DataError) as err:
        load_data("cifar10", data_root=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path / "cifar10") in message and "cifar-10-batches-py" in message
    assert "data_batch_1" in message and "https://www.cs.toronto.edu" in message


def test_cifar_md5_mismatch_names_the_file(tmp_path):
    write_cifar10(tmp_path)  # real md5 check: the fixture's first file cannot match
    with pytest.raises(DataError, match=r"data_batch_1 is corrupt or truncated"):
        load_data("cifar10", data_root=str(tmp_path))


def test_cifar_truncated_pickle_names_the_file(tmp_path, no_md5):
    write_cifar10(tmp_path)
    bad = tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:500])
    with pytest.raises(DataError, match=r"data_batch_3 cannot be read"):
        load_data("cifar10", data_root=str(tmp_path))


# --------------------------------------------------------------------------------------------
# framing
# --------------------------------------------------------------------------------------------


def test_frames_split_by_event_count_hand_computed():
    # 10 events, T=3: floor(10/3)=3 events per slice, the last slice takes the remaining 4.
    t = np.arange(10) * 100
    x = [0, 0, 5, 1, 1, 1, 2, 3, 3, 127]
    y = [0, 0, 6, 1, 1, 2, 2, 3, 3, 127]
    p = [1, 1, 0, 0, 1, 0, 1, 1, 1, 0]
    frames = integrate_frames(events_array(t, x, y, p), T=3)
    assert frames.shape == (3, 2, 128, 128) and frames.dtype == np.int32
    expected = np.zeros((3, 2, 128, 128), np.int32)
    expected[0, 1, 0, 0] = 2  # two events on one pixel count 2 (not binarised)
    expected[0, 0, 6, 5] = 1
    expected[1, 0, 1, 1] = 1
    expected[1, 1, 1, 1] = 1
    expected[1, 0, 2, 1] = 1
    expected[2, 1, 2, 2] = 1
    expected[2, 1, 3, 3] = 2
    expected[2, 0, 127, 127] = 1
    assert np.array_equal(frames, expected)


def test_frames_match_spikingjelly_reference_rule():
    from spikingjelly.datasets.utils import integrate_events_by_fixed_frames_number

    rng = np.random.default_rng(3)
    n = 5003
    ev = events_array(
        np.sort(rng.integers(0, 10**6, n)),
        rng.integers(0, 128, n),
        rng.integers(0, 128, n),
        rng.integers(0, 2, n),
    )
    as_dict = {k: ev[k].astype(np.int64) for k in ("t", "x", "y", "p")}
    for method in ("number", "time"):
        ours = integrate_frames(ev, T=7, method=method)
        ref = integrate_events_by_fixed_frames_number(as_dict, method, 7, 128, 128)
        assert np.array_equal(ours, ref)
    assert integrate_frames(ev, T=7).sum() == n


def test_frames_reject_events_outside_the_sensor():
    with pytest.raises(ValueError, match="outside the 128x128x2 sensor"):
        integrate_frames(events_array([0], [128], [0], [0]), T=1)


def test_dvs_augment_is_deterministic_per_generator():
    frames = torch.rand(4, 2, 128, 128)
    outs = [events.dvs_augment(frames, torch.Generator().manual_seed(s)) for s in (1, 1, 2, 3, 4)]
    assert all(o.shape == frames.shape for o in outs)
    assert torch.equal(outs[0], outs[1])
    assert any(not torch.equal(outs[0], o) for o in outs[2:])


# --------------------------------------------------------------------------------------------
# CIFAR10-DVS (real AEDAT 4 files through tonic)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dvs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs")
    return root, write_cifar10_dvs(root)


def test_cifar10_dvs_split_shapes_and_counts(dvs_root):
    root, written = dvs_root
    b = load_data("cifar10_dvs", data_root=str(root), T=4, batch_size=8, augment=False)
    assert (b.num_classes, b.in_channels, b.img_size, b.frames) == (10, 2, 128, 4)
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (80, 10, 10)
    split = json.loads(Path(b.info["split_file"]).read_text())
    # Sorted file names: "_9" sorts last in each class (lexicographic, as the reference code);
    # "_8", the last of the training part, validates.
    assert split["test_files"] == [f"CIFAR10DVS/{c}/cifar10_{c}_9.aedat4" for c in DVS_CLASSES]
    assert split["val_files"] == [f"CIFAR10DVS/{c}/cifar10_{c}_8.aedat4" for c in DVS_CLASSES]
    assert len(split["train_files"]) == 80 and split["train_files"][:2] == [
        "CIFAR10DVS/airplane/cifar10_airplane_0.aedat4",
        "CIFAR10DVS/airplane/cifar10_airplane_1.aedat4",
    ]
    x, y = zip(*batches(b.test), strict=True)
    x, y = torch.cat(x), torch.cat(y)
    assert x.shape == (10, 4, 2, 128, 128) and x.dtype == torch.float32
    assert y.tolist() == list(range(10))
    for c, name in enumerate(DVS_CLASSES):
        ev = written[f"{name}/cifar10_{name}_9.aedat4"]
        assert torch.equal(x[c], torch.from_numpy(integrate_frames(ev, 4).astype(np.float32)))
    xt, yt = next(iter(b.train))
    assert xt.shape == (8, 4, 2, 128, 128)


def test_cifar10_dvs_cache_hit_returns_identical_frames(dvs_root, monkeypatch):
    root, _ = dvs_root
    first = batches(load_data("cifar10_dvs", data_root=str(root), T=3, batch_size=10).test)
    cache = root / "cifar10_dvs" / "frames_T3_number"
    assert len(list(cache.glob("*.npy"))) == 10  # test samples only so far

    def no_integration(self, index):
        raise AssertionError("integrated again although the frames are cached")

    monkeypatch.setattr(events.EventFrames, "integrate", no_integration)
    again = batches(load_data("cifar10_dvs", data_root=str(root), T=3, batch_size=10).test)
    assert torch.equal(first[0][0], again[0][0]) and torch.equal(first[0][1], again[0][1])


def test_cifar10_dvs_augmented_train_batches_are_seeded(dvs_root):
    root, _ = dvs_root
    runs = []
    for _ in range(2):
        b = load_data("cifar10_dvs", data_root=str(root), T=2, batch_size=30, seed=4)
        b.set_epoch(1)
        runs.append(next(iter(b.train)))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


def test_cifar10_dvs_truncated_recording_names_the_file(tmp_path):
    write_cifar10_dvs(tmp_path, per_class=2)
    bad = tmp_path / "cifar10_dvs" / "CIFAR10DVS" / "cat" / "cifar10_cat_1.aedat4"
    bad.write_bytes(bad.read_bytes()[:-40])
    b = load_data("cifar10_dvs", data_root=str(tmp_path), T=2, batch_size=4)
    assert b.info["test_size"] == 0  # ceil(0.9 * 2) = 2: both recordings of a class train
    with pytest.raises(DataError, match=r"cifar10_cat_1\.aedat4 is corrupt or truncated"):
        batches(b.train)


def test_cifar10_dvs_missing_and_offline(tmp_path, monkeypatch):
    import tonic.dataset

    def offline(self):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tonic.dataset.Dataset, "download", offline)
    with pytest.raises(DataError) as err:
        load_data("cifar10_dvs", data_root=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path / "cifar10_dvs" / "CIFAR10DVS") in message and "aedat4" in message


# --------------------------------------------------------------------------------------------
# DVS128 Gesture (tonic's npy layout)
# --------------------------------------------------------------------------------------------


def test_dvs128_gesture_official_split(tmp_path):
    written = write_gesture(tmp_path)
    b = load_data("dvs128_gesture", data_root=str(tmp_path), T=5, batch_size=11, augment=False)
    assert (b.num_classes, b.in_channels, b.img_size, b.frames) == (11, 2, 128, 5)
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (22, 11, 11)
    split = json.loads(Path(b.info["split_file"]).read_text())
    assert split["train_files"][0] == "DVSGesture/ibmGestureTrain/user01_fluorescent/0.npy"
    # One whole user validates (ceil(10%) of 3), drawn with the fixed split seed; no user is in
    # two splits.
    assert split["val_users"] == [3] and split["train_users"] == [1, 2]
    assert all("/user03_natural/" in f for f in split["val_files"])
    assert not any("/user03_" in f for f in split["train_files"])
    x, y = next(iter(b.test))
    assert x.shape == (11, 5, 2, 128, 128) and sorted(y.tolist()) == list(range(11))
    for xi, yi in zip(x, y, strict=True):
        assert torch.equal(
            xi, gesture_frames(written[f"test/user24_natural/{int(yi)}"], 5, integrate_frames)
        )


def test_dvs128_gesture_corrupt_npy_names_the_file(tmp_path):
    write_gesture(tmp_path)
    bad = tmp_path / "dvs128_gesture" / "DVSGesture" / "ibmGestureTest" / "user24_natural" / "3.npy"
    bad.write_bytes(bad.read_bytes()[:100])
    b = load_data("dvs128_gesture", data_root=str(tmp_path), T=2, batch_size=11)
    with pytest.raises(DataError, match=r"user24_natural/3\.npy is corrupt or truncated"):
        batches(b.test)


def test_dvs128_gesture_augmentation_never_mirrors(tmp_path):
    """Training clips are the recordings' exact frames whatever augment says: a flip would turn
    right-hand into left-hand gestures."""
    written = write_gesture(tmp_path)
    for seed in (0, 1, 2):
        b = load_data("dvs128_gesture", data_root=str(tmp_path), T=3, batch_size=6, seed=seed)
        assert b.info["augment"] is False and "none" in b.info["augmentation"]
        for epoch in (0, 1):
            b.set_epoch(epoch)
            base = b.train.dataset.base
            for step, (x, _) in enumerate(b.train):
                order = b.train.sampler.indices()[step * 6 : step * 6 + 6]
                for xi, i in zip(x, order, strict=True):
                    path = Path(base.source(i))
                    arr = written[f"train/{path.parent.name}/{path.stem}"]
                    expected = gesture_frames(arr, 3, integrate_frames)
                    assert torch.equal(xi, expected)
                    assert not torch.equal(xi, expected.flip(-1))  # random events: not symmetric


def test_dvs128_gesture_release_is_reported(tmp_path):
    assert dvs._gesture_release(1077, 264) == "tonic"
    assert dvs._gesture_release(1176, 288) == "spikingjelly"
    write_gesture(tmp_path)
    b = load_data("dvs128_gesture", data_root=str(tmp_path), T=2, batch_size=4)
    split = json.loads(Path(b.info["split_file"]).read_text())
    assert b.info["release"] == split["release"]
    assert split["release"].startswith("unknown (33 / 11 recordings; tonic's release has 1,077")


# --------------------------------------------------------------------------------------------
# batch-level augmentation, drop_last
# --------------------------------------------------------------------------------------------


def test_authors_order_mixes_uint8_then_normalises_then_erases_the_mixed_batch(tmp_path, no_md5):
    write_cifar10(tmp_path, per_batch=8, balanced=True)
    b = load_data("cifar10", data_root=str(tmp_path), batch_size=8, augment_order="authors")
    plain = load_data("cifar10", data_root=str(tmp_path), batch_size=8)
    u, y = next(iter(b.train))
    assert u.dtype == torch.uint8 and u.shape == (8, 3, 32, 32)  # un-normalised for training
    for split in ("val", "test"):  # evaluation stays normalised by the same normaliser
        assert all(
            torch.equal(xa, xb)
            for (xa, _), (xb, _) in zip(
                batches(getattr(b, split)), batches(getattr(plain, split)), strict=True
            )
        )
    norm = b.normalize
    y = torch.arange(8)  # distinct labels, so the soft target reveals lambda
    assert b.batch_augment(mixup=0.5).describe()["erase_prob"] == 0.25  # the CIFAR recipe
    mix = datasets.BatchAugment(10, order="authors", normalize=norm, mixup=0.5)
    x, target = mix(u.clone(), y, epoch=0, step=0, seed=3)
    lam = float(target[0, 0])
    assert torch.allclose(target[0, 7], torch.tensor(1 - lam))
    mixed = (u.float() * lam + u.flip(0).float() * (1 - lam)).round()  # whole values, as uint8
    assert torch.allclose(x, norm(mixed), atol=1e-5)
    # With erasing: one zero rectangle per sample, exactly 0 after normalisation (erased after
    # mixing), and every other pixel is a whole 0..255 value mixed before normalising.
    erase = datasets.BatchAugment(10, order="authors", normalize=norm, erase_prob=1.0, mixup=0.5)
    x, _ = erase(u.clone(), y, epoch=0, step=0, seed=3)
    std = torch.tensor(norm.std).view(3, 1, 1)
    mean = torch.tensor(norm.mean).view(3, 1, 1)
    for xi in x:
        zero = (xi == 0).all(0)
        assert zero.any()
        rows, cols = zero.nonzero().T
        box = xi[:, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert (box == 0).all()  # a rectangle
        raw = (xi * std + mean) * 255
        kept = raw[:, ~zero]
        assert torch.allclose(kept, kept.round(), atol=2e-3)


def test_batch_augment_draws_are_seeded_paired_and_hashed():
    x = torch.randn(6, 3, 8, 8)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    runs = []
    for seed in (4, 4, 5):
        aug = datasets.BatchAugment(10, mixup=0.8, cutmix=1.0, smoothing=0.1)
        torch.manual_seed(seed * 7)  # the global RNG state must not matter
        outs = [aug(x.clone(), y, epoch=1, step=s, seed=seed) for s in range(3)]
        runs.append((outs, aug.hash))
    (a, ha), (b, hb), (c, hc) = runs
    assert ha == hb and ha != hc and len(ha) == 40
    assert all(
        torch.equal(xa, xb) and torch.equal(ta, tb) for (xa, ta), (xb, tb) in zip(a, b, strict=True)
    )
    assert any(not torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))
    assert a[0][1].shape == (6, 10) and torch.allclose(a[0][1].sum(1), torch.ones(6))
    state = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    aug(x.clone(), y, epoch=0, step=0, seed=1)
    assert random.getstate() == state[0] and np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.get_rng_state(), state[2])


def test_batch_augment_switch_off_odd_batches_and_event_clips():
    aug = datasets.BatchAugment(11, mixup=0.5, cutmix=1.0, off_epoch=2, smoothing=0.1)
    x, y = torch.rand(4, 3, 2, 16, 16), torch.tensor([0, 1, 2, 3])  # [B, T, C, H, W]
    out, target = aug(x.clone(), y, epoch=1, step=0, seed=0)
    assert out.shape == x.shape and target.shape == (4, 11)
    for epoch, batch in ((2, x), (0, x[:3])):  # switched off; odd batch: timm cannot pair it
        out, target = aug(batch.clone(), y[: len(batch)], epoch=epoch, step=0, seed=0)
        assert torch.equal(out, batch) and torch.equal(target, y[: len(batch)])
    assert aug.mixing(1) and not aug.mixing(2)
    with pytest.raises(ValueError, match="only with order"):
        datasets.BatchAugment(10, order="timm", erase_prob=0.25)


def test_drop_last_drops_only_the_partial_training_batch():
    b = load_data("digits", batch_size=100, drop_last=True)
    sizes = [len(y) for _, y in b.train]
    assert sizes == [100] * (1079 // 100) and len(b.train) == 10
    assert sum(len(y) for _, y in b.val) == 359  # evaluation keeps every sample
    kept = load_data("digits", batch_size=100)
    assert [len(y) for _, y in kept.train][-1] == 1079 % 100


# --------------------------------------------------------------------------------------------
# ImageNet (ImageFolder layout, tiny JPEGs)
# --------------------------------------------------------------------------------------------

WNIDS = [f"n0000000{i}" for i in range(5)]


def eval_by_hand(path: Path, short: int, crop: int) -> torch.Tensor:
    """PIL: shorter side to `short` (bicubic), centre crop `crop`, ImageNet normalisation."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
    w, h = img.size
    size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    img = img.resize(size, Image.BICUBIC)
    left, top = int(round((size[0] - crop) / 2)), int(round((size[1] - crop) / 2))
    img = img.crop((left, top, left + crop, top + crop))
    x = torch.tensor(np.asarray(img), dtype=torch.float32).permute(2, 0, 1) / 255
    mean = torch.tensor(imagenet.IMAGENET_MEAN).view(3, 1, 1)
    return (x - mean) / torch.tensor(imagenet.IMAGENET_STD).view(3, 1, 1)


@pytest.fixture(scope="module")
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    write_imagenet(root, WNIDS, train_per_class=4, val_per_class=2)
    return root


def test_imagenet_imagefolder_splits_and_eval_transform(imagenet_root):
    b = load_data("imagenet", data_root=str(imagenet_root), batch_size=4, val_per_class=1)
    assert (b.num_classes, b.in_channels, b.img_size, b.frames) == (5, 3, 224, None)
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (15, 5, 10)
    split = json.loads(Path(b.info["split_file"]).read_text())
    assert split["classes"] == WNIDS and len(split["val_files"]) == 5
    assert all(f.startswith("train/") for f in split["val_files"])
    x, y = (torch.cat(t) for t in zip(*batches(b.test), strict=True))
    assert x.shape == (10, 3, 224, 224) and y.tolist() == [c for c in range(5) for _ in range(2)]
    # Authors' evaluation (crop_pct 1.0): shorter side to 224 bicubic, centre crop 224, normalise.
    path = imagenet_root / "imagenet" / "val" / WNIDS[0] / f"{WNIDS[0]}_0.JPEG"
    assert torch.allclose(x[0], eval_by_hand(path, 224, 224), atol=1e-5)
    standard = load_data("imagenet", data_root=str(imagenet_root), batch_size=2, recipe="standard")
    x_std, _ = next(iter(standard.test))  # timm's usual recipe: resize 256, centre crop 224
    assert torch.allclose(x_std[0], eval_by_hand(path, 256, 224), atol=1e-5)
    xt, _ = next(iter(b.train))
    assert xt.shape == (4, 3, 224, 224) and xt.dtype == torch.float32
    assert b.info["recipe"] == "authors" and "rand-m9-mstd0.5-inc1" in b.info["augmentation"]


def test_imagenet_class_subset_ddp_shards_and_authors_order(imagenet_root):
    b = load_data(
        "imagenet",
        data_root=str(imagenet_root),
        batch_size=2,
        classes=2,
        val_per_class=1,
        augment_order="authors",
    )
    split = json.loads(Path(b.info["split_file"]).read_text())
    assert b.num_classes == 2 and split["classes"] == [WNIDS[0], WNIDS[2]]  # k * 5 // 2
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (6, 2, 4)
    xt, _ = next(iter(b.train))
    assert xt.dtype == torch.uint8 and xt.shape == (2, 3, 224, 224)
    shards = [
        load_data("imagenet", data_root=str(imagenet_root), batch_size=3, world_size=2, rank=r)
        for r in range(2)
    ]
    tests = [torch.cat([y for _, y in s.test]).tolist() for s in shards]
    assert len(tests[0]) + len(tests[1]) == 10  # every test image once over the ranks
    with pytest.raises(DataError, match="imagenet100 needs 100 classes but .* has 5"):
        load_data("imagenet100", data_root=str(imagenet_root))
    with pytest.raises(DataError, match="never downloaded"):
        load_data("imagenet", data_root=str(imagenet_root / "elsewhere"))


# --------------------------------------------------------------------------------------------
# data roots laid out by tonic, spikingjelly or torchvision themselves
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["tonic", "spikingjelly"])
def test_cifar10_dvs_layouts_of_tonic_and_spikingjelly(tmp_path, layout):
    written = write_cifar10_dvs(tmp_path, per_class=10, layout=layout)
    b = load_data("cifar10_dvs", data_root=str(tmp_path), T=3, batch_size=10, augment=False)
    assert b.info["layout"] == layout
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (80, 10, 10)
    x, y = next(iter(b.test))
    ext = "npz" if layout == "spikingjelly" else "aedat4"
    for c, name in enumerate(DVS_CLASSES):
        ev = written[f"{name}/cifar10_{name}_9.{ext}"]
        assert int(y[c]) == c
        assert torch.equal(x[c], torch.from_numpy(integrate_frames(ev, 3).astype(np.float32)))
    assert Path(b.info["split_file"]) == tmp_path / "cifar10_dvs" / "split.json"


@pytest.mark.parametrize("layout", ["tonic", "spikingjelly"])
def test_dvs128_gesture_layouts_of_tonic_and_spikingjelly(tmp_path, layout):
    written = write_gesture(tmp_path, layout=layout)
    b = load_data("dvs128_gesture", data_root=str(tmp_path), T=4, batch_size=11)
    assert b.info["layout"] == layout
    assert (b.info["train_size"], b.info["val_size"], b.info["test_size"]) == (22, 11, 11)
    split = json.loads(Path(b.info["split_file"]).read_text())
    assert split["val_users"] == [3]
    x, y = next(iter(b.test))
    for xi, yi in zip(x, y, strict=True):
        expected = gesture_frames(written[f"test/user24_natural/{int(yi)}"], 4, integrate_frames)
        assert torch.equal(xi, expected)


def test_cifar10_in_torchvisions_own_root(tmp_path, no_md5):
    write_cifar10(tmp_path, own_root=True)
    b = load_data("cifar10", data_root=str(tmp_path), batch_size=8)
    assert b.info["root"] == str(tmp_path / "cifar-10-batches-py")
    assert b.info["train_size"] + b.info["val_size"] == 40


# --------------------------------------------------------------------------------------------
# self-healing frame cache, --verify
# --------------------------------------------------------------------------------------------


def test_frame_cache_changed_in_place_is_rebuilt(tmp_path, monkeypatch):
    write_cifar10_dvs(tmp_path, per_class=10)
    first = batches(load_data("cifar10_dvs", data_root=str(tmp_path), T=2, batch_size=10).test)
    cache = sorted((tmp_path / "cifar10_dvs" / "frames_T2_number").glob("*.npy"))
    assert len(cache) == 10 and all(p.with_name(p.name + ".sha1").is_file() for p in cache)
    victim = cache[3]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF  # one count changed, same size: only the checksum can tell
    victim.write_bytes(bytes(data))
    calls = []
    original = events.EventFrames.integrate

    def counting(self, index):
        calls.append(self.sources[index].name)
        return original(self, index)

    monkeypatch.setattr(events.EventFrames, "integrate", counting)
    again = batches(load_data("cifar10_dvs", data_root=str(tmp_path), T=2, batch_size=10).test)
    assert len(calls) == 1 and calls[0] in victim.name  # only the changed entry
    assert torch.equal(first[0][0], again[0][0])  # the rebuilt entry gives the true frames
    assert victim.read_bytes() != bytes(data)  # and the cache file is healed


def test_verify_names_the_corrupt_recording(tmp_path, capsys):
    write_cifar10_dvs(tmp_path, per_class=3)
    root = f"data_root={tmp_path}"
    assert data_main(["cifar10_dvs", root, "T=2", "--verify"]) == 0
    assert "verified 30 files: 0 corrupt" in capsys.readouterr().out
    bad = tmp_path / "cifar10_dvs" / "CIFAR10DVS" / "dog" / "cifar10_dog_1.aedat4"
    bad.write_bytes(bad.read_bytes()[:-40])
    assert data_main(["cifar10_dvs", root, "T=2", "--verify", "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["corrupt"] == [str(bad)]
    assert "cifar10_dog_1.aedat4 is corrupt or truncated" in out.err


def test_verify_names_a_corrupt_image(imagenet_root, tmp_path, capsys):
    import shutil

    shutil.copytree(imagenet_root / "imagenet", tmp_path / "imagenet")
    bad = tmp_path / "imagenet" / "train" / WNIDS[1] / f"{WNIDS[1]}_2.JPEG"
    bad.write_bytes(bad.read_bytes()[:200])
    assert data_main(["imagenet", f"data_root={tmp_path}", "val_per_class=1", "--verify"]) == 1
    out = capsys.readouterr()
    assert "verified 30 files: 1 corrupt" in out.out and f"{bad.name} is corrupt" in out.err


def test_cli_checks_keys_and_values(capsys):
    assert data_main(["digits", "batch_size=abc"]) == 2
    assert "batch_size=abc is not an integer" in capsys.readouterr().err
    assert data_main(["digits", "method=time"]) == 2  # an option of the event datasets only
    assert "key one of" in capsys.readouterr().err
    assert data_main(["imagenet", "classes=ten"]) == 2  # a dataset option, typed too
    assert "classes=ten is not an integer" in capsys.readouterr().err
    assert data_main(["digitz"]) == 2
    assert "Did you mean 'digits'" in capsys.readouterr().err
