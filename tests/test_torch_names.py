"""bnlab.torch's answers for names: PyTorch's NumPy-style aliases (``axis`` for ``dim``, ``keepdims`` for
``keepdim``) in the reductions, and the AttributeError of a name it does not have yet, which says so and
names the closest one it has."""

import numpy as np
import pytest

import bnlab.torch as bt

X = np.array([[1.0, 5.0, 2.0], [4.0, 0.5, 6.0]], np.float32)
CALLS = {
    "argmax": lambda lib, t: t.argmax(axis=1),
    "argmin": lambda lib, t: lib.argmin(t, axis=0, keepdims=True),
    "sum": lambda lib, t: t.sum(axis=1, keepdims=True),
    "mean": lambda lib, t: lib.mean(t, axis=0),
    "var": lambda lib, t: t.var(axis=1, keepdims=True),
    "std": lambda lib, t: t.std(axis=0),
    "max": lambda lib, t: t.max(axis=1, keepdims=True).values,
    "min": lambda lib, t: lib.min(t, axis=0).indices,
    "softmax": lambda lib, t: t.softmax(axis=-1),
    "log_softmax": lambda lib, t: lib.log_softmax(t, axis=1),
}
EXPECTED = {  # NumPy's answers, for machines without PyTorch
    "argmax": X.argmax(axis=1),
    "argmin": X.argmin(axis=0)[None],
    "sum": X.sum(axis=1, keepdims=True),
    "mean": X.mean(axis=0),
    "var": X.var(axis=1, ddof=1, keepdims=True),
    "std": X.std(axis=0, ddof=1),
    "max": X.max(axis=1, keepdims=True),
    "min": X.argmin(axis=0),
    "softmax": np.exp(X) / np.exp(X).sum(-1, keepdims=True),
    "log_softmax": X - np.log(np.exp(X).sum(-1, keepdims=True)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_numpy_style_aliases_as_pytorch_accepts_them(name):
    ours = CALLS[name](bt, bt.tensor(X)).numpy()
    np.testing.assert_allclose(ours, EXPECTED[name], rtol=1e-6, atol=1e-6)
    try:
        import torch
    except ImportError:
        return
    np.testing.assert_allclose(ours, CALLS[name](torch, torch.tensor(X)).numpy(), rtol=1e-6, atol=1e-6)


def test_a_dim_and_its_alias_together_are_refused():
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        bt.tensor(X).sum(dim=0, axis=1)
    with pytest.raises(TypeError, match="both keepdim= and its alias keepdims="):
        bt.mean(bt.tensor(X), 0, keepdim=True, keepdims=True)


@pytest.mark.parametrize(
    ("get", "owner", "closest"),
    [
        (lambda: bt.polygamma, "bnlab.torch", None),
        (lambda: bt.argmaxx, "bnlab.torch", "bnlab.torch.argmax"),
        (lambda: bt.nn.LazyConv3d, "bnlab.torch.nn", "bnlab.torch.nn.LazyConv2d"),
        (
            lambda: bt.nn.functional.gumbel_softmax,
            "bnlab.torch.nn.functional",
            "bnlab.torch.nn.functional.log_softmax",
        ),
        (lambda: bt.tensor([1.0]).renorm(2, 0, 1.0), "bnlab.torch.Tensor", "bnlab.torch.Tensor.norm"),
    ],
)
def test_a_missing_name_says_bnlab_does_not_have_it_yet_and_names_the_closest(get, owner, closest):
    with pytest.raises(AttributeError) as err:
        get()
    message = str(err.value)
    assert message.startswith(f"{owner} has no attribute") and "does not have it yet" in message
    assert (f"the closest it has is {closest}" in message) if closest else ("closest" not in message)


def test_private_and_dunder_lookups_keep_pythons_plain_error():
    t = bt.tensor([1.0])
    for get in (lambda: t._missing, lambda: bt.__missing__, lambda: t.__array_interface__):
        with pytest.raises(AttributeError) as err:
            get()
        assert "does not have it yet" not in str(err.value)
    assert not hasattr(bt, "__wrapped__") and hasattr(t, "grad") and t.grad is None
