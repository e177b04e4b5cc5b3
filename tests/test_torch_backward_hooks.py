"""Module backward hooks (register_full_backward_hook, register_full_backward_pre_hook) against PyTorch: what
each hook sees at a Linear -> BatchNorm1d -> ReLU boundary, a pre-hook that scales grad_output, a hook that
replaces grad_input, removal, and the warning for a module whose inputs need no gradient.

Tolerance: a few float32 sums over 6 rows and products; both libraries round each once, so 1e-5 relative with
1e-6 absolute bounds the differences for values of order 1.
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
W = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 10


def arrays(gs):
    return [None if g is None else g.numpy().copy() for g in gs]


def run(T, replace=False, remove=False, input_grad=True):
    lin, bn, relu = T.nn.Linear(4, 3), T.nn.BatchNorm1d(3), T.nn.ReLU()
    with T.no_grad():
        lin.weight.copy_(T.tensor(W))
        lin.bias.zero_()
    log = []
    handles = [
        bn.register_full_backward_hook(lambda m, gi, go: log.append(("bn", arrays(gi), arrays(go)))),
        relu.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,)),
    ]
    if replace:
        handles.append(bn.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,)))
    handles.append(lin.register_full_backward_hook(lambda m, gi, go: log.append(("lin", arrays(gi), arrays(go)))))
    if remove:
        for h in handles:
            h.remove()
    x = T.tensor(X, requires_grad=input_grad)
    T.nn.Sequential(lin, bn, relu)(x).pow(2).sum().backward()
    return log, lin.weight.grad.numpy(), None if x.grad is None else x.grad.numpy()


def same(ours, theirs):
    log_a, w_a, x_a = ours
    log_b, w_b, x_b = theirs
    assert [e[0] for e in log_a] == [e[0] for e in log_b]
    for ea, eb in zip(log_a, log_b, strict=True):
        for ga, gb in zip(ea[1] + ea[2], eb[1] + eb[2], strict=True):
            assert (ga is None) == (gb is None)
            if ga is not None:
                np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_a, w_b, rtol=1e-5, atol=1e-6)
    if x_b is not None:
        np.testing.assert_allclose(x_a, x_b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("replace", [False, True], ids=["observe", "replace grad_input"])
def test_hooks_see_and_change_the_gradients_as_in_pytorch(replace):
    same(run(bt, replace=replace), run(torch, replace=replace))


def test_removed_hooks_do_not_run():
    ours = run(bt, remove=True)
    assert ours[0] == []
    same(ours, run(torch, remove=True))


def test_a_module_whose_inputs_need_no_gradient_warns_as_pytorch():
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        ours = run(bt, input_grad=False)
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        theirs = run(torch, input_grad=False)
    same(ours, theirs)
    assert ours[0][-1][1] == [None]  # the Linear's grad_input: its input needs none


def test_a_hooked_batchnorm_is_not_fused_with_its_relu():
    bn = bt.nn.BatchNorm1d(3)
    seen = []
    bn.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].numpy().copy()))
    x = bt.tensor(X[:, :3], requires_grad=True)
    out = bt.nn.Sequential(bn, bt.nn.ReLU())(x)
    (out * bt.tensor(np.ones((6, 3), np.float32))).sum().backward()
    # grad_output of the BN is the ReLU's gate applied to ones: exactly [y > 0]
    np.testing.assert_array_equal(seen[0], (out.detach().numpy() > 0).astype(np.float32))
