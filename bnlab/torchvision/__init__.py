"""``bnlab.torchvision``: torchvision's ``datasets`` (MNIST, FashionMNIST, CIFAR10) and ``transforms``
(ToTensor, Normalize, Compose, Lambda, Resize, Pad, CenterCrop, RandomCrop, RandomHorizontalFlip) for
``bnlab.torch``, without PIL (Pillow images are taken when the user has them) and offline first.

``import bnlab.torchvision as torchvision`` then ``torchvision.datasets.MNIST(root='./data', train=True,
transform=torchvision.transforms.ToTensor(), download=True)``, or
``from bnlab.torchvision import datasets, transforms``.
"""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
