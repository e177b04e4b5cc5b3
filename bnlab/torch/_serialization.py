"""``torch.save`` / ``torch.load`` for bnlab objects (state dicts, tensors, models) with Python's pickle.

The file format is a plain pickle, not PyTorch's zip archive: files written here are read by bnlab, not by
PyTorch (to move weights into PyTorch, pass ``model.state_dict()`` values through NumPy). Tensors pickle as
their data, dtype, device and ``requires_grad``; ``load(f, map_location=...)`` rebuilds them on another device.
As with any pickle, load only files you trust.
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
    """Read an object written by ``save``. ``map_location`` (a device, ``'cpu'``, ``'cuda'``, or a dict from saved
    locations to devices such as ``{'cuda:0': 'cpu'}``) says where its tensors are rebuilt: each is created
    there directly, so a file saved on a GPU loads on a machine without one."""
    where = _placement(map_location)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as src:
            return _Unpickler(src, where).load()
    return _Unpickler(f, where).load()


def _placement(map_location):
    """A function from a saved device string ("cpu", "cuda:0") to the device to rebuild on; None keeps it."""
    from ._types import CUDA, as_device, device

    def norm(d) -> str:
        d = as_device(d)
        return str(CUDA if d.type == "cuda" and d.index is None else d)

    if map_location is None:
        return None
    if isinstance(map_location, dict):
        table = {norm(k): norm(v) for k, v in map_location.items()}
        return lambda saved: table.get(norm(saved), saved)
    if isinstance(map_location, (str, device)):
        target = norm(map_location)
        return lambda saved: target
    raise TypeError(
        f"bnlab.torch.load: map_location must be a device, a device string or a dict of them, got "
        f"{type(map_location).__name__}"
    )


class _Unpickler(pickle.Unpickler):
    """A pickle reader that rebuilds tensors on the device ``where`` maps their saved device to."""

    def __init__(self, file, where) -> None:
        super().__init__(file)
        self._where = where

    def find_class(self, module: str, name: str):
        from .tensor import _rebuild

        found = super().find_class(module, name)
        where = self._where
        if where is None or found is not _rebuild:
            return found
        return lambda array, dtype_name, device, requires_grad: _rebuild(
            array, dtype_name, where(device), requires_grad
        )
