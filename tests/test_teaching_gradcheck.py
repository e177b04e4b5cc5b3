"""bnlab.teaching.gradcheck: the gradient checker for students' NumPy layers, and the comparison with the engine.

The layers here are written as a student would for CS231n's assignments: ``forward(x, ...) -> (out, cache)``,
``backward(dout, cache) -> grads``. Correct ones must pass with small errors; each planted bug must be flagged
for exactly the input it breaks, and bad arguments must raise an error that names them.
"""

import copy

import numpy as np
import pytest

from bnlab import teaching
from bnlab.teaching import gradcheck as gc


# ---------------------------------------------------------------- a student's layers
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    """CS231n's training-mode batch norm; updates bn_param's running statistics as the assignment asks."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.ones(D))
    sample_mean = x.mean(axis=0)
    sample_var = x.var(axis=0, ddof=bn_param.get("ddof", 0))  # ddof=1 is the planted bug
    x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
    out = gamma * x_hat + beta
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * sample_mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * sample_var
    cache = {"x": x, "x_hat": x_hat, "sample_mean": sample_mean, "sample_var": sample_var, "gamma": gamma, "eps": eps}
    return out, cache


def batchnorm_backward(dout, cache):
    """The staged backward through the computational graph."""
    x, x_hat, mu, var, gamma, eps = (cache[k] for k in ("x", "x_hat", "sample_mean", "sample_var", "gamma", "eps"))
    N = x.shape[0]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5, axis=0)
    dmu = np.sum(-dxhat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / N + dmu / N
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    """The simplified form: dx = (1/N) inv_std (N dxhat - sum dxhat - x_hat sum(dxhat x_hat))."""
    x_hat, var, gamma, eps = cache["x_hat"], cache["sample_var"], cache["gamma"], cache["eps"]
    N = x_hat.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(0) - x_hat * (dxhat * x_hat).sum(0)) / (N * np.sqrt(var + eps))
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)


def backward_missing_term(dout, cache):
    """dx without the path through the variance: wrong dx, right dgamma and dbeta."""
    x_hat, var, gamma, eps = cache["x_hat"], cache["sample_var"], cache["gamma"], cache["eps"]
    N = x_hat.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(0)) / (N * np.sqrt(var + eps))
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)


def backward_dgamma_doubled(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    return dx, 2 * dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (xhat, gamma, var, eps, mu)


def layernorm_backward(dout, cache):
    xhat, gamma, var, eps, _ = cache
    D = xhat.shape[1]
    dxhat = dout * gamma
    dx = (D * dxhat - dxhat.sum(1, keepdims=True) - xhat * (dxhat * xhat).sum(1, keepdims=True)) / (
        D * np.sqrt(var + eps)
    )
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


LN_KEYS = {"x_hat": 0, "var": 2, "mean": 4}


def bn_inputs(N=8, D=4, seed=1, offset=3.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)) * 2 + offset
    return {"x": x, "gamma": rng.uniform(0.5, 1.5, D), "beta": rng.standard_normal(D)}


# ---------------------------------------------------------------- numerical gradients and rel_error
def test_rel_error_is_cs231ns_formula():
    assert gc.rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert gc.rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert gc.rel_error(0.0, 1e-12) == pytest.approx(1e-4)  # the 1e-8 floor of the denominator
    with pytest.raises(ValueError, match="x has shape"):
        gc.rel_error(np.ones(3), np.ones((1, 3)))


def test_eval_numerical_gradient_of_a_quadratic_and_x_restored():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    before = x.copy()
    grad = gc.eval_numerical_gradient(lambda v: v @ A @ v, x)
    assert gc.rel_error(grad, (A + A.T) @ x) < 1e-8
    np.testing.assert_array_equal(x, before)


def test_eval_numerical_gradient_array_matches_the_affine_backward():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((3, 2))
    dx_num = gc.eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)
    dw_num = gc.eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)
    dx, dw, _ = affine_backward(dout, (x, w, b))
    assert gc.rel_error(dx, dx_num) < 1e-8
    assert gc.rel_error(dw, dw_num) < 1e-8


def test_x_is_restored_when_f_raises():
    x = np.arange(4.0)
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        gc.eval_numerical_gradient(f, x)
    np.testing.assert_array_equal(x, np.arange(4.0))
    assert calls[2][1] != 1.0  # the failing call did see the perturbed element


def test_numerical_gradient_arguments_are_checked():
    with pytest.raises(ValueError, match="h must be positive"):
        gc.eval_numerical_gradient(np.sum, np.ones(3), h=0)
    with pytest.raises(ValueError, match="h must be positive"):
        gc.eval_numerical_gradient_array(lambda v: v, np.ones(3), np.ones(3), h=-1e-5)
    with pytest.raises(TypeError, match="float64"):
        gc.eval_numerical_gradient(np.sum, np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        gc.eval_numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(ValueError, match="f must return a scalar"):
        gc.eval_numerical_gradient(lambda v: v * 2, np.ones(3))
    with pytest.raises(ValueError, match="df has shape"):
        gc.eval_numerical_gradient_array(lambda v: v * 2, np.ones(3), np.ones(4))


# ---------------------------------------------------------------- check_layer
def test_a_correct_batchnorm_passes_with_small_errors_and_the_arrays_are_unchanged():
    inputs = bn_inputs()
    bn_param = {"mode": "train", "eps": 1e-5}
    saved = copy.deepcopy(inputs)
    report = gc.check_layer(batchnorm_forward, batchnorm_backward, inputs, extra_args=(bn_param,))
    assert list(report) == ["x", "gamma", "beta"]
    assert report.passed and report.worst < 1e-7, str(report)
    assert report.verdict("x") == "great"
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], saved[k])
    assert bn_param == {"mode": "train", "eps": 1e-5}  # the running statistics went into copies
    text = str(report)
    assert "gamma" in text and "(4,)" in text and "great" in text


def test_the_alternative_backward_passes_too():
    report = gc.check_layer(batchnorm_forward, batchnorm_backward_alt, bn_inputs(), extra_args=({"eps": 1e-5},))
    assert report.passed and report.worst < 1e-7, str(report)


@pytest.mark.parametrize(
    "backward, wrong", [(backward_missing_term, "x"), (backward_dgamma_doubled, "gamma")], ids=["dx", "dgamma"]
)
def test_a_wrong_backward_is_flagged_for_exactly_the_wrong_input(backward, wrong):
    report = gc.check_layer(batchnorm_forward, backward, bn_inputs(), extra_args=({},))
    assert not report.passed
    assert report[wrong] > 1e-2 and report.verdict(wrong) == "WRONG"
    for name in report:
        if name != wrong:
            assert report[name] < 1e-7, str(report)
    assert "WRONG" in str(report)


def test_affine_layer():
    rng = np.random.default_rng(2)
    inputs = {"x": rng.standard_normal((4, 2, 3)), "w": rng.standard_normal((6, 5)), "b": rng.standard_normal(5)}
    report = gc.check_layer(affine_forward, affine_backward, inputs)
    assert report.passed and report.worst < 1e-7, str(report)
    assert report.shapes["x"] == (4, 2, 3)


def test_affine_layer_with_a_transposed_dw_is_caught_by_its_shape():
    def backward(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw.T, db

    rng = np.random.default_rng(3)
    inputs = {"x": rng.standard_normal((4, 3)), "w": rng.standard_normal((3, 5)), "b": rng.standard_normal(5)}
    with pytest.raises(ValueError, match=r"gradient for 'w' has shape \(5, 3\), expected \(3, 5\)"):
        gc.check_layer(affine_forward, backward, inputs)


def test_relu_away_from_its_kink_and_a_relu_with_the_wrong_mask():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 6))
    x[np.abs(x) < 0.1] += 0.2  # no central difference straddles 0
    report = gc.check_layer(relu_forward, relu_backward, x)  # a bare array means {"x": x}, a bare gradient back
    assert report.passed and report["x"] < 1e-9, str(report)
    wrong = gc.check_layer(relu_forward, lambda dout, cache: dout * (cache >= -0.5), x)
    assert wrong["x"] > 0.1 and not wrong.passed


def test_float32_inputs_are_checked_in_float64_and_left_alone():
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    before = x.copy()
    report = gc.check_layer(relu_forward, relu_backward, {"x": x})
    assert report.analytic["x"].dtype == np.float64 and report.numeric["x"].dtype == np.float64
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_given_dout_is_used():
    x = np.random.default_rng(6).standard_normal((3, 4)) + 5  # all positive: relu is the identity
    dout = np.arange(12.0).reshape(3, 4)
    report = gc.check_layer(relu_forward, relu_backward, x, dout=dout)
    np.testing.assert_allclose(report.numeric["x"], dout, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(report.dout, dout)


def test_the_random_dout_is_seeded_on_a_stream_of_its_own():
    """Data drawn as default_rng(0).normal(...) * scale + shift must not get dout = (x - shift) / scale: batch
    norm's dx would then be ~0 and the check would compare two zeros."""
    scale, shift = np.array([1.0, 3.0, 0.5]), np.array([0.0, 5.0, -2.0])
    inputs = {
        "x": np.random.default_rng(0).normal(size=(16, 3)) * scale + shift,
        "gamma": np.ones(3),
        "beta": np.zeros(3),
    }
    report = gc.check_layer(batchnorm_forward, batchnorm_backward, inputs, extra_args=({},))
    assert np.abs(report.analytic["x"]).max() > 0.1 and report.worst < 1e-7, str(report)
    again = gc.check_layer(batchnorm_forward, batchnorm_backward, inputs, extra_args=({},), seed=0)
    other = gc.check_layer(batchnorm_forward, batchnorm_backward, inputs, extra_args=({},), seed=1)
    np.testing.assert_array_equal(report.dout, again.dout)
    assert not np.array_equal(report.dout, other.dout)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        gc.check_layer(relu_forward, relu_backward, np.ones(3), seed=-1)


def test_check_layer_bad_inputs_raise_clear_errors():
    x = np.ones((3, 2))
    with pytest.raises(TypeError, match=r"inputs\['x'\] must be a floating-point array"):
        gc.check_layer(relu_forward, relu_backward, {"x": np.ones((3, 2), dtype=int)})
    with pytest.raises(ValueError, match="h must be positive"):
        gc.check_layer(relu_forward, relu_backward, x, h=0.0)
    with pytest.raises(TypeError, match=r"forward must return \(out, cache\)"):
        gc.check_layer(lambda v: np.maximum(v, 0), relu_backward, x)
    with pytest.raises(TypeError, match="backward's gradient for 'x' is None"):
        gc.check_layer(relu_forward, lambda dout, cache: None, x)
    with pytest.raises(ValueError, match="backward returned 2 gradient"):
        gc.check_layer(batchnorm_forward, lambda d, c: batchnorm_backward(d, c)[:2], bn_inputs(), extra_args=({},))
    with pytest.raises(ValueError, match=r"gradient for 'gamma' has shape \(1, 4\), expected \(4,\)"):
        gc.check_layer(
            batchnorm_forward,
            lambda d, c: (lambda dx, dg, db: (dx, dg[None], db))(*batchnorm_backward(d, c)),
            bn_inputs(),
            extra_args=({},),
        )
    with pytest.raises(TypeError, match="extra_args must be a tuple"):
        gc.check_layer(batchnorm_forward, batchnorm_backward, bn_inputs(), extra_args={"eps": 1e-5})
    with pytest.raises(ValueError, match="dout has shape"):
        gc.check_layer(relu_forward, relu_backward, x, dout=np.ones(3))
    with pytest.raises(TypeError, match="forward must be a function"):
        gc.check_layer(None, relu_backward, x)

    def forward_in_place(v):
        v -= v.mean(axis=0)
        return v.copy(), None

    y = x + np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match="forward modified its argument 'x' in place"):
        gc.check_layer(forward_in_place, relu_backward, y)
    np.testing.assert_array_equal(y, x + np.arange(6.0).reshape(3, 2))  # the forward got a copy

    def backward_in_place(dout, cache):
        cache *= 0  # the cache is the input x itself
        return dout

    with pytest.raises(ValueError, match="backward modified 'x' in place"):
        gc.check_layer(relu_forward, backward_in_place, y)


# ---------------------------------------------------------------- comparison with the engine
def test_a_correct_batchnorm_agrees_with_the_engine():
    inputs = bn_inputs(N=64, D=5)
    saved = copy.deepcopy(inputs)
    report = gc.compare_with_engine(batchnorm_forward, batchnorm_backward, **inputs)
    assert report.passed, str(report)
    assert set(report) == {"out", "mean", "var", "x_hat", "dx", "dgamma", "dbeta"}
    assert report.found == {"mean": "cache['sample_mean']", "var": "cache['sample_var']", "x_hat": "cache['x_hat']"}
    # the errors are float32 rounding: well under the tolerance, well above float64 rounding
    assert max(report.values()) < report.tolerance / 4
    assert max(report.values()) > 1e-9
    assert "float32" in str(report) and "biased" in str(report)
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], saved[k])


def test_the_tolerance_follows_the_derivation():
    report = gc.compare_with_engine(batchnorm_forward, batchnorm_backward_alt, **bn_inputs(N=64, D=3))
    assert report.tolerance == pytest.approx(32 * 2.0**-24 * 8 * report.kappa)
    assert report.kappa > 1  # offset data: max|x| / std is above 1


def test_a_ddof1_variance_is_flagged():
    inputs = bn_inputs(N=64, D=5)
    bn_param = {"mode": "train", "eps": 1e-5, "ddof": 1}
    report = gc.compare_with_engine(batchnorm_forward, batchnorm_backward, **inputs, extra_args=(bn_param,))
    assert not report.passed
    assert report["var"] == pytest.approx(1 / 63, rel=0.05)
    assert "ddof=1" in report.verdict("var")
    assert report.verdict("mean") == "agrees" and report.verdict("dbeta") == "agrees"
    for q in ("var", "x_hat", "out", "dx", "dgamma"):
        assert report[q] > 10 * report.tolerance, q


def test_a_wrong_dgamma_is_flagged_by_the_engine_comparison_too():
    report = gc.compare_with_engine(batchnorm_forward, backward_dgamma_doubled, **bn_inputs(N=16))
    assert [q for q in report if report.verdict(q) != "agrees"] == ["dgamma"]


def test_cache_keys_and_missing_entries():
    def forward_tuple(x, gamma, beta, bn_param):
        out, c = batchnorm_forward(x, gamma, beta, bn_param)
        return out, (c["x_hat"], c["sample_mean"], c["sample_var"], c)

    def backward_tuple(dout, cache):
        return batchnorm_backward(dout, cache[3])

    inputs = bn_inputs(N=32)
    plain = gc.compare_with_engine(forward_tuple, backward_tuple, **inputs)
    assert plain.passed and "mean" not in plain and "by index" in str(plain)
    named = gc.compare_with_engine(
        forward_tuple, backward_tuple, **inputs, cache_keys={"x_hat": 0, "mean": 1, "var": 2}
    )
    assert named.passed and {"mean", "var", "x_hat"} <= set(named)
    with pytest.raises(KeyError, match="no entry 7"):
        gc.compare_with_engine(forward_tuple, backward_tuple, **inputs, cache_keys={"var": 7})
    with pytest.raises(ValueError, match="unknown quantities"):
        gc.compare_with_engine(forward_tuple, backward_tuple, **inputs, cache_keys={"variance": 2})


def test_a_cache_with_other_common_names_is_found():
    def forward(x, gamma, beta, bn_param):
        out, c = batchnorm_forward(x, gamma, beta, bn_param)
        std = np.sqrt(c["sample_var"] + c["eps"])
        return out, {"mu": c["sample_mean"], "xhat": c["x_hat"], "ivar": 1 / std, "sqrtvar": std, "c": c}

    report = gc.compare_with_engine(forward, lambda d, cache: batchnorm_backward(d, cache["c"]), **bn_inputs(N=16))
    assert report.passed, str(report)
    assert report.found == {"mean": "cache['mu']", "x_hat": "cache['xhat']", "inv_std": "cache['ivar']",
                            "std": "cache['sqrtvar']"}  # fmt: skip
    assert "var: not found" in str(report)


def test_layernorm_agrees_with_the_engine_and_a_ddof1_variance_is_flagged():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 48)) + 1.0
    g, b = rng.uniform(0.5, 1.5, 48), rng.standard_normal(48)
    report = gc.compare_layernorm_with_engine(layernorm_forward, layernorm_backward, x, g, b, cache_keys=LN_KEYS)
    assert report.passed and set(report) == {"out", "mean", "var", "x_hat", "dx", "dgamma", "dbeta"}, str(report)
    assert "layer norm" in str(report)

    def forward_ddof1(x, gamma, beta, ln_param):
        eps = ln_param["eps"]
        mu, var = x.mean(1, keepdims=True), x.var(1, ddof=1, keepdims=True)
        xhat = (x - mu) / np.sqrt(var + eps)
        return gamma * xhat + beta, (xhat, gamma, var, eps, mu)

    bad = gc.compare_layernorm_with_engine(forward_ddof1, layernorm_backward, x, g, b, cache_keys=LN_KEYS)
    assert not bad.passed and "ddof=1" in bad.verdict("var") and bad.verdict("mean") == "agrees"
    # and check_layer accepts the same pair
    checked = gc.check_layer(layernorm_forward, layernorm_backward, {"x": x[:3, :5], "gamma": g[:5], "beta": b[:5]},
                             extra_args=({"eps": 1e-5},))  # fmt: skip
    assert checked.passed and checked.worst < 1e-7, str(checked)


def test_compare_with_engine_bad_inputs_raise_clear_errors():
    inputs = bn_inputs()
    with pytest.raises(ValueError, match="kind must be"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, **inputs, kind="group")
    with pytest.raises(ValueError, match="eps must be positive"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, **inputs, eps=0)
    with pytest.raises(ValueError, match="extra_args holds eps"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, **inputs, extra_args=({"eps": 1e-3},))
    with pytest.raises(ValueError, match="mode = 'test'"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, **inputs, extra_args=({"mode": "test"},))
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\)"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, np.ones(4), np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"gamma must have shape \(D,\) = \(4,\)"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, inputs["x"], np.ones(3), inputs["beta"])
    with pytest.raises(TypeError, match="beta must be a floating-point array"):
        gc.compare_with_engine(batchnorm_forward, batchnorm_backward, inputs["x"], inputs["gamma"], np.zeros(4, int))
    with pytest.raises(TypeError, match="backward's dgamma is None"):
        gc.compare_with_engine(batchnorm_forward, lambda d, c: (d, None, d.sum(0)), **inputs)


def test_the_names_are_exported_from_bnlab_teaching():
    for name in gc.__all__:
        assert getattr(teaching, name) is getattr(gc, name)
        assert name in teaching.__all__
