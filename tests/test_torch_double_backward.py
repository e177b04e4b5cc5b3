"""Double backward (create_graph=True) in bnlab.torch: gradients that are tensors of the graph, differentiated
again, op by op and through small networks, against PyTorch where it is installed and, always, against central
differences of bnlab's own first derivative.

Tolerances. Everything is float32 on both sides. A first derivative is a few dozen roundings of 2^-24 (6e-8)
away from the exact value in either library, and the two libraries order their sums differently, so they agree
to about 1e-6 relative to the largest value involved; the second derivative adds as many roundings again, and
batch norm's amplifies the error by about 1/sigma^2 (sigma ~ 0.5 here, cancellation in x - mean): rtol 1e-4
and atol 2e-5 times the largest magnitude (1e-4 with normalization layers and networks) leave a margin of 10
or more (measured: 1e-7 to 1.4e-6, batch norm in training the largest), while a missing term of a second
derivative is of the order of the values themselves. The finite differences of the first
derivative along v (central, h = 1e-2 in float32) err by about h^2 |f''''| / 6 ~ 1e-4 plus 2^-24 |f'| / h ~ 1e-5
per rounding of the gradient: 5e-3 times the largest magnitude.
"""

import importlib.util
import warnings

import numpy as np
import pytest

import bnlab.torch as torch
import bnlab.torch.nn.functional as F
from bnlab.torch import _double_backward

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def libs():
    """bnlab.torch and, when installed, PyTorch."""
    if HAVE_TORCH:
        import torch as real

        return (torch, real)
    return (torch,)


def _np(t):
    return None if t is None else t.detach().cpu().numpy().astype(np.float64)


def close(ours, ref, rtol=1e-4, atol=2e-5):
    """ours ~ ref, atol relative to the largest magnitude of ref (see the module's text)."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol * scale)


def first_and_hvp(T, fn, arrays, vs):
    """(first derivatives, Hessian-vector products H v) of the scalar L = fn(T, *xs) at xs = arrays: g = dL/dx
    with create_graph, then d(sum_i <g_i, v_i>)/dx."""
    xs = [T.tensor(a, requires_grad=True) for a in arrays]
    loss = fn(T, *xs)
    grads = T.autograd.grad(loss, xs, create_graph=True)
    assert all(g.requires_grad for g in grads), "the gradients must be in the graph"
    total = sum((g * T.tensor(v)).sum() for g, v in zip(grads, vs, strict=True))
    hv = T.autograd.grad(total, xs, allow_unused=True, materialize_grads=True)
    return [_np(g) for g in grads], [_np(h) for h in hv]


def first_only(fn, arrays):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return [_np(g) for g in torch.autograd.grad(fn(torch, *xs), xs)]


def check(fn, arrays, seed=0, rtol=1e-4, atol=2e-5, fd_tol=5e-3, h=1e-2):
    """fn's first derivatives and Hessian-vector products: bnlab against PyTorch, and bnlab's H v against
    central differences of its own first derivative along v."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    vs = [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
    g_ours, hv_ours = first_and_hvp(torch, fn, arrays, vs)
    if HAVE_TORCH:
        import torch as real

        g_ref, hv_ref = first_and_hvp(real, fn, arrays, vs)
        for a, b in zip(g_ours, g_ref, strict=True):
            close(a, b, rtol, atol)
        for a, b in zip(hv_ours, hv_ref, strict=True):
            close(a, b, rtol, atol)
    plus = first_only(fn, [a + h * v for a, v in zip(arrays, vs, strict=True)])
    minus = first_only(fn, [a - h * v for a, v in zip(arrays, vs, strict=True)])
    for hv, p, m in zip(hv_ours, plus, minus, strict=True):
        close(hv, (p - m) / (2 * h), fd_tol, fd_tol)
    return g_ours, hv_ours


rng0 = np.random.default_rng(42)
A34 = rng0.standard_normal((3, 4)).astype(np.float32)
B4 = rng0.standard_normal(4).astype(np.float32)
B31 = rng0.standard_normal((3, 1)).astype(np.float32)
P34 = (1.0 + rng0.random((3, 4))).astype(np.float32)  # positive: log, sqrt, division
C34 = rng0.standard_normal((3, 4)).astype(np.float32)


def weighted(y, T):
    """A scalar with a non-zero second derivative through y: sum(c * y + y * y) for a fixed c of y's shape."""
    c = T.tensor(np.resize(C34, tuple(y.shape)).astype(np.float32))
    return (c * y + y * y).sum()


ELEMENTWISE = {
    "add": (lambda T, a, b: a + b, [A34, B4]),
    "sub": (lambda T, a, b: a - b, [A34, B31]),
    "mul": (lambda T, a, b: a * b, [A34, B4]),
    "div": (lambda T, a, b: a / b, [A34, P34]),
    "div_broadcast": (lambda T, a, b: a / b, [A34, B31 * 0 + 1.5 + B31 * 0.2]),
    "add_scalar": (lambda T, a: a + 2.0, [A34]),
    "sub_scalar": (lambda T, a: a - 1.5, [A34]),
    "rsub": (lambda T, a: 3.0 - a, [A34]),
    "mul_scalar": (lambda T, a: a * 2.5, [A34]),
    "div_scalar": (lambda T, a: a / 4.0, [A34]),
    "rdiv": (lambda T, a: 2.0 / a, [P34]),
    "neg": (lambda T, a: -a, [A34]),
    "pow3": (lambda T, a: a**3, [A34]),
    "pow_half": (lambda T, a: a**0.5, [P34]),
    "pow_minus2": (lambda T, a: a**-2.0, [P34]),
    "exp": (lambda T, a: a.exp(), [A34]),
    "log": (lambda T, a: a.log(), [P34]),
    "sqrt": (lambda T, a: a.sqrt(), [P34]),
    "abs": (lambda T, a: a.abs(), [A34]),
    "sin": (lambda T, a: a.sin(), [A34]),
    "cos": (lambda T, a: a.cos(), [A34]),
    "tan": (lambda T, a: a.tan(), [A34 * 0.3]),
    "sinh": (lambda T, a: a.sinh(), [A34]),
    "cosh": (lambda T, a: a.cosh(), [A34]),
    "log2": (lambda T, a: a.log2(), [P34]),
    "log10": (lambda T, a: a.log10(), [P34]),
    "log1p": (lambda T, a: a.log1p(), [P34]),
    "expm1": (lambda T, a: a.expm1(), [A34]),
    "relu": (lambda T, a: a.relu(), [A34]),
    "tanh": (lambda T, a: a.tanh(), [A34]),
    "sigmoid": (lambda T, a: a.sigmoid(), [A34]),
    "softmax": (lambda T, a: a.softmax(-1), [A34]),
    "log_softmax": (lambda T, a: a.log_softmax(dim=1), [A34]),
    "clone": (lambda T, a: a.clone() * a, [A34]),
    "float": (lambda T, a: a.float() * a, [A34]),
    "floor": (lambda T, a: a.floor() * a, [A34]),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_ops(name):
    fn, arrays = ELEMENTWISE[name]
    check(lambda T, *xs: weighted(fn(T, *xs), T), arrays)


def _reduce(T, x):
    return x.sum(1), x.mean((0, 2), keepdim=True), x.sum(), x.mean(dim=-1), x.sum(dim=(0, 1))


SHAPE_OPS = {
    "reductions": (lambda T, x: sum(((r * r).sum() for r in _reduce(T, x)), x.sum() * 0), [(2, 3, 4)]),
    "matmul": (lambda T, a, b: weighted(a @ b, T), [(3, 5), (5, 4)]),
    "matmul_1d": (lambda T, a, b: ((a @ b) ** 2).sum() + ((b.t() @ a) ** 2).sum(), [(5,), (5, 4)]),
    "mm": (lambda T, a, b: weighted(T.mm(a, b.t()), T), [(3, 5), (4, 5)]),
    "views": (
        lambda T, x: weighted(x.reshape(6, 2).view(3, 4) * x.flatten().view(3, 4).unsqueeze(0).squeeze(0), T),
        [(3, 4)],
    ),
    "transpose_permute": (
        lambda T, x: weighted(x.transpose(0, 1).permute(1, 0) * x.t().t(), T),
        [(3, 4)],
    ),
    "permute_3d": (lambda T, x: ((x.permute(2, 0, 1) ** 3) * x.permute(2, 0, 1)).sum(), [(2, 3, 4)]),
    "indexing": (lambda T, x: (x[1:] ** 2).sum() + (x[:, [0, 2]] ** 3).sum() + (x[0, 1] * x[2, 3]), [(3, 4)]),
    "index_rows": (lambda T, x: (x[T.tensor([2, 0, 2])] ** 3).sum(), [(3, 4)]),
    "cat_stack": (
        lambda T, a, b: weighted(T.cat([a * b, a], 0)[:3] + T.stack([b, a * a], 0).sum(0), T),
        [(3, 4), (3, 4)],
    ),
    "max_dim": (lambda T, x: weighted(x.max(1).values.unsqueeze(1) * x, T), [(3, 4)]),
    "max_all": (lambda T, x: x.max() * (x**2).sum(), [(3, 4)]),
    "broadcast_chain": (lambda T, a, b, c: weighted(((a * b) / (c * c + 1.0)).exp() * a, T), [(3, 4), (4,), (3, 1)]),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_and_reduction_ops(name):
    fn, shapes = SHAPE_OPS[name]
    rng = np.random.default_rng(1)
    check(fn, [rng.standard_normal(s).astype(np.float32) for s in shapes])


LABELS = np.array([0, 2, 1, 2, 4, 3], dtype=np.int64)
W5 = np.array([1.0, 0.5, 2.0, 1.5, 0.7], dtype=np.float32)


def _xent(reduction="mean", **kw):
    def fn(T, x, *rest):
        labels = T.tensor(LABELS)
        extra = {k: (T.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        out = T.nn.functional.cross_entropy(x * x, labels, reduction=reduction, **extra)
        return out.sum() if reduction == "none" else out

    return fn


def _nll(reduction):
    def fn(T, x):
        out = T.nn.functional.nll_loss(T.nn.functional.log_softmax(x * x, 1), T.tensor(LABELS), reduction=reduction)
        return (out * out).sum() if reduction == "none" else out * out

    return fn


LOSSES = {
    "cross_entropy": _xent(),
    "cross_entropy_sum": _xent("sum"),
    "cross_entropy_none": _xent("none"),
    "cross_entropy_weight": _xent(weight=W5),
    "cross_entropy_ignore": _xent(ignore_index=2),
    "cross_entropy_smoothing": _xent(label_smoothing=0.1),
    "nll_mean": _nll("mean"),
    "nll_sum": _nll("sum"),
    "nll_none": _nll("none"),
    "mse_mean": lambda T, x: T.nn.functional.mse_loss(x * x, T.tensor(np.ones((6, 5), np.float32) * 0.3)),
    "mse_sum": lambda T, x: T.nn.functional.mse_loss(x.tanh(), x * 0.5, reduction="sum"),
    "mse_none": lambda T, x: T.nn.functional.mse_loss(x.tanh(), x * 0.5, reduction="none").sum(),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses(name):
    rng = np.random.default_rng(2)
    check(LOSSES[name], [rng.standard_normal((6, 5)).astype(np.float32)])


def _linear(T, x, w, b):
    return weighted(T.nn.functional.linear(x, w, b).tanh(), T) + (T.nn.functional.linear(x, w) ** 2).sum()


def _linear_3d(T, x, w, b):
    return (T.nn.functional.linear(x, w, b).sigmoid() ** 2).sum()


def _bn(training, relu=False, four_d=False):
    def fn(T, x, w, b):
        C = x.shape[1]
        rm = T.tensor(np.linspace(-0.2, 0.3, C).astype(np.float32))
        rv = T.tensor(np.linspace(0.5, 1.5, C).astype(np.float32))
        y = T.nn.functional.batch_norm(x * x if not training else x, rm, rv, w, b, training=training)
        y = y.relu() if relu else y
        return weighted(y.tanh() if four_d else y, T) + ((y * x).sum() ** 2) * 0.01

    return fn


def _layer_norm(T, x, w, b):
    return weighted(T.nn.functional.layer_norm(x, (x.shape[-1],), w, b) * x, T)


def _group_norm(T, x, w, b):
    return ((T.nn.functional.group_norm(x, 2, w, b) * x).tanh() ** 2).sum()


NORMS = {
    "linear": (_linear, [(6, 5), (3, 5), (3,)]),
    "linear_3d": (_linear_3d, [(2, 3, 5), (4, 5), (4,)]),
    "batch_norm_train": (_bn(True), [(6, 5), (5,), (5,)]),
    "batch_norm_eval": (_bn(False), [(6, 5), (5,), (5,)]),
    "batch_norm_train_4d": (_bn(True, four_d=True), [(4, 3, 2, 2), (3,), (3,)]),
    "batch_norm_eval_4d": (_bn(False, four_d=True), [(4, 3, 2, 2), (3,), (3,)]),
    "layer_norm": (_layer_norm, [(6, 5), (5,), (5,)]),
    "group_norm": (_group_norm, [(3, 4, 3), (4,), (4,)]),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_layers(name):
    fn, shapes = NORMS[name]
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    loose = "norm" in name
    check(fn, arrays, rtol=1e-4, atol=1e-4 if loose else 2e-5, fd_tol=2e-2 if loose else 5e-3)


def _mlp(bn: bool, T, x, w1, b1, w2, b2, *bn_params):
    h = T.nn.functional.linear(x, w1, b1)
    if bn:
        h = T.nn.functional.batch_norm(h, None, None, *bn_params, training=True)
    h = h.tanh() if not bn else h.relu()
    out = T.nn.functional.linear(h, w2, b2)
    return T.nn.functional.cross_entropy(out, T.tensor(np.array([0, 1, 2, 1, 0, 2, 2, 1])))


@pytest.mark.parametrize("bn", [False, True], ids=["mlp", "mlp_batchnorm"])
def test_hessian_vector_products_of_small_networks(bn):
    rng = np.random.default_rng(4)
    shapes = [(8, 4), (6, 4), (6,), (3, 6), (3,), (6,), (6,)]
    arrays = [rng.standard_normal(s).astype(np.float32) * (0.7 if i else 1.0) for i, s in enumerate(shapes)]
    arrays[5] = (1.0 + 0.1 * arrays[5]).astype(np.float32)
    check(lambda T, *xs: _mlp(bn, T, *xs), arrays if bn else arrays[:5], rtol=1e-4, atol=1e-4, fd_tol=2e-2)


def test_batchnorm_modules_train_and_eval():
    """nn.BatchNorm1d/2d (their fused BatchNorm -> ReLU in nn.Sequential too): the gradient norm penalty's
    gradient with respect to the parameters, against PyTorch."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 2, 2)).astype(np.float32)
    v = rng.standard_normal((6, 3, 2, 2)).astype(np.float32)
    results = []
    for T in libs():
        T.manual_seed(0)
        for train in (True, False):
            for fused in (False, True):
                bn = T.nn.BatchNorm2d(3)
                with T.no_grad():
                    bn.weight.copy_(T.tensor([1.2, 0.8, 1.0]))
                    bn.bias.copy_(T.tensor([0.1, -0.2, 0.3]))
                    bn.running_var.copy_(T.tensor([0.5, 2.0, 1.0]))
                bn.train(train)
                model = T.nn.Sequential(bn, T.nn.ReLU()) if fused else T.nn.Sequential(bn, T.nn.Tanh())
                xt = T.tensor(x, requires_grad=True)
                out = model(xt)
                (gx,) = T.autograd.grad((out * T.tensor(v)).sum(), xt, create_graph=True)
                penalty = (gx * gx).sum()
                penalty.backward()
                results.append([_np(bn.weight.grad), _np(bn.bias.grad), _np(xt.grad), _np(gx)])
    if HAVE_TORCH:
        half = len(results) // 2
        for ours, ref in zip(results[:half], results[half:], strict=True):
            for a, b in zip(ours, ref, strict=True):
                close(a, b, 1e-3, 1e-3)


def test_batchnorm_module_internals_see_the_step():
    bn = torch.nn.BatchNorm1d(3)
    x = torch.randn(5, 3, requires_grad=True)
    (gx,) = torch.autograd.grad(bn(x).pow(2).sum(), x, create_graph=True)
    np.testing.assert_allclose(bn.dx, gx.detach().numpy(), rtol=1e-6)


def _critic(T, x, w1, b1, w2, b2, ln: bool):
    h = T.nn.functional.linear(x, w1, b1)
    if ln:
        h = T.nn.functional.layer_norm(h, (h.shape[-1],))
    return T.nn.functional.linear(h.tanh(), w2, b2)


@pytest.mark.parametrize("ln", [False, True], ids=["mlp", "layer_norm"])
def test_gradient_penalty_training_matches_pytorch(ln):
    """WGAN-GP's critic step, ||grad_x D(x_hat)||: 3 SGD steps, the losses and parameters against PyTorch."""
    rng = np.random.default_rng(6)
    init = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in [(8, 3), (8,), (1, 8), (1,)]]
    batches = [
        (rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32) + 1.0)
        for _ in range(3)
    ]
    mix = [rng.random((5, 1)).astype(np.float32) for _ in range(3)]
    runs = []
    for T in libs():
        params = [T.tensor(a, requires_grad=True) for a in init]
        opt = T.optim.SGD(params, lr=0.05, momentum=0.9)
        losses = []
        for (real_x, fake_x), eps in zip(batches, mix, strict=True):
            real_t, fake_t, e = T.tensor(real_x), T.tensor(fake_x), T.tensor(eps)
            x_hat = (e * real_t + (1.0 - e) * fake_t).requires_grad_(True)
            d_hat = _critic(T, x_hat, *params, ln)
            (g,) = T.autograd.grad(d_hat.sum(), x_hat, create_graph=True)
            penalty = (((g * g).sum(1) + 1e-12).sqrt() - 1.0).pow(2).mean()
            loss = _critic(T, fake_t, *params, ln).mean() - _critic(T, real_t, *params, ln).mean() + 10.0 * penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append((losses, [_np(p) for p in params]))
    if HAVE_TORCH:
        (l1, p1), (l2, p2) = runs
        close(l1, l2, 1e-4, 1e-4)
        for a, b in zip(p1, p2, strict=True):
            close(a, b, 1e-4, 1e-4)
    assert runs[0][0][0] != runs[0][0][-1]


# ---------------------------------------------------------------- autograd.Function
def cube_class(T):
    class Cube(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3.0 * x * x * g

    return Cube


def split_class(T):
    class Split(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale: float):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x.exp(), x * scale

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            return ga * x.exp() + gb * ctx.scale, None

    return Split


def saved_output_class(T):
    class Sigmoid(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = 1.0 / (1.0 + (-x).exp())
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y * (1.0 - y)

    return Sigmoid


FUNCTIONS = {
    "cube": lambda T, x: weighted(cube_class(T).apply(x), T),
    "two_outputs": lambda T, x: weighted(split_class(T).apply(x, 0.5)[0] * split_class(T).apply(x, 2.0)[1], T),
    "saved_output": lambda T, x: weighted(saved_output_class(T).apply(x * 2.0), T),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_autograd_function_with_differentiable_backward(name):
    check(FUNCTIONS[name], [A34])


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


def test_once_differentiable_refuses_a_second_derivative():
    messages = []
    for T in libs():
        x = T.tensor(A34, requires_grad=True)
        y = once_class(T).apply(x)
        (g,) = T.autograd.grad((y * y).sum(), x, create_graph=True)  # grad_output 2y requires grad
        assert g.requires_grad
        with pytest.raises(RuntimeError) as info:
            g.sum().backward()
        messages.append(str(info.value))
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            T.autograd.grad(g.sum(), x)  # grad() does not run the error's node: x is not behind it
        (plain,) = T.autograd.grad(once_class(T).apply(x).sum(), x)  # first order: fine
        np.testing.assert_allclose(_np(plain), 3 * A34.astype(np.float64) ** 2, rtol=1e-5)
    assert messages[0] == "trying to differentiate twice a function that was marked with @once_differentiable"
    assert len(set(messages)) == 1


# ---------------------------------------------------------------- backward(create_graph=True), grad's arguments
@pytest.fixture
def fresh_warning():
    """The reference-cycle warning comes once per process, as PyTorch's TORCH_WARN_ONCE: let it come again."""
    _double_backward._warned.clear()
    yield


def test_backward_create_graph_accumulates_a_grad_with_history(fresh_warning):
    found = []
    for T in libs():
        if T is torch:
            _double_backward._warned.clear()
        x = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (x**3).sum().backward(create_graph=True)
            (x**3).sum().backward(create_graph=True)
        texts = [str(w.message) for w in caught]
        assert len(texts) <= 1 and all(w.category is UserWarning for w in caught)
        assert x.grad.requires_grad and x.grad.grad_fn is not None and x.grad.is_leaf is False
        first = _np(x.grad)
        x.grad.sum().backward()
        found.append((texts, first, _np(x.grad)))
    ours = found[0]
    assert ours[0] and ours[0][0].startswith("Using backward() with create_graph=True will create a reference cycle")
    np.testing.assert_allclose(ours[1], 6 * np.array([0.25, 1.0, 4.0]), rtol=1e-6)
    if HAVE_TORCH:
        ref = found[1]
        assert ref[0] == [] or ref[0][0].startswith(ours[0][0])
        np.testing.assert_allclose(ours[2], ref[2], rtol=1e-6)


def test_backward_create_graph_checks_its_arguments(fresh_warning):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward(create_graph=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(torch.ones(3), create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.ones(2).sum().backward(create_graph=True)
    with pytest.warns(UserWarning, match="reference cycle"):
        (x * x).backward(torch.tensor([1.0, -1.0]), create_graph=True)
    np.testing.assert_allclose(x.grad.detach().numpy(), [2.0, -4.0])


def test_retain_graph_defaults_to_create_graph():
    for T in libs():
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        (g,) = T.autograd.grad(y, x, create_graph=True)
        (again,) = T.autograd.grad(y, x)  # the graph was kept
        np.testing.assert_allclose(_np(g), _np(again), rtol=1e-6)
        z = (x.exp() * x).sum()
        (g2,) = T.autograd.grad(z, x, create_graph=True, retain_graph=False)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            T.autograd.grad(z, x)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            g2.sum().backward()  # its graph runs through the freed one


def test_grad_create_graph_arguments_as_pytorch():
    for T in libs():
        x = T.tensor([1.0, 2.0], requires_grad=True)
        u = T.tensor([3.0], requires_grad=True)
        y = (x * x).sum()
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            T.autograd.grad(y, [x, u], create_graph=True)
        gx, gu = T.autograd.grad(y, [x, u], create_graph=True, allow_unused=True)
        assert gu is None and gx.requires_grad
        gx, gu = T.autograd.grad(y, [x, u], create_graph=True, materialize_grads=True)
        assert _np(gu).tolist() == [0.0]
        # grad_outputs that require grad: the gradient is differentiable with respect to them too
        v = T.tensor([0.5, -1.0], requires_grad=True)
        (g,) = T.autograd.grad(x * x * x, x, v, create_graph=True)
        dv, dx = T.autograd.grad(g.sum(), [v, x])
        np.testing.assert_allclose(_np(dv), 3 * np.array([1.0, 4.0]), rtol=1e-6)
        np.testing.assert_allclose(_np(dx), 6 * np.array([1.0, 2.0]) * np.array([0.5, -1.0]), rtol=1e-6)
        # an interior input, with only what leads to it run
        h = x * 3.0
        (gh,) = T.autograd.grad((h**2).sum(), h, create_graph=True)
        (dgh,) = T.autograd.grad(gh.sum(), x)
        np.testing.assert_allclose(_np(dgh), [6.0, 6.0], rtol=1e-6)
        # several outputs
        (ga,) = T.autograd.grad([(x**2).sum(), (x**3).sum()], x, create_graph=True)
        np.testing.assert_allclose(_np(T.autograd.grad(ga.sum(), x)[0]), 2 + 6 * np.array([1.0, 2.0]), rtol=1e-6)


def test_third_derivative():
    for T in libs():
        x = T.tensor([0.3, -0.7], requires_grad=True)
        y = (x.sin() * x.exp()).sum()
        (g1,) = T.autograd.grad(y, x, create_graph=True)
        (g2,) = T.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = T.autograd.grad(g2.sum(), x)
        a = np.array([0.3, -0.7])
        np.testing.assert_allclose(_np(g3), 2 * np.exp(a) * (np.cos(a) - np.sin(a)), rtol=1e-5)


def test_hooks_and_retain_grad_see_tensors_of_the_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    seen = []
    h.register_hook(lambda g: seen.append(g.requires_grad) or g * 2.0)
    h.retain_grad()
    (g,) = torch.autograd.grad((h * h).sum(), x, create_graph=True)
    assert seen == [True] and h.grad.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), 2 * 2 * np.array([1.0, 4.0]) * np.array([2.0, 4.0]))


def test_unsupported_ops_raise():
    x = torch.tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    y = torch.clamp(x, -0.5, 1.0) * x
    with pytest.raises(NotImplementedError, match=r"double backward through Clamp \(ClampBackward\) is not supported"):
        torch.autograd.grad(y.sum(), x, create_graph=True)
    (plain,) = torch.autograd.grad((torch.clamp(x, -0.5, 1.0) * x).sum(), x)  # first order still works
    assert plain.shape == x.shape
    img = torch.randn(1, 1, 4, 4, requires_grad=True)
    w = torch.randn(2, 1, 3, 3)
    with pytest.raises(NotImplementedError, match="double backward through Convolution"):
        torch.autograd.grad(F.conv2d(img, w).pow(2).sum(), img, create_graph=True)


def test_dropout_mask_is_a_constant():
    torch.manual_seed(0)
    x = torch.randn(4, 6, requires_grad=True)
    y = F.dropout(x, 0.5)
    (g,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    kept = (y.detach().numpy() != 0).astype(np.float32)
    np.testing.assert_allclose(g.detach().numpy(), 2 * y.detach().numpy() * 2 * kept, rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), 2 * 4 * kept, rtol=1e-6)


def test_inplace_relu_and_modified_inputs():
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    h = x * 1.0
    h.relu_()
    (g,) = torch.autograd.grad((h**3).sum(), x, create_graph=True)
    (h2,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h2.numpy(), 6 * np.array([0.5, 0.0, 2.0]), rtol=1e-6)
    a = x * 2.0
    b = a.exp()
    a += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad((b * a).sum(), x, create_graph=True)


def test_ordinary_backward_is_unchanged():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x**2).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    (g,) = torch.autograd.grad((x**2).sum(), x)
    assert g.grad_fn is None
