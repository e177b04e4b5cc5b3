"""bnlab.torch's elementwise functions (sin, cos, tan, sinh, cosh, log2, log10, log1p, expm1, floor, ceil,
trunc, round) and numeric helpers (histogram, meshgrid, bmm, normal, multinomial) against PyTorch, and their
backward rules against central differences.

Tolerances, from the computation: bnlab's CPU calls glibc's float functions (at most 2 ulp from the exact value,
the glibc manual's table for x86_64), PyTorch its SLEEF kernels (at most 1 ulp): forwards agree within 3 ulp of
the result. A backward is one such function value times g (and for tan, 1 + out^2): a product's rounding adds
half an ulp per operation and squaring doubles a relative error, so 8 ulp bounds every rule here, except where
a rule adds 1 to a value near -1 (expm1's g (out + 1)): there the forward's 3 ulp of out are an absolute error.
The rounding functions are exact in both.
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)

DOMAINS = {  # inputs away from the poles and the domain edges, where a function's value is not a float of note
    "sin": (-10, 10),
    "cos": (-10, 10),
    "tan": (-1.4, 1.4),
    "sinh": (-5, 5),
    "cosh": (-5, 5),
    "log2": (0.01, 50),
    "log10": (0.01, 50),
    "log1p": (-0.9, 50),
    "expm1": (-3, 3),
}


def ulps(a, b):
    """|a - b| in units of the float32 spacing at max(|a|, |b|) (elementwise)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    scale = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(np.float32))
    return np.abs(a.astype(np.float64) - b.astype(np.float64)) / scale


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_functions_and_their_gradients_match_pytorch(name):
    lo, hi = DOMAINS[name]
    x = RNG.uniform(lo, hi, size=(7, 33)).astype(np.float32)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    xb, xt = bt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yb, yt = getattr(bt, name)(xb), getattr(torch, name)(xt)
    assert ulps(yb.detach().numpy(), yt.detach().numpy()).max() <= 3
    (yb * bt.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    got, want = xb.grad.numpy(), xt.grad.numpy()
    bound = 8 * np.spacing(np.maximum(np.abs(got), np.abs(want)))
    if name == "expm1":  # g (out + 1): out's 3 ulp cancel against the 1 near x = -3 (out = -0.95), absolutely
        bound += np.abs(g) * 3 * np.spacing(np.abs(yt.detach().numpy()))
    assert np.all(np.abs(got.astype(np.float64) - want) <= bound)
    # the method form gives the same values
    np.testing.assert_array_equal(getattr(xb, name)().detach().numpy(), yb.detach().numpy())


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_backward_rules_match_central_differences(name):
    # float64 central differences of the float64 function: the rule's float32 value must agree to float32
    # rounding of f'(x) (8 ulp, as above) plus the difference quotient's O(h^2) error, under 1e-6 relative here.
    lo, hi = DOMAINS[name]
    x = RNG.uniform(lo, hi, size=50).astype(np.float32)
    xb = bt.tensor(x, requires_grad=True)
    getattr(bt, name)(xb).sum().backward()
    f = {"log2": np.log2, "log10": np.log10}.get(name, getattr(np, name))
    h = 1e-5
    x64 = x.astype(np.float64)
    numeric = (f(x64 + h) - f(x64 - h)) / (2 * h)
    np.testing.assert_allclose(xb.grad.numpy(), numeric, rtol=8 * 2**-23 + 1e-6, atol=0)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round"])
def test_rounding_is_exact_half_to_even_and_has_a_zero_gradient(name):
    x = np.concatenate([RNG.uniform(-20, 20, 200), [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.0, 3.0]]).astype(np.float32)
    xb = bt.tensor(x, requires_grad=True)
    yb = getattr(bt, name)(xb)
    np.testing.assert_array_equal(yb.detach().numpy(), getattr(torch, name)(torch.tensor(x)).numpy())
    yb.sum().backward()
    assert not xb.grad.numpy().any()
    ints = bt.tensor([3, -4, 5])
    assert getattr(bt, name)(ints).dtype == bt.int64  # integer tensors come back unchanged


def test_round_with_decimals_follows_pytorch():
    x = RNG.uniform(-100, 100, 300).astype(np.float32)
    for d in (-1, 1, 2, 3):
        np.testing.assert_array_equal(
            bt.round(bt.tensor(x), decimals=d).numpy(), torch.round(torch.tensor(x), decimals=d).numpy()
        )
    with pytest.raises(TypeError, match="decimals"):
        bt.round(bt.tensor(x), decimals=1.5)


def test_integer_inputs_promote_to_float32_as_pytorch():
    for name in ("sin", "log10", "expm1"):
        got, want = getattr(bt, name)(bt.tensor([1, 2, 3])), getattr(torch, name)(torch.tensor([1, 2, 3]))
        assert str(got.dtype) == str(want.dtype) == "torch.float32"
        assert ulps(got.numpy(), want.numpy()).max() <= 3


# ---------------------------------------------------------------- histogram
@pytest.mark.parametrize("bins,kw", [(10, {}), (7, {"range": (-1.0, 2.0)}), (5, {"density": True}), (1, {})])
def test_histogram_matches_pytorch(bins, kw):
    x = RNG.standard_normal(1000).astype(np.float32)
    x[:3] = [x.min(), x.max(), 0.0]  # the edges themselves
    got, want = bt.histogram(bt.tensor(x), bins, **kw), torch.histogram(torch.tensor(x), bins, **kw)
    np.testing.assert_array_equal(got.bin_edges.numpy(), want.bin_edges.numpy())
    if kw.get("density"):  # counts / (total * width): one division and one product of rounded floats
        np.testing.assert_allclose(got.hist.numpy(), want.hist.numpy(), rtol=4 * 2**-23)
    else:
        np.testing.assert_array_equal(got.hist.numpy(), want.hist.numpy())
    assert repr(got).startswith("torch.return_types.histogram(\nhist=tensor(")


def test_histogram_with_weights_given_edges_and_a_constant_input():
    x = RNG.uniform(0, 4, 500).astype(np.float32)
    w = RNG.uniform(0, 1, 500).astype(np.float32)
    edges = np.array([0.0, 0.5, 1.0, 3.0, 4.0], np.float32)
    got = bt.histogram(bt.tensor(x), bt.tensor(edges), weight=bt.tensor(w))
    want = torch.histogram(torch.tensor(x), torch.tensor(edges), weight=torch.tensor(w))
    # weighted counts are float32 sums in another order: each within 500 additions' rounding of the total
    np.testing.assert_allclose(got.hist.numpy(), want.hist.numpy(), rtol=500 * 2**-24)
    same = bt.histogram(bt.tensor(np.full(9, 2.0, np.float32)), 4)
    ref = torch.histogram(torch.full((9,), 2.0), 4)
    np.testing.assert_array_equal(same.bin_edges.numpy(), ref.bin_edges.numpy())
    np.testing.assert_array_equal(same.hist.numpy(), ref.hist.numpy())


def test_histogram_rejects_bad_bins_and_integer_input():
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        bt.histogram(bt.randn(10), 0)
    with pytest.raises(RuntimeError, match="same dtype"):
        bt.histogram(bt.tensor([1, 2, 3]), 3)
    with pytest.raises(RuntimeError, match="min should not exceed max"):
        bt.histogram(bt.randn(10), 3, range=(2.0, 1.0))


# ---------------------------------------------------------------- meshgrid, bmm
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_pytorch_and_is_differentiable(indexing):
    a, b, c = np.arange(3.0, dtype=np.float32), np.arange(4.0, dtype=np.float32) * 2, np.array([5.0, 7.0], np.float32)
    ta = bt.tensor(a, requires_grad=True)
    got = bt.meshgrid(ta, bt.tensor(b), bt.tensor(c), indexing=indexing)
    want = torch.meshgrid(torch.tensor(a), torch.tensor(b), torch.tensor(c), indexing=indexing)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.detach().numpy(), w.numpy())
    got[0].sum().backward()  # each a_i appears in every grid cell of its slice
    np.testing.assert_array_equal(ta.grad.numpy(), np.full(3, 8.0, np.float32))


def test_meshgrid_without_indexing_warns_as_pytorch_does():
    with pytest.warns(UserWarning, match="indexing argument"):
        x, _ = bt.meshgrid(bt.arange(2), bt.arange(3))
    assert tuple(x.shape) == (2, 3)
    with pytest.raises(ValueError, match="indexing must be one of"):
        bt.meshgrid(bt.arange(2), indexing="yx")


def test_bmm_and_its_gradients_match_pytorch():
    a = RNG.standard_normal((4, 3, 5)).astype(np.float32)
    b = RNG.standard_normal((4, 5, 2)).astype(np.float32)
    ab, bb = bt.tensor(a, requires_grad=True), bt.tensor(b, requires_grad=True)
    at, btt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    yb, yt = bt.bmm(ab, bb), torch.bmm(at, btt)
    # sums of 5 float32 products: within 5 roundings of the largest partial sum
    np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), atol=5 * 2**-23 * np.abs(a).max() * 5)
    yb.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ab.grad.numpy(), at.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bb.grad.numpy(), btt.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(ab.bmm(bb).detach().numpy(), yb.detach().numpy())
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        bt.bmm(bt.randn(3, 5), bb)
    with pytest.raises(RuntimeError, match="Expected size for first two dimensions"):
        bt.bmm(ab, bt.randn(4, 4, 2))


# ---------------------------------------------------------------- normal, multinomial
def test_normal_forms_shapes_and_statistics():
    bt.manual_seed(0)
    z = bt.normal(2.0, 3.0, size=(20000,))
    assert tuple(z.shape) == (20000,) and z.dtype == bt.float32
    # mean within 5 standard errors (3 / sqrt(20000) = 0.021), std within 5 of its standard error (0.015)
    assert abs(z.mean().item() - 2.0) < 0.11 and abs(z.std().item() - 3.0) < 0.08
    m = bt.normal(bt.tensor([0.0, 100.0]), bt.tensor([1e-3, 1e-3]))
    np.testing.assert_allclose(m.numpy(), [0.0, 100.0], atol=0.01)
    assert tuple(bt.normal(bt.zeros(3, 2)).shape) == (3, 2)
    g1, g2 = bt.Generator().manual_seed(5), bt.Generator().manual_seed(5)
    np.testing.assert_array_equal(
        bt.normal(0.0, 1.0, (5,), generator=g1).numpy(), bt.normal(0.0, 1.0, (5,), generator=g2).numpy()
    )
    with pytest.raises(RuntimeError, match=r"std >= 0\.0"):
        bt.normal(bt.zeros(2), bt.tensor([1.0, -1.0]))


def test_multinomial_frequencies_generator_and_errors():
    probs = bt.tensor([0.1, 0.0, 0.6, 0.3])
    g = bt.Generator().manual_seed(42)
    draws = bt.multinomial(probs, 20000, replacement=True, generator=g)
    assert draws.dtype == bt.int64 and tuple(draws.shape) == (20000,)
    freq = np.bincount(draws.numpy(), minlength=4) / 20000
    # each frequency within 5 standard errors sqrt(p(1-p)/n) <= 0.0035
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.018)
    again = bt.multinomial(probs, 20000, replacement=True, generator=bt.Generator().manual_seed(42))
    np.testing.assert_array_equal(again.numpy(), draws.numpy())
    rows = bt.multinomial(bt.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 5.0]]), 2)  # without replacement: distinct
    assert tuple(rows.shape) == (2, 2)
    for r, row in enumerate(rows.numpy()):
        assert len(set(row)) == 2 and all((r, int(i)) not in {(0, 2), (1, 0)} for i in row)
    assert rows.numpy()[0].tolist() in ([0, 1], [1, 0])
    with pytest.raises(RuntimeError, match="without replacement"):
        bt.multinomial(probs, 5)
    with pytest.raises(RuntimeError, match="element < 0"):
        bt.multinomial(bt.tensor([0.5, -0.1]), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        bt.multinomial(bt.tensor([0.0, 0.0]), 1, replacement=True)
    assert bt.tensor([0.2, 0.8]).multinomial(1).dtype == bt.int64
