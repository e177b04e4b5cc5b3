"""Keras's losses over the engine's loss kernels (the mean over the batch).

CategoricalCrossentropy(from_logits=False): targets one-hot (batch, K).
SparseCategoricalCrossentropy(from_logits=False): targets class indices (batch,) or (batch, 1).
On probabilities Keras renormalises each row, clips it to [1e-7, 1 - 1e-7] and takes -sum(y log p); on
logits it uses log-softmax. MeanSquaredError: mean((y - p)^2) over the last axis.
A softmax output with from_logits=True is a classic mistake: the loss then treats probabilities as scores.
"""

import numpy as np

from bnlab import _core
from bnlab.keras import _eager
from bnlab.keras.config_args import from_identifier

EPSILON = 1e-7


class Loss:
    sparse = False
    kind = _core.LossSpec.Kind.Xent

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "auto"):
            raise ValueError(f"reduction: only 'sum_over_batch_size' (the batch mean) is supported, got {reduction!r}")
        self.from_logits = bool(from_logits)
        self.name = name or self.default_name

    def spec(self):
        """The engine's LossSpec for this loss."""
        if self.kind == _core.LossSpec.Kind.MSE:
            return _core.LossSpec(_core.LossSpec.Kind.MSE)
        return _core.LossSpec(_core.LossSpec.Kind.Xent, self.form(), EPSILON)

    def form(self):
        """The engine's cross-entropy form: sparse or categorical, probabilities or logits."""
        return _FORMS[(self.sparse, self.from_logits)]

    def __call__(self, y_true, y_pred):
        """The batch-mean loss of NumPy arrays, computed by the engine. With a ``tf.Tensor`` among the arguments
        (``import bnlab as tf``), or while a ``tf.GradientTape`` records, a 0-d ``tf.Tensor`` on the tape."""
        if _eager.takes(y_true, y_pred):
            return _eager.handler.call_loss(self, y_true, y_pred)
        pred = np.ascontiguousarray(y_pred, dtype=np.float32)
        if pred.ndim != 2:
            raise ValueError(f"y_pred must be 2-D (batch, classes), got shape {pred.shape}")
        target = prepare_targets(self, y_true, pred.shape[1], "y_true")
        if len(target) != len(pred):
            raise ValueError(f"y_true has {len(target)} samples but y_pred has {len(pred)}")
        rows = _core.Tensor()
        p, t = _core.Tensor.from_numpy(pred), _core.Tensor.from_numpy(target)
        if self.kind == _core.LossSpec.Kind.MSE:
            _core.ops.mse(rows, None, p, t, 1.0)
        else:
            _core.ops.xent(rows, None, p, t, self.form(), False, EPSILON, 1.0)
        return float(np.mean(rows.numpy()))

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


_FORMS = {
    (False, False): _core.XentForm.CategoricalProbs,
    (False, True): _core.XentForm.CategoricalLogits,
    (True, False): _core.XentForm.SparseProbs,
    (True, True): _core.XentForm.SparseLogits,
}


class CategoricalCrossentropy(Loss):
    default_name = "categorical_crossentropy"


class SparseCategoricalCrossentropy(Loss):
    default_name = "sparse_categorical_crossentropy"
    sparse = True


class MeanSquaredError(Loss):
    default_name = "mean_squared_error"
    kind = _core.LossSpec.Kind.MSE

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        super().__init__(False, name, reduction)


_BY_NAME = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def get(identifier):
    """A loss from a name or an instance."""
    return from_identifier(identifier, Loss, _BY_NAME, "loss")


def prepare_targets(loss, y, num_classes, argname="y"):
    """Targets as the engine wants them: int32 indices for sparse losses, float32 rows otherwise."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":  # object, str, complex...: no class index or probability to read
        raise TypeError(f"{argname} must be a numeric array of real numbers, got dtype {y.dtype}")
    if loss.sparse:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"{argname}: {loss.name} expects class indices of shape (n,) or (n, 1), got shape "
                f"{y.shape}; for one-hot targets use categorical_crossentropy"
            )
        if (
            y.size
            and not np.issubdtype(y.dtype, np.integer)
            and (not np.all(np.isfinite(y)) or np.any(y != np.round(y)))
        ):
            raise ValueError(f"{argname}: class indices must be whole numbers")
        # the range is checked before the cast: 1e30 or 2**63 would not survive it
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"{argname}: labels must be in [0, {num_classes}) for a model with {num_classes} outputs, "
                f"found values from {y.min()} to {y.max()}"
            )
        return np.ascontiguousarray(y, dtype=np.int32)
    if y.ndim != 2 or y.shape[1] != num_classes:
        hint = " (class indices need sparse_categorical_crossentropy, or utils.to_categorical)" if y.ndim == 1 else ""
        raise ValueError(
            f"{argname}: {loss.name} expects targets of shape (n, {num_classes}), got shape {y.shape}{hint}"
        )
    return np.ascontiguousarray(y, dtype=np.float32)
