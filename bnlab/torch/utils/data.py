"""``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split`` and ``DataLoader``.

``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, generator=None)`` yields batches, e.g.
``(images, labels)``; ``len(loader)`` is the number of batches (ceil(n / batch_size), or floor with
``drop_last``). With ``shuffle=True`` each epoch draws a new permutation from ``generator`` (the default
generator when None, so ``torch.manual_seed`` makes epochs reproducible).

Two paths produce a batch:

* the batched fast path: a dataset that can gather many samples at once (``TensorDataset``, ``Subset`` of
  one, and bnlab.torchvision's datasets when their transform is ``ToTensor``/``Normalize``) is indexed with
  the batch's index array in one NumPy gather, so an epoch over 60,000 images does no per-sample Python
  work;
* otherwise, as PyTorch does: ``dataset[i]`` for each index, then ``collate_fn`` (default: stack tensors,
  arrays and numbers into batch tensors, recursively through tuples, lists and dicts).

Loading runs in the calling process: ``num_workers`` and ``pin_memory`` are accepted and have no effect.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ... import _core
from .._random import rng_of
from .._shape import stack
from ..tensor import Tensor, host, wrap

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]

_T = _core.tensor_ops


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


def take_rows(t: Tensor, idx: np.ndarray) -> Tensor:
    """Rows ``idx`` of ``t`` as a new tensor: one gather (the engine's row copy for float32 tensors)."""
    if t._c is None:
        return host(np.take(t._a, idx, axis=0), t.device)
    out = _core.Tensor()
    _T.gather_rows(out, t._c, idx)  # host indices on every device
    return wrap(out, t.device)


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: ``TensorDataset(x, y)[i] == (x[i], y[i])``."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        if any(not isinstance(t, Tensor) for t in tensors):
            raise TypeError("TensorDataset takes bnlab.torch tensors")
        if any(t.dim() == 0 or t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _fetch_batch(self, idx: np.ndarray):
        return tuple(take_rows(t, idx) for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return [self.dataset[int(self.indices[i])] for i in idx]
        return self.dataset[int(self.indices[idx])]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def _fetch_batch(self):
        base = batch_fetcher(self.dataset)
        return None if base is None else (lambda idx: base(self.indices[idx]))


def batch_fetcher(dataset):
    """The dataset's batched gather (``idx -> batch``), or None when it has to be read sample by sample."""
    return getattr(dataset, "_fetch_batch", None)


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths (ints, or fractions summing to 1)."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = rng_of(generator).permutation(n)
    bounds = np.cumsum([0, *lengths])
    return [Subset(dataset, perm[bounds[i] : bounds[i + 1]]) for i in range(len(lengths))]


def default_collate(batch):
    """Stack a list of samples into a batch: tensors and arrays are stacked along a new first dimension,
    ints become int64 tensors, floats float32 tensors; tuples, lists and dicts are collated field by field."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        return host(np.stack(batch))
    if isinstance(elem, bool):
        return host(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return host(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return host(np.asarray(batch, dtype=np.float32))
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, dict):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, (tuple, list)):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch, strict=True)]
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found "
        f"{type(elem)} (give the dataset a transform such as transforms.ToTensor())"
    )


class DataLoader:
    """Iterate over ``dataset`` in batches; see the module docstring."""

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers: bool = False,
    ) -> None:
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0
        ):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            raise NotImplementedError("bnlab.torch DataLoader does not take a batch_sampler; use batch_size")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader needs a map-style dataset (with __getitem__ and __len__), got {type(dataset).__name__}"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        n = len(self.dataset)
        return rng_of(self.generator).permutation(n) if self.shuffle else np.arange(n, dtype=np.int64)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        fetch = batch_fetcher(self.dataset) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        bs, n = self.batch_size, len(order)
        stop = n - n % bs if self.drop_last else n
        for start in range(0, stop, bs):
            idx = order[start : start + bs]
            if fetch is not None:
                yield fetch(idx)
            else:
                yield collate([self.dataset[int(i)] for i in idx])
