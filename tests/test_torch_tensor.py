"""bnlab.torch tensors: creation and dtypes, shapes and views, indexing, arithmetic with broadcasting (against
NumPy), reductions, conversions, printing, and autograd (gradients against PyTorch's, graph rules).

The engine computes float32 elementwise ops exactly as NumPy does in float32 (same IEEE operations), so those
comparisons are exact; sums accumulate in double in the engine, hence a 1e-6 relative tolerance there.
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt

RNG = np.random.default_rng(0)


def rand(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- creation, dtypes, shapes
def test_dtype_inference_and_shape_api():
    assert bt.tensor([1.5, 2]).dtype is bt.float32
    assert bt.tensor([1, 2]).dtype is bt.int64 and bt.tensor([True]).dtype is bt.bool
    assert bt.tensor(np.arange(3.0)).dtype is bt.float32  # float64 data: the engine computes in float32
    x = bt.zeros(2, 3, 4)
    assert x.shape == bt.Size([2, 3, 4]) == x.size() and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert str(x.shape) == "torch.Size([2, 3, 4])" and repr(bt.Size([1, 128])) == "torch.Size([1, 128])"
    assert x.reshape(-1, 4).shape == (6, 4) and x.view(2, -1).shape == (2, 12) and x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12) and x.unsqueeze(0).shape == (1, 2, 3, 4)
    with pytest.raises(RuntimeError, match=r"shape '\[5, -1\]' is invalid for input of size 24"):
        x.view(5, -1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


def test_view_shares_memory_and_numpy_is_zero_copy():
    x = bt.zeros(2, 6)
    v = x.view(3, 4)
    v.numpy()[0, 0] = 7.0
    assert x[0, 0].item() == 7.0
    a = x.numpy()
    a[1, 5] = 3.0
    assert x[1, 5].item() == 3.0 and x.numpy() is a
    labels = np.array([1, 2, 3])
    t = bt.from_numpy(labels)  # integer arrays are shared, as PyTorch shares them
    labels[0] = 9
    assert t[0].item() == 9


def test_manual_seed_makes_random_tensors_reproducible():
    bt.manual_seed(42)
    a, p = bt.randn(3, 4), bt.randperm(10)
    bt.manual_seed(42)
    np.testing.assert_array_equal(a.numpy(), bt.randn(3, 4).numpy())
    np.testing.assert_array_equal(p.numpy(), bt.randperm(10).numpy())
    assert bt.rand(1000).numpy().min() >= 0 and abs(bt.randn(10000).numpy().std() - 1) < 0.05


# ---------------------------------------------------------------- indexing
def test_indexing_and_slicing_match_numpy():
    a = rand(4, 5, 3)
    x = bt.tensor(a)
    for key in [1, -1, (2, 3), slice(1, 3), (slice(None), 2), (Ellipsis, 0), ([0, 2],), (slice(None), [4, 0, 1])]:
        np.testing.assert_array_equal(x[key].numpy(), a[key])
    mask = a[:, :, 0] > 0
    np.testing.assert_array_equal(x[bt.tensor(mask)].numpy(), a[mask])
    np.testing.assert_array_equal(x[bt.tensor([3, 1])].numpy(), a[[3, 1]])
    np.testing.assert_array_equal(x[bt.tensor([-1, 0])].numpy(), a[[-1, 0]])
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 0 with size 4"):
        x[bt.tensor([0, 4])]
    x[0] = 0.0
    x[1, :, 2] = bt.tensor([1.0, 2, 3, 4, 5])
    assert x[0].numpy().sum() == 0 and x[1, 4, 2].item() == 5.0
    with pytest.raises(IndexError, match="tensors used as indices must be long"):
        x[bt.tensor([0.0])]


# ---------------------------------------------------------------- arithmetic
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((5,), ()), ((), (2, 2))]


@pytest.mark.parametrize(("sa", "sb"), SHAPES)
def test_broadcast_arithmetic_matches_numpy_exactly(sa, sb):
    a, b = rand(*sa), rand(*sb) + np.float32(3.0)
    x, y = bt.tensor(a), bt.tensor(b)
    np.testing.assert_array_equal((x + y).numpy(), a + b)
    np.testing.assert_array_equal((x - y).numpy(), a - b)
    np.testing.assert_array_equal((x * y).numpy(), a * b)
    np.testing.assert_array_equal((x / y).numpy(), a / b)
    np.testing.assert_array_equal((x > y).numpy(), a > b)


def test_scalar_ops_unary_ops_and_integer_tensors():
    a = rand(3, 4)
    x = bt.tensor(a)
    f = np.float32
    for got, want in [
        (x + 1.5, a + f(1.5)),
        (2 - x, f(2) - a),
        (x * 3, a * f(3)),
        (x / 255, a / f(255)),
        (1 / x, f(1) / a),
        (-x, -a),
        (x**2, a * a),
        (abs(x), np.abs(a)),
        (x.abs().sqrt(), np.sqrt(np.abs(a))),
        (x.exp(), np.exp(a)),
    ]:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    n = bt.tensor([1, 2, 3])
    assert (n + 1).dtype is bt.int64 and (n * 2).tolist() == [2, 4, 6]
    assert (n / 2).dtype is bt.float32 and (n / 2).tolist() == [0.5, 1.0, 1.5]
    assert (n * 0.5).dtype is bt.float32 and (x * n.view(3, 1)).dtype is bt.float32
    assert ((n == 2) | (n == 3)).tolist() == [False, True, True]


def test_matmul_and_inplace_updates():
    a, b = rand(3, 4), rand(4, 2)
    np.testing.assert_allclose((bt.tensor(a) @ bt.tensor(b)).numpy(), a @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bt.matmul(bt.tensor(a[0]), bt.tensor(b)).numpy(), a[0] @ b, rtol=1e-5, atol=1e-6)
    w = bt.tensor(a)
    w -= 0.5 * bt.ones(3, 4)
    w.mul_(2).add_(bt.ones(4), alpha=3)
    np.testing.assert_allclose(w.numpy(), (a - 0.5) * 2 + 3, rtol=1e-6)
    w.zero_()
    assert w.sum().item() == 0


# ---------------------------------------------------------------- reductions and conversions
def test_reductions_max_argmax_and_item():
    a = rand(4, 5)
    x = bt.tensor(a)
    np.testing.assert_allclose(x.sum().item(), a.sum(dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(x.sum(0).numpy(), a.sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.mean(1, keepdim=True).numpy(), a.mean(1, keepdims=True), rtol=1e-5, atol=1e-6)
    values, indices = bt.max(x, 1)
    np.testing.assert_array_equal(values.numpy(), a.max(1))
    assert indices.dtype is bt.int64 and indices.tolist() == a.argmax(1).tolist()
    assert x.max().item() == a.max() and x.argmax().item() == a.argmax() and x.argmax(0).tolist() == list(a.argmax(0))
    predicted = bt.tensor([1, 2, 3, 4])
    labels = bt.tensor([1, 0, 3, 4])
    correct = (predicted == labels).sum().item()
    assert correct == 3 and isinstance(correct, int)
    loss = bt.tensor(0.123456)
    assert f"{loss.item():.4f}" == "0.1235" and f"{loss:.2f}" == "0.12"
    with pytest.raises(RuntimeError, match="a Tensor with 20 elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        labels.mean()


def test_devices_and_cuda_availability():
    from bnlab import _core

    x = bt.ones(2)
    assert x.to("cpu") is x and x.cpu() is x and x.device == bt.device("cpu")
    assert repr(bt.device("cuda:0")) == "device(type='cuda', index=0)" and str(bt.device("cpu")) == "cpu"
    expected = bool(_core.built_with_cuda) and _core.backend_available(_core.Device.CUDA)
    assert bt.cuda.is_available() is expected
    if not expected:
        with pytest.raises(RuntimeError, match=r"not compiled with CUDA enabled|No CUDA GPUs"):
            x.cuda()


@pytest.mark.gpu
def test_tensors_move_to_the_gpu_and_back():
    if not bt.cuda.is_available():
        pytest.skip("no CUDA device")
    x = bt.randn(4, 3, requires_grad=True)
    y = x.cuda()
    assert y.is_cuda and y.device == bt.device("cuda:0")
    np.testing.assert_array_equal(y.cpu().numpy(force=True), x.detach().numpy())
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        y.detach().numpy()


def test_repr_matches_pytorch_for_common_tensors():
    torch = pytest.importorskip("torch")
    for data in ([1.0, 2.0, 3.0], [[0.12345, -1.0], [100.0, 2.0]], [1, 2, 3], 3.14159, [True, False], [1e-5, 1.0]):
        assert repr(bt.tensor(data)) == repr(torch.tensor(data)), data
    assert repr(bt.ones(2, requires_grad=True)) == repr(torch.ones(2, requires_grad=True))


# ---------------------------------------------------------------- autograd
def test_gradients_of_a_broadcast_expression_match_pytorch():
    torch = pytest.importorskip("torch")
    arrays = [rand(3, 4), rand(4), rand(3, 1), rand(2, 4)]
    bts = [bt.tensor(a, requires_grad=True) for a in arrays]
    tts = [torch.tensor(a, requires_grad=True) for a in arrays]

    def expression(lib, a, b, c, d):
        e = (a * b + c / (lib.exp(b) + 1)) ** 2 - a.abs().sqrt() * 0.5
        f = lib.log(e.sum(0) + 10.0) / 3.0 - (1.0 / (c.pow(2) + 1)).mean()
        g = lib.matmul(d, e.t())[:, 1:] * 2
        return f.sum() + g.mean() + (2.0 - a).var() + lib.max(e, 1)[0].sum() + lib.cat([a, d], 0).std()

    expression(bt, *bts).backward()
    expression(torch, *tts).backward()
    for x, y in zip(bts, tts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=2e-5, atol=1e-6)


def test_gradients_accumulate_and_graph_rules():
    w = bt.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * w).sum().backward()
    assert w.grad.tolist() == [3 + 2, 3 + 4]  # accumulated: 3 + 2w
    y = (w * w).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (w * 2).backward()
    (w * 2).backward(bt.tensor([1.0, 0.5]))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w += 1
    with bt.no_grad():
        w -= 0.1 * w.grad  # a manual update, allowed without autograd
        z = w * 2
    assert not z.requires_grad and z.grad_fn is None
    assert (w * 2).grad_fn.name == "Mul" and w.is_leaf and not (w * 2).is_leaf
    assert not w.detach().requires_grad and not w.data.requires_grad
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        w.numpy()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        bt.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        bt.tensor([1, 2]).requires_grad_()


def test_a_gradient_shared_by_two_leaves_is_not_aliased():
    a, b = bt.ones(3, requires_grad=True), bt.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad += 5  # writes to one leaf's gradient must not leak into the other's
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_sums_over_an_empty_dimension_are_zero():
    """torch.zeros(3, 0).sum(1) is tensor([0., 0., 0.]); the engine must not divide by the empty size."""
    t = bt.zeros(3, 0)
    assert t.sum(1).tolist() == [0.0, 0.0, 0.0]
    assert t.sum().item() == 0.0
    assert bt.zeros(0, 4).sum(0).tolist() == [0.0] * 4
