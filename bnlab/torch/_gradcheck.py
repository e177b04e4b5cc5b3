"""``torch.autograd.gradcheck``: check a backward against central differences of its forward.

For every differentiable output y (one that requires grad) and every input x that requires grad, two Jacobians
of shape (x.numel(), y.numel()), row k for x's element k, as PyTorch lays them out:

* numerical: (y(x + h e_k) - y(x - h e_k)) / (2h), ``h = eps``, with recording off. The input is perturbed in
  place (its version counter untouched, as PyTorch writes ``input.data``) and restored; the outputs are copied
  to float64 NumPy arrays at once, and the difference is divided by the step the float32 input really took
  (``fl(x + h) - fl(x - h)``, which is 2h only up to float32 rounding of x + h);
* analytical: ``autograd.grad(y, inputs, e_j)`` for each element j of y: backward with unit vectors, computed
  twice to check that backward is deterministic (``nondet_tol``).

They must agree elementwise as ``torch.allclose`` does: ``|analytical - numerical| <= atol + rtol |numerical|``;
otherwise ``GradcheckError`` (a RuntimeError) with PyTorch's message, or False with ``raise_exception=False``.
Then, as PyTorch: backward of zero output gradients must give zero input gradients, and backward must cope
with outputs that get no gradient (``check_undefined_grad``): the Functions that make the outputs run their
backward with none (zeros, or None after ``set_materialize_grads(False)``), and with several outputs each is
left out of a backward in turn (bnlab's engine runs no node that receives no gradient; PyTorch passes undefined
gradients along).

Precision. bnlab's tensors are float32 only, and PyTorch's defaults (eps=1e-6, atol=1e-5) are for float64: as
PyTorch does for float32 inputs, gradcheck warns ("Input #0 requires gradient and is not a double precision
...") and runs with the tolerances given. Choose them from the two errors of a central difference: truncation,
about h^2 |y'''| / 6, and float32 rounding of the two outputs, about 2^-24 |y| / h (times the few roundings the
forward adds). Their sum is smallest near h = (3 2^-24 |y| / |y'''|)^(1/3), about 1e-3 to 1e-2 for values of
order 1; with h = 1e-3 the rounding term is about 1e-4 |y|, so atol and rtol of about 1e-2 leave a margin
while a wrong gradient (an error of order |y'|) still fails.

``gradgradcheck`` is PyTorch's: gradcheck of the function (inputs, grad_outputs) -> the gradients of ``func``
computed with ``autograd.grad(..., create_graph=True)`` (_double_backward.py), so it checks the second derivatives
(backward of the backward) against central differences of the first, and the first derivatives' dependence on
grad_outputs. The same float32 warnings (one per input, grad_outputs included) and the same arithmetic of
tolerances hold, one level up: the values differenced are gradients, computed by a backward that adds its own
few roundings, and the truncation term involves the fourth derivative. With h = 1e-2 to 1e-3 and atol, rtol of
1e-2 a correct second derivative of values of order 1 passes while a wrong one (a term of order |f''| missing,
say a constant taken for a function of x) fails.

Not supported (NotImplementedError): ``check_forward_ad`` and ``check_batched_forward_grad`` (no forward-mode
AD; gradgradcheck's ``check_fwd_over_rev`` too) and ``check_batched_grad`` (no vmap).
``fast_mode=True`` runs this full check (exact Jacobians, PyTorch's slow mode). ``masked`` concerns sparse
tensors, which bnlab does not have.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import _core

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_T = _core.tensor_ops


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` and ``gradgradcheck`` when a check fails."""


def _as_tuple(x) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """True when backward's gradients of ``func(*inputs)`` match central differences (see the module's text);
    GradcheckError, or False with ``raise_exception=False``, when they do not."""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError("Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError("Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    if check_forward_ad or check_batched_forward_grad:
        raise NotImplementedError("gradcheck: bnlab.torch has no forward-mode AD (check_forward_ad=True)")
    if check_batched_grad:
        raise NotImplementedError("gradcheck: bnlab.torch has no vmap (check_batched_grad=True)")
    del check_grad_dtypes, fast_mode, masked  # float32 gradients only; always the full check; no sparse tensors
    try:
        return _check(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """PyTorch's check of second derivatives: ``gradcheck`` of the function that maps (inputs, grad_outputs) to
    the gradients ``autograd.grad(func(*inputs), inputs, grad_outputs, create_graph=True)`` (see the module's
    text). Without ``grad_outputs``, random ones in [-1, 1) that require grad, from bnlab.torch's generator
    (``manual_seed`` fixes them); ``gen_non_contig_grad_outputs`` is accepted (bnlab's tensors are always
    contiguous)."""
    from . import _factory, autograd
    from .tensor import Tensor

    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_batched_grad=True requires check_rev_over_rev to be True")
    del gen_non_contig_grad_outputs
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outputs = _differentiable_outputs(func(*tupled_inputs))
        with autograd.no_grad():
            made = [_factory.rand(tuple(x.shape), device=x.device) * 2.0 - 1.0 for x in outputs]
        tupled_grad_outputs = tuple(t.requires_grad_() for t in made)
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    num_outputs = len(tupled_grad_outputs)
    diff_input_args_indices = {i for i, x in enumerate(tupled_inputs) if isinstance(x, Tensor) and x.requires_grad}
    diff_grad_output_indices = {i for i, x in enumerate(tupled_grad_outputs) if x.requires_grad}

    def new_func(*args):
        with autograd.enable_grad():  # (gradcheck evaluates it with recording off for the central differences)
            input_args = tuple(
                x.requires_grad_() if i in diff_input_args_indices else x for i, x in enumerate(args[:-num_outputs])
            )
            outputs = _differentiable_outputs(func(*input_args))
            grad_outputs = tuple(
                x.requires_grad_() if i in diff_grad_output_indices else x for i, x in enumerate(args[-num_outputs:])
            )
            diff_input_args = tuple(x for i, x in enumerate(input_args) if i in diff_input_args_indices)
            grad_inputs = autograd.grad(outputs, diff_input_args, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in grad_inputs if g is not None)

    return gradcheck(
        new_func,
        tupled_inputs + tupled_grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        fast_mode=fast_mode,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        masked=masked,
    )


def _differentiable_outputs(x) -> tuple:
    from .tensor import Tensor

    return tuple(o for o in _as_tuple(x) if isinstance(o, Tensor) and o.requires_grad)


def _check(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad) -> bool:
    from .tensor import Tensor

    inputs = _as_tuple(inputs)
    diff = [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i, _ in diff:
        warnings.warn(
            f"Input #{i} requires gradient and is not a double precision floating point or complex. This check "
            "will likely fail if all the inputs are not of double precision floating point or complex. ",
            UserWarning,
            stacklevel=3,
        )
    if not diff:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of them have requires_grad=True."
        )
    diff_inputs = [t for _, t in diff]
    func_out = _as_tuple(func(*inputs))
    outputs = [o for o in func_out if isinstance(o, Tensor) and o.requires_grad]
    numerical = [_numerical(func, inputs, func_out, t, eps) for t in diff_inputs]  # [input][float output]
    if not outputs:
        if any(np.any(j != 0) for per_input in numerical for j in per_input.values()):
            raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    positions = [next(k for k, o in enumerate(func_out) if o is out) for out in outputs]
    for i, (o, k) in enumerate(zip(outputs, positions, strict=True)):
        analytical = _analytical(o, diff_inputs, nondet_tol)
        for j, a in enumerate(analytical):
            n = numerical[j][k]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                raise GradcheckError(
                    f"Jacobian mismatch for output {i:d} with respect to input {j:d},\n"
                    f"numerical:{_as_tensor(n)!r}\nanalytical:{_as_tensor(a)!r}\n"
                )
    _check_zero_grad_outputs(outputs, diff_inputs)
    if check_undefined_grad:
        _check_missing_output_grads(func, inputs, diff_inputs)
    return True


def _as_tensor(a: np.ndarray):
    from .tensor import host

    return host(a.astype(np.float32))


def _numerical(func, inputs, func_out, x, eps) -> dict:
    """{position of a float output: its numerical Jacobian with respect to x, (x.numel(), output numel)}."""
    from . import autograd
    from .tensor import Tensor

    floats = {k: o for k, o in enumerate(func_out) if isinstance(o, Tensor) and o.dtype.is_floating_point}
    jac = {k: np.zeros((x.numel(), o.numel())) for k, o in floats.items()}
    orig = np.array(x._np(), dtype=np.float32).reshape(-1)
    work = orig.copy()

    def evaluate(value, k):
        work[k] = value
        _write(x, work)
        with autograd.no_grad():
            out = _as_tuple(func(*inputs))
        return {p: np.array(out[p]._np(), dtype=np.float64).reshape(-1) for p in floats}

    try:
        for k in range(orig.size):
            lo, hi = np.float32(orig[k] - eps), np.float32(orig[k] + eps)
            step = float(hi) - float(lo) or 2 * eps
            minus, plus = evaluate(lo, k), evaluate(hi, k)
            work[k] = orig[k]
            for p in floats:
                jac[p][k] = (plus[p] - minus[p]) / step
    finally:
        _write(x, orig)
    return jac


def _write(x, flat: np.ndarray) -> None:
    """Set x's values (without a version bump: PyTorch perturbs ``input.data``)."""
    values = flat.reshape(tuple(x.shape))
    if x.device.type == "cpu":
        x._np()[...] = values
    else:
        _T.copy(x._c, _core.Tensor.from_numpy(np.ascontiguousarray(values)).to(x._c.device))


_FAILED_NONDET = """\n
NOTE: If your op relies on non-deterministic operations i.e., it is listed here:
https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html
this failure might be expected.

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `nondet_tol=<tol>` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_nondet_tol=<tol>`.
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_nondet_tol=<tol>`
"""


def _analytical(output, diff_inputs, nondet_tol) -> list[np.ndarray]:
    """Per input, backward's Jacobian (input numel, output numel), column j from the unit vector e_j; computed
    twice, and GradcheckError when the two differ by more than ``nondet_tol``."""
    first, second = _jacobian_rows(output, diff_inputs), _jacobian_rows(output, diff_inputs)
    for a, b in zip(first, second, strict=True):
        if a.size and np.max(np.abs(a - b)) > nondet_tol:
            raise GradcheckError(
                "Backward is not reentrant, i.e., running backward with same input and grad_output multiple times "
                "gives different values, although analytical gradient matches numerical gradient.The tolerance "
                f"for nondeterminism was {nondet_tol}." + _FAILED_NONDET
            )
    return first


def _jacobian_rows(output, diff_inputs) -> list[np.ndarray]:
    from . import autograd
    from .tensor import host

    n = output.numel()
    jac = [np.zeros((t.numel(), n)) for t in diff_inputs]
    seed = np.zeros(n, dtype=np.float32)
    for j in range(n):
        seed[:] = 0.0
        seed[j] = 1.0
        grads = autograd.grad(
            output,
            diff_inputs,
            host(seed.reshape(tuple(output.shape)), output.device),
            retain_graph=True,
            allow_unused=True,
        )
        for J, g, t in zip(jac, grads, diff_inputs, strict=True):
            if g is None:
                continue
            if g.shape != t.shape:
                raise GradcheckError("Analytical gradient has incorrect size")
            J[:, j] = np.asarray(g.detach()._np(), dtype=np.float64).reshape(-1)
    return jac


def _zeros_like(o):
    from .tensor import host

    return host(np.zeros(tuple(o.shape), dtype=np.float32), o.device)


def _check_zero_grad_outputs(outputs, diff_inputs) -> None:
    """Backward of zero output gradients must give zero input gradients (a backward that ignores its
    ``grad_output`` fails here)."""
    from . import autograd

    grads = autograd.grad(outputs, diff_inputs, [_zeros_like(o) for o in outputs], allow_unused=True)
    for g, t in zip(grads, diff_inputs, strict=True):
        if g is None:
            continue
        if np.any(g.detach()._np() != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.shape != t.shape:
            raise GradcheckError("grad is incorrect size")


def _warn_bc_breaking() -> None:
    warnings.warn(
        "Backwards compatibility: New undefined gradient support checking feature is enabled by default, but it "
        "may break existing callers of this function. If this is true for you, you can call this function with "
        '"check_undefined_grad=False" to disable the feature',
        UserWarning,
        stacklevel=5,
    )


def _check_missing_output_grads(func, inputs, diff_inputs) -> None:
    """Backward must cope with outputs that get no gradient, and give zero (or no) input gradients from zero
    (or no) output gradients: first with none at all (the Functions whose nodes make the outputs run their
    backward without gradients; bnlab's engine never runs a node that received none), then, with several
    outputs, with each one left out of the backward in turn."""
    from . import _function, autograd
    from .tensor import Tensor

    def differentiable():
        return [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and o.requires_grad]

    def run(fn):
        try:
            grads = fn()
        except RuntimeError as e:
            _warn_bc_breaking()
            raise GradcheckError(
                'Expected backward function to handle undefined output grads. Please look at "Notes about '
                'undefined output gradients" in "tools/autograd/derivatives.yaml"'
            ) from e
        for g in grads:
            values = None if g is None else g.numpy() if isinstance(g, _core.Tensor) else g.detach()._np()
            if values is not None and np.any(values != 0):
                _warn_bc_breaking()
                raise GradcheckError(
                    "Expected all input grads to be undefined or zero when all output grads are undefined or "
                    'zero. Please look at "Notes about undefined output gradients" in '
                    '"tools/autograd/derivatives.yaml"'
                )

    outs = differentiable()
    nodes = dict.fromkeys(o.grad_fn.fn if isinstance(o.grad_fn, _function._OutputNode) else o.grad_fn for o in outs)
    for node in nodes:
        if isinstance(node, _function.BackwardCFunction):
            run(lambda node=node: node.backward(autograd.PENDING))  # every output gradient missing
    if len(outs) > 1:
        for skip in range(len(outs)):
            kept = [o for k, o in enumerate(differentiable()) if k != skip]
            run(lambda kept=kept: autograd.grad(kept, diff_inputs, [_zeros_like(o) for o in kept], allow_unused=True))
