"""Every backward op of ``bnlab._core.ops`` against central differences of the engine's own forward.

One table of cases (ggml's test-backend-ops in miniature): each case makes its inputs, runs the engine's
forward, and runs the engine's backward with a random dL/d(output). The check perturbs one input element at a
time and differentiates L = sum(dout * output) numerically.

Step and tolerance. The engine is float32, so L is evaluated in float64 FROM the float32 outputs, and the step
actually taken, float32(x + h) - float32(x - h), is the denominator (the rounding of x +- h adds no error).
What remains: the outputs' rounding, about sqrt(n) * 2^-24 * max|y| in L, divided by 2h; and truncation,
h^2 / 6 * |f'''|. With h = 1e-2 and O(1) data both stay below ~1e-4 of max(1, max|grad|); the tolerance is
2e-3 of that scale, 20x the expected error, while a wrong term errs by O(1). The probability forms of
cross-entropy are steeper (-log p has f''' = 2 / p^3), so they use h = 1e-3 with p >= 0.018.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from bnlab import _core

ops = _core.ops
TOL = 2e-3


def tensor(a) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def int_tensor(a) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.int32))


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[np.random.Generator], dict[str, np.ndarray]]  # every input; float32 ones may be perturbed
    forward: Callable[[dict], np.ndarray]  # the engine's forward: float32 output
    backward: Callable[[dict, np.ndarray], dict[str, np.ndarray]]  # the engine's gradients, given dout
    wrt: tuple[str, ...]
    h: float = 1e-2


# ---- dense ----
def dense_case(out_in: bool, bias: bool, B=4, IN=5, OUT=3) -> Case:
    def make(rng):
        a = {"x": rng.standard_normal((B, IN)), "w": rng.standard_normal((OUT, IN) if out_in else (IN, OUT))}
        if bias:
            a["b"] = rng.standard_normal(OUT)
        return {k: v.astype(np.float32) for k, v in a.items()}

    def forward(a):
        out = _core.Tensor()
        ops.dense_forward(out, tensor(a["x"]), tensor(a["w"]), tensor(a["b"]) if bias else None, out_in)
        return out.numpy()

    def backward(a, dout):
        dx, dw, db = _core.Tensor(), _core.Tensor(list(a["w"].shape)), _core.Tensor([OUT])
        ops.dense_backward(dx, dw, db if bias else None, tensor(dout), tensor(a["x"]), tensor(a["w"]), out_in, False)
        return {"x": dx.numpy(), "w": dw.numpy(), "b": db.numpy()}

    name = f"dense-{'out_in' if out_in else 'in_out'}-{'bias' if bias else 'nobias'}"
    return Case(name, make, forward, backward, ("x", "w", "b") if bias else ("x", "w"))


# ---- batch normalisation ----
def bn_case(N: int, C: int, L: int, affine: bool) -> Case:
    def make(rng):
        a = {
            "x": rng.standard_normal((N, C, L)) * 2 + 0.5,
            "gamma": rng.uniform(0.5, 1.5, C),
            "beta": rng.standard_normal(C),
        }
        return {k: v.astype(np.float32) for k, v in a.items()}

    def run(a):
        out, cache = _core.Tensor(), ops.BNCache()
        gamma = tensor(a["gamma"]) if affine else None
        ops.batchnorm_forward_train(out, cache, tensor(a["x"]), gamma, tensor(a["beta"]), N, C, L, 1e-3)
        return out, cache, gamma

    def backward(a, dout):
        _, cache, gamma = run(a)
        dx, dgamma, dbeta = _core.Tensor(), _core.Tensor([C]), _core.Tensor([C])
        ops.batchnorm_backward(dx, dgamma if affine else None, dbeta, tensor(dout), cache, gamma, N, C, L)
        return {"x": dx.numpy(), "gamma": dgamma.numpy(), "beta": dbeta.numpy()}

    wrt = ("x", "gamma", "beta") if affine else ("x", "beta")

    def forward(a):
        return run(a)[0].numpy()

    return Case(f"batchnorm-{N}x{C}x{L}-{'affine' if affine else 'nogamma'}", make, forward, backward, wrt)


def bn_relu_case(N: int, C: int, L: int) -> Case:
    """Batch norm with its following ReLU fused (fuse_relu / relu_out). Inputs are drawn until every output is
    at least 0.25 away from the ReLU's kink, so that no central difference straddles it."""

    def make(rng):
        while True:
            a = {
                "x": rng.standard_normal((N, C, L)) * 2 + 0.5,
                "gamma": rng.uniform(0.5, 1.5, C),
                "beta": rng.standard_normal(C),
            }
            x = a["x"]
            xhat = (x - x.mean(axis=(0, 2), keepdims=True)) / np.sqrt(x.var(axis=(0, 2), keepdims=True) + 1e-3)
            y = a["gamma"][None, :, None] * xhat + a["beta"][None, :, None]
            if np.abs(y).min() > 0.25 and (y > 0).any():
                return {k: v.astype(np.float32) for k, v in a.items()}

    def run(a):
        out, cache, gamma = _core.Tensor(), ops.BNCache(), tensor(a["gamma"])
        ops.batchnorm_forward_train(out, cache, tensor(a["x"]), gamma, tensor(a["beta"]), N, C, L, 1e-3, True)
        return out, cache, gamma

    def backward(a, dout):
        out, cache, gamma = run(a)
        dx, dgamma, dbeta = _core.Tensor(), _core.Tensor([C]), _core.Tensor([C])
        ops.batchnorm_backward(dx, dgamma, dbeta, tensor(dout), cache, gamma, N, C, L, out)
        return {"x": dx.numpy(), "gamma": dgamma.numpy(), "beta": dbeta.numpy()}

    def forward(a):
        return run(a)[0].numpy()

    return Case(f"batchnorm-relu-{N}x{C}x{L}", make, forward, backward, ("x", "gamma", "beta"))


# ---- activations and dropout ----
def activation_case(act: str, shape=(4, 6)) -> Case:
    def make(rng):
        x = rng.standard_normal(shape) * 1.5
        x[np.abs(x) < 0.05] += 0.1  # relu's kink stays out of the finite difference's reach
        return {"x": x.astype(np.float32)}

    def forward(a):
        out = _core.Tensor()
        ops.activation_forward(out, tensor(a["x"]), getattr(_core.Act, act))
        return out.numpy()

    def backward(a, dout):
        out, dx = _core.Tensor(), _core.Tensor()
        ops.activation_forward(out, tensor(a["x"]), getattr(_core.Act, act))
        ops.activation_backward(dx, tensor(dout), out, getattr(_core.Act, act))
        return {"x": dx.numpy()}

    return Case(f"activation-{act}", make, forward, backward, ("x",))


def dropout_case() -> Case:
    def forward(a):  # the same (seed, counter): the same mask on every call
        out, mask = _core.Tensor(), _core.Tensor()
        ops.dropout_forward(out, mask, tensor(a["x"]), 0.4, 99, 5)
        return out.numpy(), mask

    def backward(a, dout):
        _, mask = forward(a)
        dx = _core.Tensor()
        ops.dropout_backward(dx, tensor(dout), mask)
        return {"x": dx.numpy()}

    def make(rng):
        return {"x": rng.standard_normal((3, 20)).astype(np.float32)}

    return Case("dropout", make, lambda a: forward(a)[0], backward, ("x",))


# ---- losses: the output is the scalar mean loss (shape (1,)) ----
def xent_case(form: str, fused: bool = False, grad_wrt_logits: bool = False, B=4, K=5) -> Case:
    sparse, logits = form.startswith("Sparse"), form.endswith("Logits")
    xform = getattr(_core.XentForm, form)
    scale = 1.0 / B
    wrt = "z" if fused or logits else "p"

    def make(rng):
        a = {}
        if wrt == "z":
            a["z"] = (rng.standard_normal((B, K)) * (2.0 if logits else 1.0)).astype(np.float32)
        else:  # unnormalised probabilities, far from the clip range
            a["p"] = rng.uniform(0.1, 1.0, (B, K)).astype(np.float32)
        a["y"] = rng.integers(0, K, B).astype(np.int32) if sparse else rng.uniform(0, 1, (B, K)).astype(np.float32)
        return a

    def pred(a):
        if not fused:
            return tensor(a[wrt])
        p = _core.Tensor()
        ops.activation_forward(p, tensor(a["z"]), _core.Act.Softmax)
        return p

    def target(a):
        return int_tensor(a["y"]) if sparse else tensor(a["y"])

    def forward(a):
        rows = _core.Tensor()
        ops.xent(rows, None, pred(a), target(a), xform, False, 1e-7, scale)
        return np.array([rows.numpy().astype(np.float64).sum() * scale])

    def backward(a, dout):
        rows, grad = _core.Tensor(), _core.Tensor()
        ops.xent(rows, grad, pred(a), target(a), xform, fused or grad_wrt_logits, 1e-7, scale)
        return {wrt: grad.numpy() * dout[0]}

    name = f"xent-{form}" + ("-fused-softmax" if fused else f"-grad_wrt_logits={grad_wrt_logits}")
    return Case(name, make, forward, backward, (wrt,), h=1e-2 if wrt == "z" else 1e-3)


def mse_case(B=3, K=4) -> Case:
    def make(rng):
        return {
            "p": rng.standard_normal((B, K)).astype(np.float32),
            "t": rng.standard_normal((B, K)).astype(np.float32),
        }

    def forward(a):
        rows = _core.Tensor()
        ops.mse(rows, None, tensor(a["p"]), tensor(a["t"]), 1.0 / B)
        return np.array([rows.numpy().astype(np.float64).sum() / B])

    def backward(a, dout):
        rows, grad = _core.Tensor(), _core.Tensor()
        ops.mse(rows, grad, tensor(a["p"]), tensor(a["t"]), 1.0 / B)
        return {"p": grad.numpy() * dout[0]}

    return Case("mse", make, forward, backward, ("p",))


CASES = [
    *(dense_case(out_in, bias) for out_in in (False, True) for bias in (False, True)),
    dense_case(False, True, B=1, IN=3, OUT=2),
    *(bn_case(*shape, affine) for shape in [(6, 3, 1), (2, 2, 1), (3, 2, 4), (1, 2, 5)] for affine in (False, True)),
    *(bn_relu_case(*shape) for shape in [(6, 3, 1), (3, 2, 4)]),
    *(activation_case(act) for act in ["Linear", "Relu", "Sigmoid", "Tanh", "Softmax"]),
    activation_case("Softmax", shape=(1, 7)),
    dropout_case(),
    xent_case("CategoricalProbs"),
    xent_case("SparseProbs"),
    xent_case("CategoricalProbs", fused=True),
    xent_case("SparseProbs", fused=True),
    *(
        xent_case(form, grad_wrt_logits=flag)
        for form in ["CategoricalLogits", "SparseLogits"]
        for flag in (False, True)
    ),
    mse_case(),
]


def central_differences(case: Case, inputs: dict, name: str, dout: np.ndarray) -> np.ndarray:
    x = inputs[name]
    w = dout.astype(np.float64).ravel()
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x0 = x[i]
        xp, xm = np.float32(x0 + case.h), np.float32(x0 - case.h)
        x[i] = xp
        lp = case.forward(inputs).astype(np.float64).ravel() @ w
        x[i] = xm
        lm = case.forward(inputs).astype(np.float64).ravel() @ w
        x[i] = x0
        grad[i] = (lp - lm) / (np.float64(xp) - np.float64(xm))
    return grad


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_backward_matches_central_differences(case: Case):
    check_gradients(case)


def check_gradients(case: Case):
    """Every gradient the case's backward gives, against central differences of its forward, within TOL."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    inputs = case.make(rng)
    dout = rng.standard_normal(case.forward(inputs).shape).astype(np.float32)
    grads = case.backward(inputs, dout)
    for name in case.wrt:
        numeric = central_differences(case, inputs, name, dout)
        scale = max(1.0, float(np.abs(numeric).max()))
        err = np.abs(grads[name].astype(np.float64) - numeric)
        worst = np.unravel_index(int(np.argmax(err)), err.shape)
        assert err.max() <= TOL * scale, (
            f"d/d{name}{list(worst)}: engine {grads[name][worst]}, central difference {numeric[worst]}"
        )


def test_the_check_catches_a_wrong_gradient():
    """The comparison above fails for a gradient that is off by a missing term (here dgamma := dbeta)."""
    case = bn_case(6, 3, 1, True)
    rng = np.random.default_rng(0)
    inputs = case.make(rng)
    dout = rng.standard_normal((6, 3, 1)).astype(np.float32)
    wrong = case.backward(inputs, dout)["beta"]
    numeric = central_differences(case, inputs, "gamma", dout)
    assert np.abs(wrong - numeric).max() > TOL * max(1.0, np.abs(numeric).max())


def test_parameter_gradients_accumulate_and_input_gradients_assign():
    rng = np.random.default_rng(7)
    x, w, dout = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3, 2), (4, 2)])
    dx, dw, db = tensor(np.full((4, 3), 5.0)), tensor(np.full((3, 2), 0.5)), tensor(np.full(2, 0.5))
    ops.dense_backward(dx, dw, db, tensor(dout), tensor(x), tensor(w), False, True)
    np.testing.assert_allclose(dw.numpy(), 0.5 + x.T.astype(np.float64) @ dout, rtol=1e-5)
    np.testing.assert_allclose(db.numpy(), 0.5 + dout.sum(axis=0, dtype=np.float64), rtol=1e-5)
    np.testing.assert_allclose(dx.numpy(), dout.astype(np.float64) @ w.T, rtol=1e-5)  # assigned, not += 5
    ops.dense_backward(None, dw, db, tensor(dout), tensor(x), tensor(w), False, False)
    np.testing.assert_allclose(dw.numpy(), x.T.astype(np.float64) @ dout, rtol=1e-5)

    out, cache = _core.Tensor(), ops.BNCache()
    xb = rng.standard_normal((5, 2, 1)).astype(np.float32)
    ops.batchnorm_forward_train(out, cache, tensor(xb), None, None, 5, 2, 1, 1e-3)
    dgamma, dbeta, dxb = tensor(np.ones(2)), tensor(np.ones(2)), _core.Tensor()
    dyb = rng.standard_normal((5, 2, 1)).astype(np.float32)
    ops.batchnorm_backward(dxb, dgamma, dbeta, tensor(dyb), cache, None, 5, 2, 1)
    np.testing.assert_allclose(dbeta.numpy(), 1.0 + dyb.sum(axis=(0, 2), dtype=np.float64), rtol=1e-5)
    xhat = cache.xhat.numpy().astype(np.float64)
    np.testing.assert_allclose(dgamma.numpy(), 1.0 + (dyb * xhat).sum(axis=(0, 2)), rtol=1e-5)
