"""bnlab.torch.utils.data: TensorDataset, DataLoader (lengths, shuffling, drop_last, generators), the batched
fast path (no per-sample work, same batches as the per-sample path), default_collate, Subset and
random_split; and the import forms the seeds use.
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as torch_api
from bnlab.torch.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def make_dataset(n: int = 103):
    x = np.arange(n * 6, dtype=np.float32).reshape(n, 1, 2, 3)
    y = np.arange(n) % 10
    return TensorDataset(torch_api.tensor(x), torch_api.tensor(y)), x, y


def test_seed_import_forms():
    import bnlab.torch as torch
    import bnlab.torch.nn as nn

    assert torch.utils.data.DataLoader is DataLoader and nn.Linear is torch.nn.Linear
    assert torch.optim.Adam is not None and torch.nn.functional.relu is torch.relu


def test_lengths_order_and_drop_last():
    ds, x, _ = make_dataset()
    assert len(ds) == 103
    loader = DataLoader(ds, batch_size=10)
    assert len(loader) == 11 and len(DataLoader(ds, batch_size=10, drop_last=True)) == 10
    batches = list(loader)
    assert [len(labels) for _, labels in batches] == [10] * 10 + [3]
    images = np.concatenate([b.numpy() for b, _ in batches])
    np.testing.assert_array_equal(images, x)
    assert batches[0][0].dtype is torch_api.float32 and batches[0][1].dtype is torch_api.int64
    assert len(list(DataLoader(ds, batch_size=10, drop_last=True))) == 10


def test_shuffle_visits_every_sample_once_and_follows_the_generator():
    ds, _, y = make_dataset()

    def epoch(loader):
        batches = list(loader)
        labels = np.concatenate([labels.numpy() for _, labels in batches])
        return labels, np.concatenate([images.numpy()[:, 0, 0, 0] for images, _ in batches])

    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=torch_api.Generator().manual_seed(7))
    labels, firsts = epoch(loader)
    assert sorted(firsts.tolist()) == [6.0 * i for i in range(103)]
    np.testing.assert_array_equal(labels, y[(firsts / 6).astype(int)])  # images and labels stay paired
    again, _ = epoch(DataLoader(ds, batch_size=16, shuffle=True, generator=torch_api.Generator().manual_seed(7)))
    np.testing.assert_array_equal(labels, again)
    assert not np.array_equal(epoch(loader)[1], firsts)  # a new permutation each epoch
    torch_api.manual_seed(3)
    a = epoch(DataLoader(ds, batch_size=16, shuffle=True))[1]
    torch_api.manual_seed(3)
    np.testing.assert_array_equal(a, epoch(DataLoader(ds, batch_size=16, shuffle=True))[1])


def test_in_memory_datasets_take_the_batched_path_without_per_sample_work():
    class Strict(TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("per-sample access during a batched epoch")

    ds, x, _ = make_dataset()
    strict = Strict(*ds.tensors)
    images = np.concatenate([b.numpy() for b, _ in DataLoader(strict, batch_size=32)])
    np.testing.assert_array_equal(images, x)
    sub = Subset(strict, [5, 1, 9])
    np.testing.assert_array_equal(next(iter(DataLoader(sub, batch_size=3)))[0].numpy(), x[[5, 1, 9]])


def test_custom_dataset_and_default_collate():
    class Pairs(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return torch_api.full((2,), float(i)), i, {"id": i, "w": 0.5}

    images, labels, extra = next(iter(DataLoader(Pairs(), batch_size=4)))
    assert images.shape == torch_api.Size([4, 2]) and labels.tolist() == [0, 1, 2, 3]
    assert extra["id"].dtype is torch_api.int64 and extra["w"].dtype is torch_api.float32
    assert len(DataLoader(Pairs(), batch_size=4)) == 2
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object()])


def test_random_split_and_errors():
    ds, _, _ = make_dataset(100)
    parts = random_split(ds, [0.8, 0.2], generator=torch_api.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [80, 20]
    assert not set(parts[0].indices.tolist()) & set(parts[1].indices.tolist())
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [50, 20])
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(torch_api.zeros(3, 2), torch_api.zeros(4))
