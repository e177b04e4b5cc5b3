"""Keras utilities: to_categorical, set_random_seed, clear_session."""

import numpy as np

from bnlab.keras import random_state


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode class indices: (n,) -> (n, num_classes), float32 by default.

    A trailing dimension of 1 is squeezed first, as Keras does: (n, 1) -> (n, num_classes).
    """
    y = np.asarray(y)
    if y.ndim and y.shape[-1] == 1 and y.ndim > 1:
        y = y.reshape(y.shape[:-1])
    if y.size and not np.issubdtype(y.dtype, np.integer) and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
        raise ValueError("y: to_categorical needs whole-number class indices")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"y: class indices must be >= 0, found {y.min()}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f"y: class index {y.max()} is out of range for num_classes={num_classes}")
    out = np.zeros((*y.shape, num_classes), dtype=dtype)
    if y.size:
        np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def set_random_seed(seed):
    """Seed every random choice bnlab.keras makes: initial weights, shuffling and dropout masks.

    Two CPU runs with the same seed, data and code then give bit-identical weights and History.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random_state.seed(int(seed))
    np.random.seed(int(seed) % 2**32)


def clear_session():
    """Reset automatic layer names (dense, dense_1, ...)."""
    from bnlab.keras.layers.base import reset_names

    reset_names()
