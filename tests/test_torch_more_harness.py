"""The comparison the tests/test_torch_more_*.py files share: run one call in bnlab.torch and in PyTorch on the
same data, compare every output (dtype, shape, values; named tuples field by field; Python values as they are),
then, where the outputs require grad, backpropagate the same random cotangents through both and compare the
inputs' gradients. Skipped without torch.

Tolerance: both compute in float32; the host ops use NumPy's float32 kernels (or float64 rounded once) where
PyTorch uses its own, so values agree to a few ulp: rtol 1e-5 relative to each element (atol 1e-6 for values
near 0) unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bnlab.torch as bt  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6


def lib_inputs(lib, inputs, grad: bool):
    """NumPy arrays as tensors of ``lib`` (float32 ones requiring grad when ``grad``); other values as given."""
    out = []
    for a in inputs:
        if isinstance(a, np.ndarray):
            t = lib.tensor(a)
            if grad and a.dtype == np.float32:
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def leaves(out) -> list:
    """The tensors and plain values of an op's result, in order (tuples and named tuples flattened)."""
    if isinstance(out, (tuple, list)):
        items = []
        for x in out:
            items.extend(leaves(x))
        return items
    return [out]


def assert_same(ours, theirs, rtol=RTOL, atol=ATOL, what=""):
    """One output of each library: same type of thing, dtype, shape and values (nan where PyTorch has nan)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, bt.Tensor), (what, type(ours))
        assert str(ours.dtype) == str(theirs.dtype), (what, ours.dtype, theirs.dtype)
        assert tuple(ours.shape) == tuple(theirs.shape), (what, ours.shape, theirs.shape)
        x, y = ours.detach().cpu().numpy(), theirs.detach().numpy()
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(x, y, err_msg=what)
    elif isinstance(theirs, torch.Size):
        assert tuple(ours) == tuple(theirs) and type(ours).__name__ == "Size", (what, ours, theirs)
    elif isinstance(theirs, torch.dtype):
        assert str(ours) == str(theirs), (what, ours, theirs)
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=rtol, abs=atol, nan_ok=True), (what, ours, theirs)
    else:
        assert type(ours) is type(theirs) and ours == theirs, (what, ours, theirs)


def check(fn, *inputs, grad: bool = True, rtol=RTOL, atol=ATOL, grad_rtol=None, seed: int = 0):
    """``fn(lib, *tensors)`` in both libraries on the same inputs: outputs, then gradients (see the docstring)."""
    ins_b, ins_t = lib_inputs(bt, inputs, grad), lib_inputs(torch, inputs, grad)
    ours, theirs = fn(bt, *ins_b), fn(torch, *ins_t)
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), (ours, theirs)
        if hasattr(theirs, "_fields"):
            assert tuple(ours._fields) == tuple(theirs._fields)
    ob, ot = leaves(ours), leaves(theirs)
    assert len(ob) == len(ot)
    for i, (x, y) in enumerate(zip(ob, ot, strict=True)):
        assert_same(x, y, rtol, atol, what=f"output {i}")
    if not grad:
        return ours
    rng = np.random.default_rng(seed)
    loss_b, loss_t = [], []
    for x, y in zip(ob, ot, strict=True):
        if isinstance(y, torch.Tensor) and y.requires_grad:
            assert x.requires_grad, "PyTorch's output requires grad, bnlab's does not"
            g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
            loss_b.append((x * bt.tensor(g)).sum())
            loss_t.append((y * torch.tensor(g)).sum())
        elif isinstance(x, bt.Tensor):
            assert not x.requires_grad, "bnlab's output requires grad, PyTorch's does not"
    if not loss_t:
        return ours
    sum(loss_b).backward()
    sum(loss_t).backward()
    for i, (x, y) in enumerate(zip(ins_b, ins_t, strict=True)):
        if isinstance(y, torch.Tensor) and y.requires_grad:
            if y.grad is None:
                assert x.grad is None or not np.any(x.grad.numpy()), f"input {i}: PyTorch has no gradient"
                continue
            assert x.grad is not None, f"input {i}: bnlab has no gradient"
            np.testing.assert_allclose(
                x.grad.numpy(),
                y.grad.numpy(force=True),
                rtol=grad_rtol or rtol * 10,
                atol=atol * 10,
                err_msg=f"grad {i}",
            )
    return ours


def check_inplace(name, x, *args, rtol=RTOL, atol=ATOL, graph: bool = True, **kwargs):
    """``t.<name>(*args)`` in place, in both libraries: on a plain tensor (returns the tensor itself, values as
    PyTorch's), and on a tensor in the graph (the gradient through the in-place op as PyTorch's)."""

    def lib_args(lib):
        return [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]

    for lib in (bt, torch):
        t = lib.tensor(x)
        assert getattr(t, name)(*lib_args(lib), **kwargs) is t
    plain_b, plain_t = bt.tensor(x), torch.tensor(x)
    getattr(plain_b, name)(*lib_args(bt), **kwargs)
    getattr(plain_t, name)(*lib_args(torch), **kwargs)
    assert_same(plain_b, plain_t, rtol, atol, what=name)
    if x.dtype != np.float32 or not graph:
        return

    def in_graph(lib, leaf):
        h = leaf * 1
        getattr(h, name)(*lib_args(lib), **kwargs)
        return h

    check(in_graph, x, rtol=rtol, atol=atol)


def test_the_harness_compares_values_dtypes_and_gradients():
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    check(lambda lib, t: (t * 2).sum(0), x)
    with pytest.raises(AssertionError):
        check(lambda lib, t: t * 2 if lib is bt else t * 3, x)
    with pytest.raises(AssertionError):
        check(lambda lib, t: t.sum(0) if lib is bt else t.sum(0).long(), x, grad=False)
