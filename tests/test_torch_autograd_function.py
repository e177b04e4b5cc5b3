"""bnlab.torch.autograd.Function ("write your own backward"): each scenario runs on bnlab.torch with fixed
expectations and, where PyTorch is installed, on PyTorch too, and the two must agree (values, messages).

The last tests are CS231n's exercise: BatchNorm's backward written by hand as a Function, checked against the
built-in batch_norm and used to train a small network whose losses match the same network in PyTorch.
"""

import importlib.util
import re
import warnings

import numpy as np
import pytest

import bnlab.torch as torch

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def on_pytorch(scenario):
    """scenario(PyTorch) when PyTorch is installed, else None (the bnlab expectations are checked anyway)."""
    if not HAVE_TORCH:
        return None
    import torch as real

    return scenario(real)


def error_of(fn) -> str:
    """The type and message of the exception fn() raises."""
    try:
        fn()
    except Exception as e:  # any type: the test compares it
        return f"{type(e).__name__}: {e}"
    raise AssertionError("no exception")


def same(ours, scenario):
    theirs = on_pytorch(scenario)
    if theirs is not None:
        assert ours == theirs


def square_class(T):
    class Square(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.recording_in_forward = T.is_grad_enabled()
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            ctx.recording_in_backward = T.is_grad_enabled()
            return 2 * x * grad_output

    return Square


# ---------------------------------------------------------------- the basic protocol
def test_function_forward_backward_and_grad_fn():
    def scenario(T):
        Square = square_class(T)
        x = T.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = Square.apply(x)
        (y * T.tensor([1.0, 10.0, 100.0])).sum().backward()
        node = y.grad_fn
        return (
            y.detach().numpy().tolist(),
            x.grad.numpy().tolist(),
            type(node).__name__,
            re.sub(r"0x[0-9a-f]+", "ADDR", repr(node)).replace("bnlab.", ""),
            y.requires_grad,
            repr(y).replace("bnlab.", ""),
            y.is_leaf,
            node.recording_in_forward,  # ctx attributes read through the node
            node.recording_in_backward,
            node.needs_input_grad,
        )

    ours = scenario(torch)
    assert ours[:3] == ([1.0, 4.0, 9.0], [2.0, -40.0, 600.0], "SquareBackward")
    assert ours[3] == "<torch.autograd.function.SquareBackward object at ADDR>"
    assert ours[4:] == (True, "tensor([1., 4., 9.], grad_fn=<SquareBackward>)", False, False, False, (True,))
    same(ours, scenario)


def test_import_paths_as_pytorch():
    from bnlab.torch.autograd.function import Function as Same
    from bnlab.torch.autograd.function import FunctionCtx, once_differentiable
    from bnlab.torch.autograd.gradcheck import GradcheckError, gradcheck

    from bnlab.torch.autograd import Function

    assert Function is Same is torch.autograd.Function
    assert torch.autograd.function.once_differentiable is once_differentiable
    assert gradcheck is torch.autograd.gradcheck and issubclass(GradcheckError, RuntimeError)
    assert torch.autograd.GradcheckError is GradcheckError
    assert callable(FunctionCtx.save_for_backward)


def test_setup_context_style_non_tensor_inputs_and_defaults():
    def scenario(T):
        class Scale(T.autograd.Function):
            @staticmethod
            def forward(x, w, scale=2.0):
                return x * w * scale

            @staticmethod
            def setup_context(ctx, inputs, output):
                x, w, scale = inputs
                ctx.save_for_backward(x, w)
                ctx.scale = scale
                ctx.seen = (len(inputs), T.is_grad_enabled(), ctx.needs_input_grad, tuple(output.shape))

            @staticmethod
            def backward(ctx, g):
                x, w = ctx.saved_tensors
                return g * w * ctx.scale, g * x * ctx.scale, None

        x = T.tensor([1.0, 2.0], requires_grad=True)
        w = T.tensor([3.0, 4.0], requires_grad=True)
        y = Scale.apply(x, w)
        y.sum().backward()
        z = Scale.apply(x, w, 0.5)
        return x.grad.numpy().tolist(), w.grad.numpy().tolist(), y.grad_fn.seen, y.grad_fn.scale, z.grad_fn.scale

    ours = scenario(torch)
    assert ours == ([6.0, 8.0], [2.0, 4.0], (3, False, (True, True, False), (2,)), 2.0, 0.5)
    same(ours, scenario)


def test_none_gradients_and_inputs_that_need_none():
    def scenario(T):
        class MulConst(T.autograd.Function):
            @staticmethod
            def forward(ctx, k, x, w):
                ctx.k = k
                ctx.save_for_backward(w)
                return x * w * k

            @staticmethod
            def backward(ctx, g):
                (w,) = ctx.saved_tensors
                needs = ctx.needs_input_grad
                return None, g * w * ctx.k if needs[1] else None, None

        x = T.tensor([1.0, 2.0], requires_grad=True)
        w = T.tensor([5.0, 6.0])  # needs no gradient
        MulConst.apply(3.0, x, w).sum().backward()
        return x.grad.numpy().tolist(), w.grad, MulConst.apply(3.0, x, w).grad_fn.needs_input_grad

    ours = scenario(torch)
    assert ours == ([15.0, 18.0], None, (False, True, False))
    same(ours, scenario)


def test_no_grad_and_inputs_without_grad_record_nothing():
    def scenario(T):
        Square = square_class(T)
        x = T.tensor([1.0, 2.0], requires_grad=True)
        with T.no_grad():
            a = Square.apply(x)
        b = Square.apply(T.tensor([1.0, 2.0]))
        return a.requires_grad, a.grad_fn, b.requires_grad, b.grad_fn, a.numpy().tolist()

    ours = scenario(torch)
    assert ours == (False, None, False, None, [1.0, 4.0])
    same(ours, scenario)


def test_input_returned_unchanged_is_a_new_tensor_on_the_same_memory():
    def scenario(T):
        class Identity(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 3

        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = Identity.apply(x)
        y.sum().backward(retain_graph=True)
        with T.no_grad():
            x.mul_(10.0)  # shared memory: y sees it; but backward through y is refused now
        written = error_of(lambda: y.sum().backward())
        with T.no_grad():
            z = Identity.apply(x)
        return y is x, y.requires_grad, y.detach().numpy().tolist(), x.grad.numpy().tolist(), z is x, written

    ours = scenario(torch)
    assert ours[:5] == (False, True, [10.0, 20.0], [3.0, 3.0], False)
    assert ours[5].startswith("RuntimeError: Output 0 of Identity is a view and its base or another view of its base")
    same(ours, scenario)


# ---------------------------------------------------------------- several outputs
def test_several_outputs_non_differentiable_and_materialized_grads():
    def scenario(T):
        class SortTimes(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, materialize):
                s, idx = x.sort()
                ctx.mark_non_differentiable(idx)
                ctx.set_materialize_grads(materialize)
                ctx.save_for_backward(idx)
                return s, x * 3, idx

            @staticmethod
            def backward(ctx, gs, g3, gi):
                (idx,) = ctx.saved_tensors
                seen.append(tuple(None if g is None else g.numpy().tolist() for g in (gs, g3, gi)))
                gx = T.zeros(idx.shape)
                if gs is not None:
                    gx = gx + gs[idx.argsort()]
                if g3 is not None:
                    gx = gx + 3 * g3
                return gx, None

        seen = []
        results = []
        for materialize in (True, False):
            x = T.tensor([3.0, 1.0, 2.0], requires_grad=True)
            s, t, idx = SortTimes.apply(x, materialize)
            (t * T.tensor([1.0, 2.0, 3.0])).sum().backward()  # s gets no gradient
            results.append((idx.requires_grad, idx.grad_fn, x.grad.numpy().tolist()))
            x.grad = None
            s, t, idx = SortTimes.apply(x, materialize)
            (s * T.tensor([1.0, 10.0, 100.0]) + t).sum().backward()
            results.append(x.grad.numpy().tolist())
        return results, seen

    ours = scenario(torch)
    assert ours[0] == [
        (False, None, [3.0, 6.0, 9.0]),
        [103.0, 4.0, 13.0],
        (False, None, [3.0, 6.0, 9.0]),
        [103.0, 4.0, 13.0],
    ]
    assert ours[1][0] == ([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0, 0, 0])  # zeros for the outputs without gradient
    assert ours[1][2] == (None, [1.0, 2.0, 3.0], None)  # set_materialize_grads(False): None
    same(ours, scenario)


def test_non_tensor_outputs_and_integer_outputs():
    def scenario(T):
        class Stats(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x.argmax(), 3.5

            @staticmethod
            def backward(ctx, g, g_idx, g_number):
                seen.append((g_idx.numpy().tolist(), g_number))
                return g * 2

        seen = []
        x = T.tensor([1.0, 5.0, 2.0], requires_grad=True)
        y, idx, number = Stats.apply(x)
        y.sum().backward()
        return x.grad.numpy().tolist(), idx.requires_grad, idx.item(), number, seen

    ours = scenario(torch)
    assert ours == ([2.0, 2.0, 2.0], False, 1, 3.5, [(0, None)])
    same(ours, scenario)


# ---------------------------------------------------------------- mark_dirty
def test_mark_dirty_returns_the_input_with_new_history():
    def scenario(T):
        class Double_(T.autograd.Function):  # noqa: N801 - an in-place op's name
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        a = T.tensor([1.0, 2.0], requires_grad=True)
        leaf_error = error_of(lambda: Double_.apply(a))
        b = a * 1
        c = Double_.apply(b)
        c.sum().backward()
        plain = T.tensor([1.0, 2.0])
        Double_.apply(plain)
        return c is b, type(b.grad_fn).__name__, b._version, a.grad.numpy().tolist(), plain._version, leaf_error

    ours = scenario(torch)
    assert ours[:5] == (True, "Double_Backward", 2, [2.0, 2.0], 2)
    assert ours[5] == "RuntimeError: a leaf Variable that requires grad has been used in an in-place operation."
    same(ours, scenario)


def test_mark_dirty_and_mark_non_differentiable_validation():
    def scenario(T):
        def dirty(marked, returned):
            class F(T.autograd.Function):
                @staticmethod
                def forward(ctx, x, y):
                    ctx.mark_dirty(*marked(x, y))
                    return returned(x, y)

                @staticmethod
                def backward(ctx, g):
                    return g, None

            return lambda: F.apply(T.ones(2, requires_grad=True), T.ones(2))

        not_returned = error_of(dirty(lambda x, y: (y,), lambda x, y: x * 1))
        not_a_tensor = error_of(dirty(lambda x, y: (3,), lambda x, y: x * 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            class NotInput(T.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = x * 2
                    ctx.mark_dirty(y)
                    return y

                @staticmethod
                def backward(ctx, g):
                    return g

            NotInput.apply(T.ones(2, requires_grad=True))
        return not_returned, not_a_tensor.split(" of type")[0], [str(w.message) for w in caught]

    ours = scenario(torch)
    assert ours[0].startswith("RuntimeError: Some elements marked as dirty during the forward method were not")
    assert ours[1].startswith("RuntimeError: mark_dirty can only accept variables, but argument")
    assert ours[2] == [
        "ctx.mark_dirty() received a tensor that was not an input. Only input Tensors that have been mutated "
        "should be passed to ctx.mark_dirty()."
    ]
    theirs = on_pytorch(scenario)
    if theirs is not None:  # PyTorch cuts its message short after "argument" and adds where it warned from
        assert ours[0] == theirs[0] and theirs[1].startswith(ours[1][: len(theirs[1])])
        assert theirs[2][0].startswith(ours[2][0])


# ---------------------------------------------------------------- what backward returns
def wrong_gradient_errors(T):
    """What backward of x * w returns, wrongly; the error each gives (or "ok")."""

    def run(returns, w):
        class Bad(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                return x * w

            @staticmethod
            def backward(ctx, g):
                return returns(g)

        x = T.ones(2, requires_grad=True)
        try:
            Bad.apply(x, w).sum().backward()
        except RuntimeError as e:
            return str(e)
        return "ok"

    return (
        run(lambda g: g, T.ones(2)),
        run(lambda g: (T.ones(3), None), T.ones(2)),
        run(lambda g: (g, g), 2.0),
        run(lambda g: (3.0, None), T.ones(2)),
        run(lambda g: [g, None], T.ones(2)),
        run(lambda g: (g, None, None, None), T.ones(2)),  # extra Nones are dropped
    )


def test_wrong_gradients_raise_pytorchs_errors():
    ours = wrong_gradient_errors(torch)
    assert ours == (
        "function BadBackward returned an incorrect number of gradients (expected 2, got 1)",
        "Function BadBackward returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]",
        "function BadBackward returned a gradient different than None at position 2, but the corresponding forward "
        "input was not a Variable",
        "expected Variable or None (got float)",
        "function BadBackward returned an incorrect number of gradients (expected 2, got 1)",  # a list is one value
        "ok",
    )
    same(ours, wrong_gradient_errors)


def test_broadcast_gradients_are_summed_back_and_ignored_ones_unchecked():
    def scenario(T):
        class Broad(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return T.ones(5, 1, 3), T.ones(7)  # w does not require grad: its gradient is dropped

        x = T.ones(1, 3, requires_grad=True)
        Broad.apply(x, T.ones(2)).sum().backward()
        y = T.ones(3, 1, requires_grad=True)
        return x.grad.numpy().tolist(), error_of(lambda: Broad.apply(y, T.ones(2)).sum().backward())

    ours = scenario(torch)
    assert ours == (
        [[5.0, 5.0, 5.0]],
        "RuntimeError: Function BroadBackward returned an invalid gradient at index 0 - got [5, 1, 3] but expected "
        "shape compatible with [3, 1]",
    )
    same(ours, scenario)


def test_missing_forward_or_backward_and_instantiation():
    def scenario(T):
        class NoBackward(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

        x = T.ones(2, requires_grad=True)
        with pytest.warns(DeprecationWarning, match="should not be instantiated") as caught:
            instance = NoBackward()
        return (
            error_of(lambda: T.autograd.Function.apply(x)),
            error_of(lambda: NoBackward.apply(x).sum().backward()),
            error_of(lambda: instance(x)),
            str(caught[0].message).replace("bnlab.", "").split("'")[2],
        )

    ours = scenario(torch)
    assert ours[0] == "NotImplementedError: You must implement the forward function for custom autograd.Function."
    assert ours[1].startswith("NotImplementedError: You must implement either the backward or vjp method")
    assert ours[2].startswith("RuntimeError: Legacy autograd function with non-static forward method is deprecated")
    same(ours, scenario)


# ---------------------------------------------------------------- saved tensors
def test_saved_tensors_freed_after_backward_and_checked_for_inplace_writes():
    def scenario(T):
        Square = square_class(T)

        class Exp(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)  # an output
                return y

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                seen.append((type(y.grad_fn).__name__, y.requires_grad))
                return g * y

        seen = []
        x = T.tensor([0.0, 1.0], requires_grad=True)
        y = Square.apply(x)
        y.sum().backward(retain_graph=True)
        kept = [t.detach().numpy().tolist() for t in y.grad_fn.saved_tensors]
        y.sum().backward()
        freed = error_of(lambda: y.grad_fn.saved_tensors)
        again = error_of(lambda: y.sum().backward())
        y = Square.apply(x)
        with T.no_grad():
            x.add_(1.0)
        input_written = error_of(lambda: y.sum().backward())
        e = Exp.apply(T.tensor([0.0, 1.0], requires_grad=True))
        e.sum().backward(retain_graph=True)
        with T.no_grad():
            e.mul_(2.0)
        output_written = error_of(lambda: e.sum().backward())

        class SaveNumber(T.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, None, 3)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g

        with T.no_grad():
            SaveNumber.apply(x)  # not recorded: not checked, as in PyTorch
        not_a_tensor = error_of(lambda: SaveNumber.apply(x))
        return kept, freed, again, input_written, output_written, not_a_tensor, seen

    ours = scenario(torch)
    assert ours[0] == [[0.0, 1.0]]
    assert ours[1] == ours[2] and ours[1].startswith("RuntimeError: Trying to backward through the graph a second")
    assert ours[1].endswith("or if you need to access saved tensors after calling backward.")
    assert ours[3].startswith(
        "RuntimeError: one of the variables needed for gradient computation has been modified by an inplace "
        "operation: [torch.FloatTensor [2]] is at version 1; expected version 0 instead."
    )
    assert "[torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; expected version 0" in ours[4]
    assert ours[5] == "TypeError: save_for_backward can only save variables, but argument 2 is of type int"
    assert ours[6] == [("ExpBackward", True)]
    same(ours, scenario)


# ---------------------------------------------------------------- with the rest of autograd
def hooks_and_grad(T, once_differentiable):
    class Cube(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            ctx.recording = T.is_grad_enabled()
            return 3 * x**2 * g

    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    y.register_hook(lambda g: g * 10)
    y.retain_grad()
    (y * T.tensor([1.0, -1.0])).sum().backward()
    (gx,) = T.autograd.grad((Cube.apply(x) * 2.0).sum(), x)
    h = x * 1.0
    (gh,) = T.autograd.grad(Cube.apply(h).sum(), h)  # an interior input
    grads = [t.numpy().tolist() for t in (x.grad, y.grad, gx, gh)]
    return grads, y.grad_fn.recording


def test_hooks_retain_grad_autograd_grad_and_once_differentiable():
    from bnlab.torch.autograd.function import once_differentiable

    ours = hooks_and_grad(torch, once_differentiable)
    assert ours == ([[30.0, -120.0], [10.0, -10.0], [6.0, 24.0], [3.0, 12.0]], False)
    if HAVE_TORCH:
        import torch as real
        from torch.autograd.function import once_differentiable as theirs

        assert ours == hooks_and_grad(real, theirs)


# ---------------------------------------------------------------- CS231n: BatchNorm's backward by hand
def batchnorm_function(T):
    """CS231n's BatchNorm, forward and backward node by node (the staged backward), as a Function."""

    class BatchNorm(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma, beta, eps=1e-5):
            mu = x.mean(dim=0)
            xmu = x - mu
            var = (xmu**2).mean(dim=0)  # biased, as batch norm normalizes
            ivar = 1.0 / T.sqrt(var + eps)
            xhat = xmu * ivar
            ctx.save_for_backward(xhat, xmu, gamma, ivar)
            return gamma * xhat + beta

        @staticmethod
        def backward(ctx, dout):
            xhat, xmu, gamma, ivar = ctx.saved_tensors
            N = dout.shape[0]
            dbeta = dout.sum(dim=0)
            dgamma = (dout * xhat).sum(dim=0)
            dxhat = dout * gamma
            dvar = (dxhat * xmu).sum(dim=0) * -0.5 * ivar**3
            dmu = -(dxhat * ivar).sum(dim=0) + dvar * (-2.0 * xmu).mean(dim=0)
            dx = dxhat * ivar + dvar * 2.0 * xmu / N + dmu / N
            return dx, dgamma, dbeta, None

    return BatchNorm


def bn_data(seed=0, n=16, d=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.linspace(0.5, 10.0, d) + np.linspace(-2.0, 50.0, d)  # offsets, scales
    return (
        x.astype(np.float32),
        rng.uniform(0.5, 1.5, d).astype(np.float32),
        rng.normal(size=d).astype(np.float32),
        rng.normal(size=(n, d)).astype(np.float32),
    )


def bn_gradients(T):
    """Output and gradients of the hand-written Function and of the built-in batch_norm, same inputs."""
    x, gamma, beta, dout = bn_data()
    results = []
    for use_function in (True, False):
        X, G, B = (T.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        if use_function:
            y = batchnorm_function(T).apply(X, G, B)
        else:
            y = T.nn.functional.batch_norm(X, None, None, G, B, training=True, eps=1e-5)
        (y * T.tensor(dout)).sum().backward()
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in (X, G, B)])
    return results


def test_handwritten_batchnorm_matches_builtin_batch_norm():
    mine, builtin = bn_gradients(torch)
    # float32 rounding: the two compute the same sums in different orders
    for a, b in zip(mine, builtin, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(mine[1].sum(axis=0), 0.0, atol=1e-4)  # shifting a feature changes nothing
    theirs = on_pytorch(bn_gradients)
    if theirs is not None:
        for a, b in zip(mine, theirs[0], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)


def train_losses(T, use_function: bool, steps: int = 6):
    """A 5-16-3 network with BN after the first layer (the hand-written Function, or nn.BatchNorm1d), trained
    with SGD on a fixed batch from identical weights; the loss of each step."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 5)).astype(np.float32) * 3 + 1
    labels = rng.integers(0, 3, 32)
    w1 = (rng.normal(size=(16, 5)) / np.sqrt(5)).astype(np.float32)
    w2 = (rng.normal(size=(3, 16)) / 4).astype(np.float32)
    T.manual_seed(0)
    lin1, lin2 = T.nn.Linear(5, 16), T.nn.Linear(16, 3)
    bn = T.nn.BatchNorm1d(16)
    with T.no_grad():
        lin1.weight.copy_(T.tensor(w1))
        lin1.bias.zero_()
        lin2.weight.copy_(T.tensor(w2))
        lin2.bias.zero_()
        bn.weight.copy_(T.tensor(np.linspace(0.5, 1.5, 16).astype(np.float32)))
        bn.bias.copy_(T.tensor(np.linspace(-0.2, 0.2, 16).astype(np.float32)))
    params = [*lin1.parameters(), *bn.parameters(), *lin2.parameters()]
    opt = T.optim.SGD(params, lr=0.1)
    BatchNorm = batchnorm_function(T)
    inputs, targets = T.tensor(x), T.tensor(labels)
    losses = []
    for _ in range(steps):
        h = lin1(inputs)
        h = BatchNorm.apply(h, bn.weight, bn.bias) if use_function else bn(h)
        loss = T.nn.functional.cross_entropy(lin2(T.relu(h)), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_training_with_the_handwritten_batchnorm_matches_pytorch():
    mine = train_losses(torch, use_function=True)
    builtin = train_losses(torch, use_function=False)
    np.testing.assert_allclose(mine, builtin, rtol=1e-5)
    assert mine[-1] < mine[0] - 0.05  # it trains
    theirs = on_pytorch(lambda T: train_losses(T, use_function=True))
    if theirs is not None:
        np.testing.assert_allclose(mine, theirs, rtol=1e-5)
