"""bnlab: learn, teach and measure batch normalization.

A C++ engine (``bnlab._core``) with two familiar faces on top:

* ``bnlab.keras`` — the tf.keras API (``import bnlab as tf`` gives ``tf.keras`` and ``tf.data``), and
  ``bnlab.tf``, TensorFlow's core (``tf.constant``, ``tf.Variable``, ``tf.GradientTape``..., at the top level);
* ``bnlab.torch`` / ``bnlab.torchvision`` — the PyTorch API;

plus ``bnlab.data`` (a tf.data-style Dataset), ``bnlab.datasets`` (offline-first MNIST, Fashion-MNIST and
CIFAR-10 loaders) and ``bnlab.lab`` (BN-versus-no-BN experiments and reports, ``bnlab compare``).
Subpackages load on first use, so ``import bnlab`` is cheap.
"""

import importlib

from bnlab import data  # light (NumPy only)

__version__ = "0.1.0"

# tf.data.experimental lives in the TF core, which sits above bnlab.data: wired here, loaded on first use
data.experimental_loader = lambda: importlib.import_module("bnlab.tf.data_experimental")

_SUBPACKAGES = ("keras", "data", "datasets", "torch", "torchvision", "lab", "config")


# Functions exported at the top level, loaded on first use: name -> module.
_FUNCTIONS = {"fold_batchnorm": "bnlab.keras.folding"}


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"bnlab.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    if not name.startswith("_"):  # TensorFlow's core names (tf.constant, tf.GradientTape...): bnlab.tf
        core = importlib.import_module("bnlab.tf")
        if name in core.__all__:
            return getattr(core, name)
    raise AttributeError(f"module 'bnlab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES, *_FUNCTIONS])
