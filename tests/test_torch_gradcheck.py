"""bnlab.torch.autograd.gradcheck: central differences against backward, with PyTorch's arguments, result,
warnings and GradcheckError messages; each scenario is compared with PyTorch where it is installed.

Tolerances. bnlab's tensors are float32, and so are the inputs here (PyTorch's too, for the comparison). A
central difference with step h errs by about h^2 |f'''| / 6 (truncation) plus about 2^-24 |f| / h per rounded
output (float32), times the few roundings a forward adds. For outputs of order 1, h = 1e-2 makes the rounding
term about 2e-5; the truncation term depends on the function: batch norm's third derivative grows like
1 / sigma^3, and for the BatchNorm below, whose narrowest feature has sigma ~ 0.3, it is about 1.4e-4 (measured).
So atol = 1e-3 and rtol = 1e-2 leave a margin of about 7, while a wrong derivative (an error of order |f'| ~ 1)
fails by far. PyTorch's defaults, h = 1e-6 and atol = 1e-5, are for float64: in float32 the rounding term alone
is about 0.1, and the check fails on a correct backward, in bnlab as in PyTorch.
"""

import numpy as np
import pytest
from bnlab.torch.autograd.gradcheck import GradcheckError
from test_torch_autograd_function import batchnorm_function, bn_data, square_class
from test_torch_gradcheck_harness import WARNING, on_both, outcome, quiet

import bnlab.torch as torch

F32 = {"eps": 1e-2, "atol": 1e-3, "rtol": 1e-2}  # see the module's text


def bad_square(T):
    class BadSquare(square_class(T)):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * g  # the planted bug: 3x instead of 2x

    return BadSquare


def x_values(T, n=6):
    return T.tensor(np.linspace(-1.5, 2.0, n).astype(np.float32).reshape(2, n // 2), requires_grad=True)


def test_passes_on_a_correct_function_and_warns_for_float32():
    def scenario(T):
        x = x_values(T)
        with pytest.warns(UserWarning) as caught:
            ok = T.autograd.gradcheck(square_class(T).apply, (x,), **F32)
        return ok, [str(w.message) for w in caught], x.grad

    assert on_both(scenario) == (True, [WARNING.format(0)], None)  # .grad untouched


def test_planted_bug_raises_gradcheck_error_with_both_jacobians():
    def scenario(T):
        x = x_values(T)
        err = outcome(lambda: T.autograd.gradcheck(bad_square(T).apply, (x,), **F32))
        returned = quiet(lambda: T.autograd.gradcheck(bad_square(T).apply, (x,), raise_exception=False, **F32))
        return err, returned

    (name, message), returned = on_both(scenario)
    assert (name, returned) == ("GradcheckError", False)
    head, numerical, analytical = message.split("\n", 1)[0], *message.split("\nnumerical:")[1].split("\nanalytical:")
    assert head == "Jacobian mismatch for output 0 with respect to input 0,"
    x = np.linspace(-1.5, 2.0, 6)
    assert numerical.startswith("tensor([[-3.0000,  0.0000,") and analytical.startswith("tensor([[-4.5000, -0.0000,")
    assert np.allclose(_diagonal(numerical), 2 * x, atol=1e-3) and np.allclose(_diagonal(analytical), 3 * x)
    assert issubclass(GradcheckError, RuntimeError) and torch.autograd.GradcheckError is GradcheckError


def _diagonal(text: str) -> np.ndarray:
    rows = text.strip().removeprefix("tensor(").rstrip(")").replace("[", "").split("],")
    return np.array([float(r.replace("]", "").split(",")[i]) for i, r in enumerate(rows)])


def test_pytorch_defaults_fail_in_float32_and_the_derived_tolerances_pass():
    """eps=1e-6 and atol=1e-5 are float64 settings: on a correct float32 BatchNorm they fail, the module's
    tolerances pass."""

    def scenario(T):
        x, gamma, beta, _ = bn_data()
        inputs = tuple(T.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        fn = batchnorm_function(T).apply
        defaults = quiet(lambda: T.autograd.gradcheck(fn, inputs, raise_exception=False))
        return defaults, quiet(lambda: T.autograd.gradcheck(fn, inputs, **F32))

    assert on_both(scenario) == (False, True)


def test_batchnorm_function_error_budget():
    """The largest |analytical - numerical| of the BatchNorm Function, from bnlab's own Jacobians: rounding
    dominates at small h (it grows like 1/h), truncation at large h (like h^2); at h = 1e-2 both are well
    inside atol."""
    from bnlab.torch import _gradcheck

    x, gamma, beta, _ = bn_data()
    inputs = tuple(torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    fn = batchnorm_function(torch).apply
    out = fn(*inputs)
    analytical = _gradcheck._analytical(out, list(inputs), 0.0)

    def worst(h):
        return max(
            np.abs(a - _gradcheck._numerical(fn, inputs, (out,), t, h)[0]).max()
            for a, t in zip(analytical, inputs, strict=True)
        )

    errors = {h: worst(h) for h in (1e-4, 1e-2, 1e-1)}
    assert errors[1e-2] < F32["atol"] / 5
    assert errors[1e-4] > 10 * errors[1e-2] and errors[1e-1] > 10 * errors[1e-2]


def test_several_inputs_and_outputs_name_the_failing_pair():
    def scenario(T):
        a = x_values(T)
        b = T.tensor([0.5, -1.0, 2.0], requires_grad=True)

        def fn(a, b, k):
            return a * 2, b * 3 + b.detach() * k, a.sum() * b  # output 1 is wrong with respect to b: dropped k

        wrong = outcome(lambda: T.autograd.gradcheck(fn, (a, b, 1.0), **F32))
        right = outcome(lambda: T.autograd.gradcheck(fn, (a, b, 0.0), **F32))
        with_constant = outcome(lambda: T.autograd.gradcheck(lambda a, c: a * c, (a, T.ones(2, 3)), **F32))
        return wrong[0], wrong[1].split("\n")[0], right, with_constant

    assert on_both(scenario) == (
        "GradcheckError",
        "Jacobian mismatch for output 1 with respect to input 1,",
        True,
        True,
    )


def test_zero_grad_outputs_non_differentiable_outputs_and_inputs_without_grad():
    def scenario(T):
        class IgnoresGrad(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.sum()

            @staticmethod
            def backward(ctx, g):
                return T.ones(6).view(2, 3)  # right for g = 1 only

        x = x_values(T)
        return (
            outcome(lambda: T.autograd.gradcheck(IgnoresGrad.apply, (x,), **F32)),
            outcome(lambda: T.autograd.gradcheck(lambda a: (a * 2, a.argmax()), (x,), **F32)),
            outcome(lambda: T.autograd.gradcheck(lambda a: a.argmax(), x, **F32)),
            outcome(lambda: T.autograd.gradcheck(lambda a: a.detach() * 2, (x,), **F32)),
            outcome(lambda: T.autograd.gradcheck(lambda a: a * 2, (T.ones(3),))),
        )

    assert on_both(scenario) == (
        ("GradcheckError", "backward not multiplied by grad_output"),
        True,
        True,
        ("GradcheckError", "Numerical gradient for function expected to be zero"),
        (
            "ValueError",
            "gradcheck expects at least one input tensor to require gradient, but none of them have "
            "requires_grad=True.",
        ),
    )


def test_missing_output_gradients_and_nondeterminism():
    def scenario(T):
        class Two(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, handles_none):
                ctx.set_materialize_grads(False)
                ctx.handles_none = handles_none
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                if ctx.handles_none:
                    parts = [g * k for g, k in ((g1, 2), (g2, 3)) if g is not None]
                    return (parts[0] + parts[1] if len(parts) == 2 else parts[0] if parts else None), None
                return g1 * 2 + g2 * 3, None

        class Noisy(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * (2 + 1e-4 * T.rand(1))

        class One(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, without_grad):
                ctx.set_materialize_grads(False)
                ctx.without_grad = without_grad
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return (ctx.without_grad(T, g) if g is None else g * 2), None

        x = x_values(T)
        one_none = outcome(lambda: T.autograd.gradcheck(lambda a: One.apply(a, lambda T, g: None), (x,), **F32))
        one_ones = outcome(lambda: T.autograd.gradcheck(lambda a: One.apply(a, lambda T, g: T.ones(2, 3)), (x,), **F32))
        handled = outcome(lambda: T.autograd.gradcheck(lambda a: Two.apply(a, True), (x,), **F32))
        unhandled = outcome(lambda: T.autograd.gradcheck(lambda a: Two.apply(a, False), (x,), **F32))
        noisy = outcome(lambda: T.autograd.gradcheck(Noisy.apply, (x,), **F32))
        tolerated = outcome(lambda: T.autograd.gradcheck(Noisy.apply, (x,), nondet_tol=1e-2, **F32))
        return one_none, one_ones[1].split(".")[0], handled, unhandled, noisy[0], noisy[1].split("\n")[0], tolerated

    one_none, one_ones, handled, unhandled, noisy, noisy_head, tolerated = on_both(scenario)
    assert one_none is True and handled is True and tolerated is True
    assert one_ones == "Expected all input grads to be undefined or zero when all output grads are undefined or zero"
    assert unhandled == ("TypeError", "unsupported operand type(s) for *: 'NoneType' and 'int'")  # a None reached it
    assert noisy == "GradcheckError" and noisy_head.startswith("Backward is not reentrant")


def test_arguments_and_what_is_not_supported():
    x = x_values(torch)
    assert quiet(lambda: torch.autograd.gradcheck(square_class(torch).apply, (x,), fast_mode=True, **F32)) is True
    with pytest.raises(AssertionError, match="at least one of check_forward_ad or check_backward_ad"):
        torch.autograd.gradcheck(square_class(torch).apply, (x,), check_backward_ad=False)
    with pytest.raises(NotImplementedError, match="no forward-mode AD"):
        torch.autograd.gradcheck(square_class(torch).apply, (x,), check_forward_ad=True)
    with pytest.raises(NotImplementedError, match="no vmap"):
        torch.autograd.gradcheck(square_class(torch).apply, (x,), check_batched_grad=True)
    assert quiet(lambda: torch.autograd.gradgradcheck(square_class(torch).apply, (x,), **F32)) is True
    from bnlab.torch.autograd.gradcheck import gradgradcheck

    assert gradgradcheck is torch.autograd.gradgradcheck


def test_inputs_are_restored_and_versions_untouched():
    x = x_values(torch)
    before, version = x.detach().numpy().copy(), x._version
    assert quiet(lambda: torch.autograd.gradcheck(square_class(torch).apply, x, **F32)) is True
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x._version == version
