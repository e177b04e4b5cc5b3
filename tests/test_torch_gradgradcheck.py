"""bnlab.torch.autograd.gradgradcheck: second derivatives (the backward of the backward) against central
differences of the first, with PyTorch's arguments, warnings and errors; each scenario against PyTorch where it
is installed.

Tolerances. Inputs are float32 (PyTorch's too, for the comparison). gradgradcheck differences the gradients
themselves: a central difference with step h errs by about h^2 |f''''| / 6 plus about 2^-24 |f'| / h for each
rounding of the gradient (a backward adds a few). For values of order 1, h = 1e-3 makes the rounding term about
1e-4 to 1e-3 and the truncation term about 1e-6; atol = rtol = 1e-2 leave a margin of 10 or more, while a
second derivative with a missing term (a constant taken for a function of x) is off by a value of order 1.
Batch norm's derivatives grow like 1 / sigma^k: its data here has sigma ~ 1 and the same tolerances hold.
PyTorch's defaults (h = 1e-6, atol = 1e-5) are for float64 and fail on a correct float32 backward.
"""

import warnings

import numpy as np
import pytest
import test_torch_gradcheck_harness as harness
from bnlab.torch.autograd.gradcheck import GradcheckError
from test_torch_gradcheck_harness import WARNING, on_both

import bnlab.torch as torch

F32 = {"eps": 1e-3, "atol": 1e-2, "rtol": 1e-2}  # see the module's text


def outcome(fn):
    """fn()'s result, or the exception's type name and first line (NotImplementedError is not caught)."""
    return harness.outcome(fn, first_line=True, uncaught=(NotImplementedError,))


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3)).astype(np.float32)
Y = (1.0 + rng.random((2, 3))).astype(np.float32)


def inputs(T, *arrays):
    return tuple(T.tensor(a, requires_grad=True) for a in arrays)


def cube_class(T, planted_bug: bool = False):
    class Cube(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            if planted_bug:  # right first derivative, but x taken as a constant: the second derivative is lost
                x = x.detach()
            return 3.0 * x * x * g

    return Cube


def once_class(T):
    class Once(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @T.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3.0 * x * x * g

    return Once


CORRECT = {
    "arithmetic": (lambda T, x, y: (x * y / (y + 1.0)).exp() - x**3, (X, Y)),
    "elementwise": (lambda T, x, y: x.sin() * y.log() + x.tanh() * y.sqrt() + x.sigmoid(), (X, Y)),
    "reductions_and_matmul": (lambda T, x, y: (x @ y.t()).softmax(-1).sum(0) + x.mean(1).pow(2).sum(), (X, Y)),
    "shapes": (lambda T, x, y: (x.t()[1:] * y.view(3, 2)[:2]).flatten().log_softmax(0), (X, Y)),
    "linear_cross_entropy": (
        lambda T, x, w: T.nn.functional.cross_entropy(T.nn.functional.linear(x, w), T.tensor([0, 1])),
        (X, rng.standard_normal((4, 3)).astype(np.float32)),
    ),
    "batch_norm_train": (
        lambda T, x, w, b: T.nn.functional.batch_norm(x, None, None, w, b, training=True).tanh(),
        (rng.standard_normal((5, 3)).astype(np.float32) * 1.5, np.float32([1.0, 0.5, 2.0]), np.float32([0, 1, -1])),
    ),
    "batch_norm_eval": (
        lambda T, x, w: T.nn.functional.batch_norm(
            x, T.tensor([0.1, -0.2, 0.0]), T.tensor([1.5, 0.5, 1.0]), w, None, training=False
        ).pow(2),
        (X * 0.7, np.float32([1.0, 0.5, 2.0])),
    ),
    "layer_norm": (lambda T, x: T.nn.functional.layer_norm(x, (3,)).pow(3), (X,)),
    "mse": (lambda T, x, y: T.nn.functional.mse_loss(x.tanh(), y), (X, Y)),
    "function": (lambda T, x: cube_class(T).apply(x), (X,)),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_passes_on_correct_second_derivatives(name):
    fn, arrays = CORRECT[name]

    def scenario(T):
        T.manual_seed(0)
        return T.autograd.gradgradcheck(lambda *xs: fn(T, *xs), inputs(T, *arrays), **F32)

    assert on_both(lambda T: outcome(lambda: scenario(T))) is True


def test_explicit_grad_outputs_and_several_outputs():
    def scenario(T):
        x, y = inputs(T, X, Y)
        v1 = T.tensor(np.ones((2, 3), np.float32) * 0.5)  # does not require grad: not checked itself
        v2 = T.tensor(np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32), requires_grad=True)
        return T.autograd.gradgradcheck(lambda a, b: (a * b, (a * a).exp() * b), (x, y), (v1, v2), **F32)

    assert on_both(lambda T: outcome(lambda: scenario(T))) is True


def test_fails_on_a_planted_bug_with_pytorchs_error():
    def raised(T):
        x = inputs(T, X)
        return outcome(lambda: T.autograd.gradgradcheck(cube_class(T, planted_bug=True).apply, x, **F32))

    def returned(T):
        x = inputs(T, X)
        return outcome(lambda: T.autograd.gradgradcheck(cube_class(T, True).apply, x, raise_exception=False, **F32))

    assert on_both(raised) == ("GradcheckError", "Jacobian mismatch for output 0 with respect to input 0,")
    assert on_both(returned) is False
    # the first derivative is right: gradcheck passes
    assert outcome(lambda: torch.autograd.gradcheck(cube_class(torch, True).apply, inputs(torch, X), **F32)) is True
    with pytest.raises(GradcheckError, match=r"(?s)numerical:tensor\(.*analytical:tensor\("), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.autograd.gradgradcheck(cube_class(torch, True).apply, inputs(torch, X), **F32)


def test_once_differentiable_fails_as_in_pytorch():
    """The gradients come out of a DelayedError node; autograd.grad, which gradcheck's analytical Jacobian uses,
    does not run it (nothing it was asked for lies behind it): the second derivatives read as zero and the
    check fails on them, in PyTorch as here. backward() through it raises (test_torch_double_backward.py)."""
    got = on_both(lambda T: outcome(lambda: T.autograd.gradgradcheck(once_class(T).apply, inputs(T, X), **F32)))
    assert got == ("GradcheckError", "Jacobian mismatch for output 0 with respect to input 0,")


def test_float32_warnings_for_inputs_and_grad_outputs():
    def scenario(T):
        T.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            T.autograd.gradgradcheck(lambda a, b: a * b * b, inputs(T, X, Y), **F32)
        return sorted({str(w.message) for w in caught if "double precision" in str(w.message)})

    assert on_both(scenario) == [WARNING.format(i) for i in range(3)]  # x, y and the random grad_output


def test_arguments_as_pytorch():
    x = inputs(torch, X)
    with pytest.raises(AssertionError, match="at least one of check_fwd_over_rev or check_rev_over_rev"):
        torch.autograd.gradgradcheck(cube_class(torch).apply, x, check_rev_over_rev=False, check_undefined_grad=False)
    with pytest.raises(AssertionError, match="check_undefined_grad=True requires check_rev_over_rev"):
        torch.autograd.gradgradcheck(cube_class(torch).apply, x, check_rev_over_rev=False, check_fwd_over_rev=True)
    with pytest.raises(NotImplementedError, match="no forward-mode AD"):
        outcome(lambda: torch.autograd.gradgradcheck(cube_class(torch).apply, x, check_fwd_over_rev=True, **F32))
    assert outcome(lambda: torch.autograd.gradgradcheck(cube_class(torch).apply, x, fast_mode=True, **F32)) is True
    ok = outcome(
        lambda: torch.autograd.gradgradcheck(cube_class(torch).apply, x, gen_non_contig_grad_outputs=True, **F32)
    )
    assert ok is True
    from bnlab.torch.autograd.gradcheck import gradgradcheck

    assert gradgradcheck is torch.autograd.gradgradcheck


def test_pytorch_defaults_fail_in_float32():
    """h = 1e-6 in float32: the central differences are rounding noise, so the check fails on a correct op (as in
    PyTorch with float32 inputs)."""
    got = outcome(lambda: torch.autograd.gradgradcheck(lambda a: a.exp() * a, inputs(torch, X)))
    assert got[0] == "GradcheckError" and got[1].startswith("Jacobian mismatch")


def test_unsupported_op_raises_not_implemented():
    x = inputs(torch, X)
    with pytest.raises(NotImplementedError, match="double backward through Clamp"):
        outcome(lambda: torch.autograd.gradgradcheck(lambda a: a.clamp(-0.5, 0.5) * a, x, **F32))
