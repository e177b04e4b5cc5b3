"""bnlab.torchvision: datasets (MNIST, FashionMNIST, CIFAR10) in torchvision's layout, transforms, and the
DataLoader's batched fast path (identical to the per-sample path).

Also home of the learnable full-size synthetic MNIST (``synthetic_mnist``) that the seed tests train on: real
MNIST is not available offline. Each class is a fixed pattern of three Gaussian blobs; a sample is its class
pattern shifted by 0-4 pixels, scaled in intensity and covered with noise, so a small network reaches a
meaningful (high, but not perfect) accuracy.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

import bnlab.torch as bt
from bnlab.torch.utils.data import DataLoader
from bnlab.torchvision import datasets, transforms

IDX_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def synthetic_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (n, 28, 28) and labels (n,): class blobs, shifted, scaled and noisy."""
    rng = np.random.default_rng(seed)
    patterns = np.zeros((10, 32, 32), np.float32)
    pattern_rng = np.random.default_rng(1234)  # the same class patterns for every split
    yy, xx = np.mgrid[0:32, 0:32]
    for c in range(10):
        for _ in range(3):
            cy, cx = pattern_rng.uniform(8, 24, 2)
            s = pattern_rng.uniform(1.5, 3.5)
            patterns[c] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    patterns = np.clip(patterns, 0, 1)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    dy, dx = rng.integers(0, 5, n), rng.integers(0, 5, n)
    images = np.empty((n, 28, 28), np.float32)
    for c in range(10):
        for oy in range(5):
            for ox in range(5):
                sel = np.nonzero((labels == c) & (dy == oy) & (dx == ox))[0]
                images[sel] = patterns[c, oy : oy + 28, ox : ox + 28]
    images *= rng.uniform(0.3, 1.0, (n, 1, 1)).astype(np.float32)
    images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(0.5)
    return (np.clip(images, 0, 1) * 255).astype(np.uint8), labels


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file of unsigned bytes: magic 0x0000 08 <ndim>, big-endian dims, data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist_raw(raw: Path, train: int = 60000, test: int = 10000) -> Path:
    """Write synthetic MNIST IDX files into ``raw`` (torchvision's ``root/MNIST/raw``); returns ``raw``."""
    raw.mkdir(parents=True, exist_ok=True)
    for is_train, (count, seed) in {True: (train, 1), False: (test, 2)}.items():
        images, labels = synthetic_mnist(count, seed)
        write_idx(raw / IDX_NAMES[is_train][0], images)
        write_idx(raw / IDX_NAMES[is_train][1], labels)
    return raw


def full_size_mnist_raw(tmp_path_factory) -> Path:
    """Full-size synthetic MNIST (60000 + 10000), written once per test session and shared."""
    raw = tmp_path_factory.getbasetemp() / "synthetic_mnist_full" / "MNIST" / "raw"
    done = raw / "complete"
    if not done.exists():
        write_mnist_raw(raw)
        done.touch()
    return raw


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """No test may find (or download into) the user's datasets."""
    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path / "bnlab-data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


@pytest.fixture
def small_root(tmp_path) -> Path:
    """A torchvision root with a small synthetic MNIST (300 train, 100 test) under root/MNIST/raw."""
    write_mnist_raw(tmp_path / "root" / "MNIST" / "raw", train=300, test=100)
    return tmp_path / "root"


def test_mnist_reads_torchvision_layout_and_samples_like_torchvision(small_root):
    train = datasets.MNIST(root=str(small_root), train=True, download=True)
    test = datasets.MNIST(root=str(small_root), train=False)
    assert len(train) == 300 and len(test) == 100
    images, labels = synthetic_mnist(300, 1)
    img, target = train[7]
    assert isinstance(target, int) and target == labels[7]
    assert img.size == (28, 28) and img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), images[7])
    assert train.data.dtype is bt.uint8 and tuple(train.data.shape) == (300, 28, 28)
    assert train.targets.dtype is bt.int64
    assert "Number of datapoints: 300" in repr(train) and "Split: Train" in repr(train)


def test_gzipped_files_and_fashion_mnist_layout(tmp_path):
    import gzip

    raw = write_mnist_raw(tmp_path / "FashionMNIST" / "raw", train=50, test=20)
    for name in os.listdir(raw):
        (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes()))
        (raw / name).unlink()
    ds = datasets.FashionMNIST(root=tmp_path, train=False, transform=transforms.ToTensor())
    x, y = ds[3]
    assert x.shape == bt.Size([1, 28, 28]) and x.dtype is bt.float32 and 0 <= y < 10
    assert ds.classes[0] == "T-shirt/top"


def test_missing_dataset_without_download_names_the_places_searched(tmp_path):
    from bnlab.datasets import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="MNIST"):
        datasets.MNIST(root=tmp_path / "nowhere", train=True, download=False)


def test_falls_back_to_the_bnlab_data_directory(tmp_path, tmp_path_factory):
    (tmp_path / "bnlab-data").mkdir()
    (tmp_path / "bnlab-data" / "mnist").symlink_to(full_size_mnist_raw(tmp_path_factory))
    ds = datasets.MNIST(root=tmp_path / "empty-root", train=False, download=False)
    assert len(ds) == 10000 and ds[0][1] == synthetic_mnist(10000, 2)[1][0]


def test_cifar10_reads_the_python_batches_folder(tmp_path):
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, (10000, 3072), dtype=np.uint8)
        batch = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, 10000).tolist(),
            b"data": data,
            b"filenames": [b"x.png"] * 10000,
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"] * 10}))
    ds = datasets.CIFAR10(root=tmp_path, train=False, transform=transforms.ToTensor())
    x, _ = ds[5]
    assert x.shape == bt.Size([3, 32, 32]) and len(ds) == 10000 and isinstance(ds.targets, list)
    expected = ds.data[5].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(x.numpy(), expected)


def test_to_tensor_and_normalize_match_torchvision_formulas():
    img = transforms.ImageArray(np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20)
    x = transforms.ToTensor()(img)
    expected = np.transpose(np.asarray(img), (2, 0, 1)).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(x.numpy(), expected)
    norm = transforms.Normalize((0.5, 0.4, 0.3), (0.2, 0.2, 0.25))
    y = norm(x)
    mean = np.array([0.5, 0.4, 0.3], np.float32)[:, None, None]
    std = np.array([0.2, 0.2, 0.25], np.float32)[:, None, None]
    np.testing.assert_array_equal(y.numpy(), (expected - mean) / std)
    assert repr(norm) == "Normalize(mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.25))"
    with pytest.raises(ValueError, match="division by zero"):
        transforms.Normalize((0.5,), (0.0,))
    assert transforms.Lambda(lambda t: t * 2)(3) == 6
    gray = transforms.ToTensor()(transforms.ImageArray(np.zeros((5, 4), np.uint8)))
    assert gray.shape == bt.Size([1, 5, 4])


@pytest.mark.parametrize("shuffle", [False, True])
def test_batched_fast_path_equals_the_per_sample_path(small_root, shuffle):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    ds = datasets.MNIST(root=small_root, train=True, transform=tf)
    assert ds._fetch_batch is not None
    fast = DataLoader(ds, batch_size=64, shuffle=shuffle, generator=bt.Generator().manual_seed(3))
    slow = DataLoader(
        ds,
        batch_size=64,
        shuffle=shuffle,
        generator=bt.Generator().manual_seed(3),
        collate_fn=lambda samples: [bt.stack([s[0] for s in samples]), bt.tensor([s[1] for s in samples])],
    )
    assert len(fast) == len(slow) == 5
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert xf.dtype is bt.float32 and yf.dtype is bt.int64 and xf.shape[1:] == bt.Size([1, 28, 28])
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_a_lambda_transform_takes_the_per_sample_path(small_root):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t.view(-1))])
    ds = datasets.MNIST(root=small_root, train=False, transform=tf)
    assert ds._fetch_batch is None
    x, y = next(iter(DataLoader(ds, batch_size=10)))
    assert x.shape == bt.Size([10, 784]) and y.shape == bt.Size([10])


def test_drop_last_and_lengths(small_root):
    ds = datasets.MNIST(root=small_root, train=False, transform=transforms.ToTensor())
    assert len(DataLoader(ds, batch_size=64)) == 2
    assert len(DataLoader(ds, batch_size=64, drop_last=True)) == 1
    assert [len(y) for _, y in DataLoader(ds, batch_size=64)] == [64, 36]
