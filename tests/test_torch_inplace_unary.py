"""The in-place elementwise methods (``t.exp_()``, ``t.sigmoid_()``, ``t.floor_()``...) against PyTorch: the value
written into the tensor's own memory, the tensor returned, its version, the gradient through a chain in the
graph, and the integer-tensor error.

Tolerance: each is one float32 function evaluation, within 3 ulp of PyTorch's (glibc's at most 2 ulp against
SLEEF's 1; tests/test_torch_math_functions.py); the gradient is one more product: 8 ulp (as there).
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt

torch = pytest.importorskip("torch")

NAMES = ["neg", "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "sin", "cos", "tan", "sinh", "cosh", "log2",
         "log10", "log1p", "expm1", "floor", "ceil", "trunc", "round"]  # fmt: skip
X = np.random.default_rng(2).uniform(0.1, 1.4, (5, 4)).astype(np.float32)  # inside every function's domain


def ulps(a, b):
    scale = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(np.float32))
    return np.abs(a.astype(np.float64) - b) / scale


@pytest.mark.parametrize("name", NAMES)
def test_inplace_method_matches_pytorch(name):
    t = bt.tensor(X)
    view = t.numpy()  # the tensor's own memory
    assert getattr(t, name + "_")() is t and t._version == 1
    want = getattr(torch.tensor(X), name + "_")().numpy()
    assert ulps(view, want).max() <= 3  # written in place: the NumPy view sees it

    def grad(T):
        x = T.tensor(X, requires_grad=True)
        h = x * 1.5
        getattr(h, name + "_")()
        (h * h).sum().backward()
        return x.grad.numpy()

    assert ulps(grad(bt), grad(torch)).max() <= 8


def test_an_integer_tensor_refuses_a_float_result_as_pytorch():
    for T in (bt, torch):
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            T.tensor([1, 2, 3]).exp_()
    ints = bt.tensor([1, -2, 3])
    assert ints.floor_() is ints and ints.tolist() == [1, -2, 3]
    assert bt.tensor([1, -2]).abs_().tolist() == [1, 2]
