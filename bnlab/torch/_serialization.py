"""``torch.save`` / ``torch.load`` for bnlab objects (state dicts, tensors, models) with Python's pickle.

The file format is a plain pickle, not PyTorch's zip archive: files written here are read by bnlab, not by
PyTorch (to move weights into PyTorch, pass ``model.state_dict()`` values through NumPy). Tensors pickle as
their data, dtype, device and ``requires_grad``. As with any pickle, load only files you trust.
"""

from __future__ import annotations

import os
import pickle

__all__ = ["load", "save"]


def save(obj, f) -> None:
    """Write ``obj`` to ``f`` (a path or a binary file object)."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as out:
            pickle.dump(obj, out, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def load(f, map_location=None, weights_only=None):
    """Read an object written by ``save``; tensors are moved to ``map_location`` when given."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as src:
            obj = pickle.load(src)
    else:
        obj = pickle.load(f)
    if map_location is not None:
        obj = _move(obj, map_location)
    return obj


def _move(obj, device):
    from .tensor import Tensor

    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((k, _move(v, device)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(v, device) for v in obj)
    return obj
