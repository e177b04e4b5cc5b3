"""Fuzz bnlab.keras: every layer's constructor arguments, input shapes and dtypes (one table, LAYERS: a new
layer joins with one row), and fit/evaluate/predict's arguments and data (shapes, dtypes, NaN, empty and
non-contiguous arrays, batch_size, epochs, validation_split). See fuzz_support.py for the property.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from fuzz_support import EXPECTED, check_error, examples, quiet, watchdog
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnlab import keras
from bnlab.teaching import BatchNormPitfallWarning

NAN, INF = float("nan"), float("inf")
# Values no argument should accept silently unless it documents them: wrong types, non-finite numbers.
ODD = [None, -1, 0, 1.5, NAN, INF, -INF, True, False, "x", "", [], (1,), {}, np.int64(3), np.float32(0.5), 2**63]
ACTIVATIONS = {
    None: lambda z: z,
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 0.5 * (1 + np.tanh(z / 2)),  # 1 / (1 + exp(-z)) without overflow
    "tanh": np.tanh,
    "softmax": lambda z: (
        np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)
    ),
}


def soup(*valid):
    """Mostly valid values, often odd ones."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(ODD))


# ------------------------------------------------------------------------------------------ the layer table
@dataclass(frozen=True)
class LayerCase:
    """One layer: how to make it from drawn keyword arguments, which arguments to draw, the per-sample output
    shape for a per-sample input shape, and the inference output in NumPy (given the built layer)."""

    name: str
    make: Callable[..., keras.layers.Layer]
    kwargs: st.SearchStrategy
    output_shape: Callable[[dict, tuple], tuple]
    reference: Callable[[keras.layers.Layer, dict, np.ndarray], np.ndarray]

    def __repr__(self) -> str:
        return self.name


def _dense_reference(layer, kw, x):
    w = [np.asarray(v, np.float64) for v in layer.get_weights()]
    z = x @ w[0] + (w[1] if len(w) > 1 else 0)
    return ACTIVATIONS[kw.get("activation")](z)


def _bn_reference(layer, kw, x):
    return x / np.sqrt(1.0 + float(kw.get("epsilon", 1e-3)))  # fresh: gamma 1, beta 0, moving mean 0, variance 1


def _ln_reference(layer, kw, x):
    """(x - mean) / sqrt(var + epsilon) per sample over ``axis`` (Keras counts the batch axis); fresh gamma 1,
    beta 0."""
    axis = kw.get("axis", -1)
    axes = tuple(map(int, axis)) if isinstance(axis, (list, tuple)) else (int(axis),)  # Keras takes True as 1
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + float(kw.get("epsilon", 1e-3)))


def _gn_reference(layer, kw, x):
    """The channels of ``axis`` in ``groups`` groups (-1: one per channel); each sample's group normalised over
    its channels and every other position; fresh gamma 1, beta 0."""
    axis = int(kw.get("axis", -1))  # Keras takes True as 1
    xm = np.moveaxis(x, axis, -1)
    C = xm.shape[-1]
    G = C if kw["groups"] == -1 else kw["groups"]
    grouped = xm.reshape(*xm.shape[:-1], G, C // G)
    red = (*range(1, grouped.ndim - 2), grouped.ndim - 1)
    mean, var = grouped.mean(axis=red, keepdims=True), grouped.var(axis=red, keepdims=True)
    y = ((grouped - mean) / np.sqrt(var + float(kw.get("epsilon", 1e-3)))).reshape(xm.shape)
    return np.moveaxis(y, -1, axis)


_BN_KWARGS = {
    "axis": soup(-1, 1, -2, 2, 3),
    "momentum": soup(0.0, 0.9, 0.99, 1.0),
    "epsilon": soup(1e-3, 1e-5, 0.5),
    "center": soup(True, False),
    "scale": soup(True, False),
}
_PER_SAMPLE_KWARGS = {"epsilon": soup(1e-3, 1e-5, 0.5), "center": soup(True, False), "scale": soup(True, False)}


LAYERS = [
    LayerCase(
        "Dense",
        keras.layers.Dense,
        st.fixed_dictionaries(
            {"units": st.one_of(st.integers(-2, 9), soup(1, 4))},
            optional={"activation": soup(*ACTIVATIONS), "use_bias": soup(True, False)},
        ),
        lambda kw, shape: (*shape[:-1], kw["units"]),
        _dense_reference,
    ),
    LayerCase(
        "Activation",
        keras.layers.Activation,
        st.fixed_dictionaries({"activation": st.one_of(st.sampled_from(list(ACTIVATIONS)), st.sampled_from(ODD))}),
        lambda kw, shape: shape,
        lambda layer, kw, x: ACTIVATIONS[kw["activation"]](x),
    ),
    LayerCase(
        "Flatten",
        keras.layers.Flatten,
        st.fixed_dictionaries({}, optional={"data_format": soup(None, "channels_last", "channels_first")}),
        lambda kw, shape: (int(np.prod(shape)),),
        lambda layer, kw, x: x.reshape(len(x), -1),
    ),
    LayerCase(
        "Dropout",
        keras.layers.Dropout,
        st.fixed_dictionaries({"rate": soup(0.0, 0.2, 0.5, 0.99, 1.0)}, optional={"seed": soup(None, 0, 7)}),
        lambda kw, shape: shape,
        lambda layer, kw, x: x,  # inference: the identity
    ),
    LayerCase(
        "BatchNormalization",
        keras.layers.BatchNormalization,
        st.fixed_dictionaries({}, optional=_BN_KWARGS),
        lambda kw, shape: shape,
        _bn_reference,
    ),
    LayerCase(  # inference is plain BN's with the moving statistics
        "BatchNormalization(renorm=True)",
        lambda **kw: keras.layers.BatchNormalization(renorm=True, **kw),
        st.fixed_dictionaries(
            {},
            optional={
                **_BN_KWARGS,
                "renorm_clipping": soup(
                    None, {}, {"rmax": 3, "rmin": 1 / 3, "dmax": 5}, {"rmax": 1, "rmin": 1, "dmax": 0}
                ),
                "renorm_momentum": soup(0.0, 0.9, 0.99, 1.0),
            },
        ),
        lambda kw, shape: shape,
        _bn_reference,
    ),
    LayerCase(  # k must divide every training batch; inference is plain BN's
        "BatchNormalization(virtual_batch_size)",
        keras.layers.BatchNormalization,
        st.fixed_dictionaries({"virtual_batch_size": soup(1, 2, 3, 5)}, optional=_BN_KWARGS),
        lambda kw, shape: shape,
        _bn_reference,
    ),
    LayerCase(
        "LayerNormalization",
        keras.layers.LayerNormalization,
        st.fixed_dictionaries(
            {}, optional={"axis": soup(-1, -2, 1, 2, 3, [-2, -1], [2, 3], (1, 2, 3), [-1, 1]), **_PER_SAMPLE_KWARGS}
        ),
        lambda kw, shape: shape,
        _ln_reference,
    ),
    LayerCase(  # any rank: 2-D (N, C) to 4-D (N, H, W, C) inputs, channels wherever axis says
        "GroupNormalization",
        keras.layers.GroupNormalization,
        st.fixed_dictionaries(
            {"groups": soup(1, 2, 4, -1)}, optional={"axis": soup(-1, 1, -2, 2, 3), **_PER_SAMPLE_KWARGS}
        ),
        lambda kw, shape: shape,
        _gn_reference,
    ),
]

DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_, np.complex64, object, np.str_]


@st.composite
def inputs(draw, shape, max_n=5):
    """A batch for a per-sample ``shape``: any dtype, finite or not, sometimes non-contiguous."""
    n = draw(st.integers(0, max_n))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    full = (n, *shape)
    if dtype.kind in "fc":
        finite = draw(st.booleans())
        elements = st.floats(-100, 100, width=16) if finite else st.floats(width=16)  # fit every float dtype
        x = draw(hnp.arrays(dtype, full, elements=elements))
    elif dtype.kind in "iub":
        x = draw(hnp.arrays(dtype, full))
    elif dtype.kind == "U":
        x = np.full(full, "1.5")
    else:
        x = np.empty(full, dtype=object)
        x.fill(draw(st.sampled_from([1.0, None, "a"])))
    if draw(st.booleans()) and n:
        x = np.repeat(x, 2, axis=0)[::2]  # same values, every other row: not contiguous
    return x


@pytest.mark.parametrize("case", LAYERS, ids=repr)
@examples(0.5)
@given(data=st.data())
def test_layer_arguments_shapes_and_dtypes(case, data):
    kw = data.draw(case.kwargs, label="kwargs")
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3), label="shape"))
    x = data.draw(inputs(shape), label="x")
    training = data.draw(st.booleans(), label="training")
    with watchdog(), quiet(BatchNormPitfallWarning):
        try:
            layer = case.make(**kw)
            model = keras.Sequential([keras.Input(shape=shape), layer])
            out = model(x, training=training)
        except EXPECTED as e:
            check_error(e)
            return
    assert x.dtype.kind in "fiub", f"accepted a {x.dtype} input"
    assert out.shape == (len(x), *case.output_shape(kw, shape)), f"output shape {out.shape}"
    assert out.dtype == np.float32
    xf = x.astype(np.float64)
    if np.isfinite(xf).all():
        assert np.isfinite(out).all(), "finite input, non-finite output"
        if not training:
            np.testing.assert_allclose(out, case.reference(layer, kw, xf), rtol=2e-4, atol=2e-4)


# ------------------------------------------------------------------------------------------ fit / evaluate
def _model(features, loss, optimizer):
    model = keras.Sequential(
        [
            keras.Input(shape=(features,)),
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


@st.composite
def targets(draw, n, loss):
    kind = draw(st.sampled_from(["right", "right", "wrong_length", "wrong_shape", "odd_dtype", "out_of_range"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    labels = rng.integers(0, 3, size=n)
    if kind == "wrong_length":
        labels = rng.integers(0, 3, size=n + draw(st.sampled_from([-1, 1])) if n else 1)
    y = labels if loss == "sparse_categorical_crossentropy" else np.eye(3)[labels]
    if kind == "wrong_shape":
        y = y.reshape(len(y), 1, -1) if y.ndim == 2 else np.stack([y, y], axis=1)
    elif kind == "odd_dtype":
        y = y.astype(draw(st.sampled_from([np.float64, np.bool_, object, np.str_, np.float16, np.uint8])))
    elif kind == "out_of_range":
        y = y + draw(st.sampled_from([3, -4, 0.5, NAN, 1e30]))
    return y


@examples(1.0)
@given(data=st.data())
def test_fit_evaluate_predict_arguments(data):
    loss = data.draw(st.sampled_from(["sparse_categorical_crossentropy", "categorical_crossentropy"]))
    optimizer = data.draw(st.sampled_from(["sgd", "adam", "rmsprop"]))
    features = data.draw(st.sampled_from([2, 2, 3]), label="features")  # the model takes 2
    x = data.draw(inputs((features,), max_n=12), label="x")
    if data.draw(st.booleans(), label="fortran"):
        x = np.asfortranarray(x)
    y = data.draw(targets(len(x), loss), label="y")
    kwargs = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "batch_size": soup(None, 1, 2, 3, 5, 32),
                "epochs": st.one_of(st.sampled_from([0, 1, 2]), st.sampled_from(ODD[:-1])),  # not 2**63 epochs
                "validation_split": soup(0.0, 0.25, 0.5),
                "shuffle": st.booleans(),
            },
        ),
        label="fit kwargs",
    )
    with watchdog(), quiet(BatchNormPitfallWarning):
        model = _model(2, loss, optimizer)
        try:
            history = model.fit(x, y, verbose=0, **kwargs)
            scores = model.evaluate(x, y, verbose=0, batch_size=kwargs.get("batch_size"))
            predictions = model.predict(x, verbose=0, batch_size=kwargs.get("batch_size"))
        except EXPECTED as e:
            check_error(e)
            return
    assert x.dtype.kind in "fiub" and x.shape[1] == 2 and len(x) == len(y) > 0, "accepted bad data"
    yf = np.asarray(y, dtype=np.float64)
    if loss.startswith("sparse"):
        assert ((yf >= 0) & (yf < 3) & (yf == np.round(yf))).all(), "accepted labels that are not classes"
    epochs = kwargs.get("epochs", 1)
    assert len(history.history.get("loss", [])) == epochs  # Keras: epochs=0 leaves the history empty
    assert predictions.shape == (len(x), 3) and predictions.dtype == np.float32
    loss_value, accuracy = scores
    assert 0.0 <= accuracy <= 1.0
    clean = np.isfinite(x.astype(np.float64)).all() and np.isfinite(yf).all() and np.abs(yf).max() < 1e3
    if clean:
        assert np.isfinite(predictions).all() and np.isfinite(loss_value), "finite data, non-finite outputs"
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-4)
