"""Regression tests for what the fuzz suite (tests/fuzz) found: each test is one finding, fixed."""

import dataset_fixtures as fx
import numpy as np
import pytest

import bnlab.torch as torch
from bnlab import keras
from bnlab.datasets import _idx
from bnlab.datasets._errors import DatasetFileError


def _model():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("epsilon", [float("nan"), float("inf")])
def test_batchnorm_epsilon_must_be_finite(epsilon):
    """epsilon=NaN passed the `epsilon <= 0` check and turned every output into NaN."""
    with pytest.raises(ValueError, match=r"epsilon must be a finite number > 0, got (nan|inf)"):
        keras.layers.BatchNormalization(epsilon=epsilon)


def test_complex_inputs_are_refused_not_truncated():
    """Complex x was cast to float32, dropping the imaginary part (NumPy's ComplexWarning only)."""
    x = np.ones((4, 2), np.complex64) * 1j
    with pytest.raises(TypeError, match="x must be a numeric array of real numbers, got dtype complex64"):
        _model().predict(x, verbose=0)


@pytest.mark.parametrize("y", [np.array([1j, 0j]), np.array(["1", "0"]), np.array([1, None], dtype=object)])
def test_non_numeric_targets_are_named(y):
    """Complex targets lost their imaginary part; str and object ones failed inside np.isfinite."""
    with pytest.raises(TypeError, match="y must be a numeric array of real numbers, got dtype"):
        _model().fit(np.ones((2, 2), np.float32), y, verbose=0)


@pytest.mark.parametrize("gz", [False, True])
def test_an_idx_header_announcing_terabytes_costs_only_the_file(gz, tmp_path):
    """A flipped count byte announced 2**32 - 1 images of 28x28 (3.4 TB) and the reader allocated that much
    up front (MemoryError, or a huge lazy allocation); now memory grows with the data the file holds."""
    raw = bytearray(fx.idx_bytes(fx.make_images(3, (28, 28))))
    raw[4:8] = b"\xff\xff\xff\xff"
    path = fx.write_bytes(tmp_path / "images", bytes(raw), gz=gz)
    with pytest.raises(DatasetFileError, match="truncated: expected 3367254359280 bytes"):
        _idx.read_idx_images(path, count=None)


@pytest.mark.parametrize("seed", [float("inf"), 1.5, -1, True])
def test_dropout_seed_must_be_a_non_negative_int(seed):
    """seed=inf raised OverflowError from int(); 1.5 was truncated silently."""
    with pytest.raises(ValueError, match="seed must be None or an int >= 0"):
        keras.layers.Dropout(0.5, seed=seed)


@pytest.mark.parametrize("label", [1e30, 2.0**63, -1e30])
def test_huge_labels_are_out_of_range_not_cast(label):
    """Labels like 1e30 were cast to int64 first (undefined: NumPy's 'invalid value' warning) and the range
    check read the cast value."""
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        _model().fit(np.ones((1, 2), np.float32), np.array([label]), verbose=0)


def test_view_and_permute_need_their_arguments():
    """t.view() and t.permute() returned t unchanged; PyTorch raises TypeError (view(()) and permute(())
    of a 0-dim tensor stay valid)."""
    t = torch.tensor(1.0)
    for call in (t.view, t.permute):
        with pytest.raises(TypeError, match="missing 1 required positional argument"):
            call()
    assert t.view(()).shape == () and t.permute(()).shape == ()


@pytest.mark.parametrize(("start", "end"), [(1, -1), (0, 1), (-2, -1)])
def test_flatten_checks_dims_of_a_0_dim_tensor(start, end):
    """flatten(0-dim tensor, start_dim=1) returned shape (1,); PyTorch: dims must be in [-1, 0]."""
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-1, 0\]"):
        torch.flatten(torch.tensor(1.0), start, end)
    assert torch.flatten(torch.tensor(1.0), 0, -1).shape == (1,)


@pytest.mark.parametrize(
    "pair",
    [
        (torch.tensor(1.0), True),
        (True, torch.tensor(1.0)),
        (torch.tensor([True]), torch.tensor([1])),
        (1, torch.tensor(False)),
    ],
)
def test_subtraction_with_bool_is_refused_as_in_pytorch(pair):
    """x - True computed x - 1 (and bool tensors were subtracted as NumPy does); PyTorch refuses it."""
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        pair[0] - pair[1]


@pytest.mark.parametrize(("shape", "groups"), [((1, 1), 1), ((1, 3, 1), 3), ((1, 2, 1, 1), 2)])
def test_group_norm_refuses_one_value_per_group_as_pytorch(shape, groups):
    """A single sample whose every group held one value (N*C//num_groups * positions == 1) was normalised to
    y = bias; PyTorch's group_norm refuses it, in training and eval alike."""
    x = torch.zeros(*shape)
    for training in (True, False):
        module = torch.nn.GroupNorm(groups, shape[1]).train(training)
        with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size"):
            module(x)
    assert torch.nn.GroupNorm(groups, shape[1])(torch.zeros(2, *shape[1:])).shape == (2, *shape[1:])


def test_group_norm_num_groups_must_be_an_int():
    """nn.GroupNorm(True, 4) built (4 % True == 0) and its forward used one group; PyTorch's forward refuses a
    bool (or float) num_groups."""
    x = torch.zeros(2, 4, 3)
    with pytest.raises(TypeError, match=r"argument 'num_groups' \(position 2\) must be int, not bool"):
        torch.nn.GroupNorm(True, 4)(x)
    with pytest.raises(TypeError, match=r"argument 'num_groups' \(position 2\) must be int, not float"):
        torch.nn.functional.group_norm(x, 2.0)
    with pytest.raises(RuntimeError, match="Expected num groups to be greater than 0, got -1"):
        torch.nn.functional.group_norm(x, -1)


@pytest.mark.parametrize("normalized_shape", [True, (True,), (3, False)])
def test_layer_norm_normalized_shape_must_be_ints_not_bools(normalized_shape):
    """LayerNorm(True) (and F.layer_norm(x, (True,))) normalised over a last axis of size 1 as if True were 1;
    PyTorch refuses a bool in normalized_shape (TypeError)."""
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape must be an int or a tuple of ints"):
        torch.nn.LayerNorm(normalized_shape)
    with pytest.raises(TypeError, match=r"must be tuple of ints, but found element of type bool at pos"):
        torch.nn.functional.layer_norm(torch.zeros(2, 3, 1), normalized_shape)


@pytest.mark.parametrize("layout", ["features", "spatial"])
def test_batch_variance_of_huge_values_does_not_overflow(layout):
    """The CPU BN sums each short run of values in float before it joins the double total; a value of 2^63
    squared overflows float, and the batch variance came out inf (and renorm's r, then its output, NaN). A run
    that overflows is summed again in double."""
    big = np.zeros((5, 1), np.float32)
    big[0, 0] = 2.0**63
    if layout == "spatial":  # channels-first (N, C, L) with L = 300: the lane-wise runs of the L > 1 path
        big = np.zeros((2, 1, 300), np.float32)
        big[0, 0, 7] = 2.0**63
        bn = torch.nn.BatchNorm1d(1)
        bn(torch.from_numpy(big))
        got = bn.running_var.numpy()[0]
        want = 0.1 * np.var(big.astype(np.float64)) * big.size / (big.size - 1) + 0.9
    else:
        layer = keras.layers.BatchNormalization()
        layer(big, training=True)
        got, want = layer.batch_variance[0], np.var(big.astype(np.float64))
    assert np.isfinite(got) and got == pytest.approx(want, rel=1e-5)
