"""``torchvision.datasets``: ``MNIST``, ``FashionMNIST`` and ``CIFAR10``, offline first.

Each takes ``(root, train=True, transform=None, target_transform=None, download=False)``. Files are looked
for in torchvision's layout under ``root`` first:

    root/MNIST/raw/train-images-idx3-ubyte[.gz] (and the other three IDX files)
    root/FashionMNIST/raw/...
    root/cifar-10-batches-py/data_batch_1..5, test_batch

then wherever ``bnlab.datasets`` looks: ``$BNLAB_DATA_DIR`` (default ``~/.bnlab/datasets``), Keras's cache,
and the system's copies (Debian's ``/usr/share/datasets/fashion-mnist``). With ``download=True`` a missing
dataset is downloaded (verified) into ``$BNLAB_DATA_DIR``; nothing is fetched when a copy is found.

``dataset[i]`` is ``(image, target)`` as in torchvision: an :class:`~bnlab.torchvision.transforms.ImageArray`
(uint8, PIL's role) passed through ``transform``, and an int passed through ``target_transform``. The
``DataLoader`` gathers whole batches instead when the transform is ``ToTensor``/``Normalize`` and there is no
target transform (see ``_fetch_batch``), with identical results.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np

from .. import datasets as _datasets
from ..datasets import read_idx_images, read_idx_labels
from ..torch.tensor import host
from ..torch.utils.data import Dataset
from .transforms import ImageArray, apply_batch, batch_plan

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "VisionDataset"]


class VisionDataset(Dataset):
    """What the image datasets share: the ``root``, the transforms, ``__getitem__`` and the batched gather.
    Subclasses set ``_images`` (uint8, (N, H, W) or (N, H, W, C)) and ``_labels`` (int64, (N,))."""

    _images: np.ndarray
    _labels: np.ndarray

    def __init__(self, root, transform=None, target_transform=None) -> None:
        if isinstance(root, (str, os.PathLike)):
            root = os.path.expanduser(root)
        self.root = root
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int):
        img, target = ImageArray(self._images[index]), int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def _fetch_batch(self):
        """The DataLoader's batched gather, when the transforms allow it (else None: sample by sample)."""
        plan = batch_plan(self.transform) if self.transform is not None else None
        if plan is None or self.target_transform is not None:
            return None
        return lambda idx: (apply_batch(plan, np.take(self._images, idx, axis=0)), host(self._labels[idx]))

    def _split_name(self) -> str:
        return "Train" if self.train else "Test"

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines.append(f"    Root location: {self.root}")
        lines.append(f"    Split: {self._split_name()}")
        if self.transform is not None:
            body = repr(self.transform).replace("\n", "\n" + " " * 27)
            lines.append(f"    StandardTransform\nTransform: {body}")
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        return "\n".join(lines)


def _idx_file(folder: Path, name: str) -> Path | None:
    """``folder/name``, uncompressed preferred (torchvision keeps both forms), else ``name.gz``."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


class MNIST(VisionDataset):
    """MNIST handwritten digits: 60,000 training / 10,000 test images, 28x28 grayscale, classes 0-9.

    ``data`` is a uint8 tensor (N, 28, 28) and ``targets`` an int64 tensor (N,), as in torchvision."""

    classes: ClassVar[list[str]] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]
    _module = _datasets.mnist

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False):
        super().__init__(root, transform, target_transform)
        self.train = train
        images, labels = self._load(download)
        self._images = images
        self._labels = labels.astype(np.int64)

    @property
    def data(self):
        """The images, a uint8 tensor (N, H, W) sharing memory with the dataset (assignable, e.g. a slice)."""
        return host(self._images)

    @data.setter
    def data(self, value) -> None:
        self._images = np.asarray(value._np() if hasattr(value, "_np") else value, dtype=np.uint8)

    @property
    def targets(self):
        """The labels, an int64 tensor (N,) (assignable)."""
        return host(self._labels)

    @targets.setter
    def targets(self, value) -> None:
        self._labels = np.asarray(value._np() if hasattr(value, "_np") else value, dtype=np.int64).reshape(-1)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def _load(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        prefix = "train" if self.train else "t10k"
        raw = Path(self.raw_folder)
        images = _idx_file(raw, f"{prefix}-images-idx3-ubyte")
        labels = _idx_file(raw, f"{prefix}-labels-idx1-ubyte")
        if images is not None and labels is not None:  # torchvision's layout under root: read this split only
            x = read_idx_images(images)
            return x, read_idx_labels(labels, len(x))
        train, test = self._module.load_data(path=raw, download=download)
        return train if self.train else test


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): MNIST's shapes with 10 kinds of clothing."""

    classes: ClassVar[list[str]] = list(_datasets.fashion_mnist.CLASS_NAMES)
    _module = _datasets.fashion_mnist


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training / 10,000 test colour images, 32x32x3, 10 classes.

    As in torchvision, ``data`` is a uint8 NumPy array (N, 32, 32, 3) and ``targets`` a list of ints."""

    classes: ClassVar[list[str]] = [
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
    ]
    base_folder = "cifar-10-batches-py"

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False):
        super().__init__(root, transform, target_transform)
        self.train = train
        # root/cifar-10-batches-py (torchvision's layout) or root's archive first, then bnlab's search
        train_split, test_split = _datasets.cifar10.load_data(path=self.root, download=download)
        images, labels = train_split if train else test_split
        self._images = images
        self._labels = labels.reshape(-1).astype(np.int64)

    @property
    def data(self) -> np.ndarray:
        """The images, a uint8 NumPy array (N, 32, 32, 3), as torchvision keeps them (assignable)."""
        return self._images

    @data.setter
    def data(self, value) -> None:
        self._images = np.asarray(value, dtype=np.uint8)

    @property
    def targets(self) -> list[int]:
        """The labels as a list of ints, as torchvision keeps them (assignable)."""
        return self._labels.tolist()

    @targets.setter
    def targets(self, value) -> None:
        self._labels = np.asarray(value, dtype=np.int64).reshape(-1)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}
