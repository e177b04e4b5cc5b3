"""Hooks on the torch face, against real PyTorch where it is installed: ``Tensor.register_hook`` and
``retain_grad`` (makemore part 3 plots the gradients of non-leaf activations), module forward and
pre-forward hooks (recording a BN layer's activations), and their removable handles."""

import numpy as np
import pytest

import bnlab.torch as bt

X = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
W = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)


def _libs():
    libs = [bt]
    try:
        import torch

        libs.append(torch)
    except ImportError:
        pass
    return libs


def _graph(lib, hook_on_h=None, hook_on_w=None):
    """h = tanh(x @ w), loss = sum(h * h) + sum(h): two paths into h. Returns (w, h, calls)."""
    x, w = lib.tensor(X), lib.tensor(W, requires_grad=True)
    h = lib.tanh(x @ w)
    h.retain_grad()
    calls = []
    if hook_on_h:
        h.register_hook(lambda g: (calls.append(g.detach().numpy().copy()), hook_on_h(g))[1])
    if hook_on_w:
        w.register_hook(hook_on_w)
    ((h * h).sum() + h.sum()).backward()
    return w, h, calls


@pytest.mark.parametrize(
    ("on_h", "on_w"),
    [(None, None), (lambda g: None, None), (lambda g: g * 2.0, None), (None, lambda g: g * 0.5)],
    ids=["retain", "observe", "scale-h", "scale-w"],
)
def test_tensor_hooks_and_retain_grad_match_pytorch(on_h, on_w):
    results = []
    for lib in _libs():
        w, h, calls = _graph(lib, on_h, on_w)
        assert h.retains_grad and not h.is_leaf
        results.append((w.grad.numpy(), h.grad.numpy(), calls))
    w_grad, h_grad, calls = results[0]
    # dL/dh = 2h + 1, summed over both paths before the hook sees it (once)
    h_ref = np.tanh(X @ W)
    np.testing.assert_allclose(h_grad, (2 * h_ref + 1) * (2.0 if on_h and on_h(1.0) == 2.0 else 1.0), rtol=1e-5)
    if on_h:
        assert len(calls) == 1
    for theirs in results[1:]:
        np.testing.assert_allclose(w_grad, theirs[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h_grad, theirs[1], rtol=1e-5, atol=1e-6)


def test_a_removed_hook_no_longer_runs_and_retained_gradients_accumulate():
    for lib in _libs():
        w = lib.tensor(W, requires_grad=True)
        h = w * 3.0
        h.retain_grad()
        calls = []
        handle = w.register_hook(lambda g, calls=calls: calls.append(1))
        loss = h.sum()
        loss.backward(retain_graph=True)
        handle.remove()
        loss.backward()
        assert len(calls) == 1
        np.testing.assert_array_equal(h.grad.numpy(), np.full(W.shape, 2.0, np.float32))  # 1 + 1
        np.testing.assert_array_equal(w.grad.numpy(), np.full(W.shape, 6.0, np.float32))
        with w.register_hook(lambda g, calls=calls: calls.append(2)):
            (w * 1.0).sum().backward()
        (w * 1.0).sum().backward()
        assert calls == [1, 2]


def test_hook_errors_say_what_is_wrong():
    w = bt.tensor(W, requires_grad=True)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        bt.tensor(W).register_hook(lambda g: None)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        bt.tensor(W).retain_grad()
    w.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (w * 2.0).sum().backward()
    with pytest.raises(TypeError, match="must be callable"):
        w.register_hook(3)


def _bn_net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.BatchNorm1d(6), lib.nn.ReLU(), lib.nn.Linear(6, 2))


def test_forward_hooks_record_a_batchnorm_layers_activations_as_in_pytorch():
    recorded = []
    start = {k: v.detach().numpy().copy() for k, v in _bn_net(bt).state_dict().items()}
    for lib in _libs():
        net = _bn_net(lib)
        net.load_state_dict({k: lib.tensor(v) for k, v in start.items()})
        seen = {}
        bn = net[1]

        def pre(m, args, seen=seen):
            seen["in"] = args[0].detach().numpy().copy()

        def post(m, args, out, seen=seen):
            seen["out"] = out.detach().numpy().copy()

        h1, h2 = bn.register_forward_pre_hook(pre), bn.register_forward_hook(post)
        out = net(lib.tensor(X))
        h1.remove()
        h2.remove()
        seen["net"] = out.detach().numpy()
        recorded.append(seen)
        # the BN output is the normalized pre-activation (not yet ReLU'd): some entries are negative
        assert (seen["out"] < 0).any()
        np.testing.assert_allclose(seen["out"].mean(0), np.zeros(6), atol=1e-5)
    for theirs in recorded[1:]:
        for key in ("in", "out", "net"):
            np.testing.assert_allclose(recorded[0][key], theirs[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_hooks_that_return_values_replace_the_input_and_the_output():
    outs = []
    for lib in _libs():
        lin = lib.nn.Linear(4, 3)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(W.T.copy()))
            lin.bias.zero_()
        pre = lin.register_forward_pre_hook(lambda m, args: args[0] * 2.0)
        post = lin.register_forward_hook(lambda m, args, out: out + 1.0)
        outs.append(lin(lib.tensor(X)).detach().numpy())
        pre.remove()
        post.remove()
        np.testing.assert_allclose(lin(lib.tensor(X)).detach().numpy(), X @ W, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[0], 2 * X @ W + 1, rtol=1e-5, atol=1e-5)
    for theirs in outs[1:]:
        np.testing.assert_allclose(outs[0], theirs, rtol=1e-5, atol=1e-5)
