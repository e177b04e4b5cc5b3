"""``keras.metrics``: the streaming metrics of a custom training loop (Mean and the accuracies), as Keras 3 has them.

    train_loss = tf.keras.metrics.Mean(name="train_loss")
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
    ...
    train_loss(loss)                          # update_state, then result()
    train_accuracy(labels, predictions)
    print(f"Loss: {train_loss.result():0.2f}, Accuracy: {train_accuracy.result() * 100:0.2f}")
    train_loss.reset_state()

Keras 3's rules: a metric keeps a float32 ``total`` and ``count``; ``update_state`` adds the batch's values to the
total and the number of samples to the count (see ``Metric.update_state`` for sample weights); ``result()`` is
total / count (0 while count is 0) as a 0-d float32 tensor of the TF core (``import bnlab as tf``);
``reset_state()`` (TF 2's ``reset_states()`` too) zeroes both. The accuracies are means of per-sample matches:

* ``SparseCategoricalAccuracy``: the class index of the largest prediction (the first one on ties) equals the
  label (labels of shape (n,) or (n, 1));
* ``CategoricalAccuracy``: the same against the largest entry of one-hot (or probability) targets;
* ``Accuracy``: predictions equal to the targets, element by element (for class predictions, not scores).

``compile(metrics=[...])`` takes a SparseCategoricalAccuracy or CategoricalAccuracy object as it takes the name
'accuracy': the logs then carry the object's name.
"""

import numpy as np

from bnlab.keras import _eager

__all__ = ["Accuracy", "CategoricalAccuracy", "Mean", "Metric", "SparseCategoricalAccuracy", "get"]


def _array(x, what):
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got dtype {a.dtype}")
    return a


def _tensor(value):
    return _eager.tf_core().constant(np.float32(value))  # a tf.Tensor: the TF core, loaded on first use


class Metric:
    """Base class of the metrics: a float32 ``total`` and ``count``; subclasses define ``values(*args)``, the
    per-sample values their mean is of."""

    def __init__(self, name=None, dtype=None):
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"dtype: bnlab's metrics compute in float32, got {dtype!r}")
        self.name = name or self._default_name
        self.dtype = "float32"
        self.reset_state()

    _default_name = "metric"

    def values(self, *args):
        raise NotImplementedError

    def update_state(self, *args, sample_weight=None):
        """Add a batch (Keras 3's reduce_to_samplewise_values): values of rank > 1 are first averaged per sample;
        with ``sample_weight`` (one per sample, or of the values' shape) total += sum(values * weight) and count
        += sum(weight), else total += sum(values) and count += the number of samples (1 for a scalar)."""
        values = np.asarray(self.values(*args), dtype=np.float32)
        if sample_weight is None:
            count = np.float32(values.shape[0] if values.ndim else 1)
        else:
            weight = _array(sample_weight, "sample_weight").astype(np.float32)
            if weight.ndim == values.ndim + 1 and weight.shape[-1:] == (1,):
                weight = weight[..., 0]
            if values.ndim > weight.ndim:
                values = np.mean(values, axis=tuple(range(weight.ndim, values.ndim)), dtype=np.float32)
            try:
                weight = np.broadcast_to(weight, values.shape)
            except ValueError:
                raise ValueError(
                    f"sample_weight of shape {weight.shape} does not broadcast to the values' shape {values.shape}"
                ) from None
            values = values * weight
            if weight.ndim > 1:
                weight = np.mean(weight, axis=tuple(range(1, weight.ndim)), dtype=np.float32)
            count = np.sum(weight, dtype=np.float32)
        if values.ndim > 1:
            values = np.mean(values, axis=tuple(range(1, values.ndim)), dtype=np.float32)
        self.total = np.float32(self.total + np.sum(values, dtype=np.float32))
        self.count = np.float32(self.count + count)

    def result(self):
        """total / count as a 0-d float32 tf.Tensor (0 before any update)."""
        return _tensor(self.total / self.count if self.count else 0.0)

    def reset_state(self):
        self.total = np.float32(0.0)
        self.count = np.float32(0.0)

    reset_states = reset_state  # TensorFlow 2's name

    def __call__(self, *args, sample_weight=None):
        """``update_state(...)``, then ``result()``."""
        self.update_state(*args, sample_weight=sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of every value given to ``update_state(values)``."""

    _default_name = "mean"

    def values(self, values):
        return _array(values, "values")


def _pairs(y_true, y_pred):
    return _array(y_true, "y_true"), _array(y_pred, "y_pred")


class SparseCategoricalAccuracy(Metric):
    """How often the class of the largest prediction equals the integer label."""

    _default_name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        y_true, y_pred = _pairs(y_true, y_pred)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1:] == (1,):
            y_true = y_true[..., 0]
        return np.argmax(y_pred, axis=-1) == y_true.astype(y_pred.dtype)


class CategoricalAccuracy(Metric):
    """How often the class of the largest prediction is that of the largest target (one-hot targets)."""

    _default_name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        y_true, y_pred = _pairs(y_true, y_pred)
        return np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)


class Accuracy(Metric):
    """How often the predictions equal the targets exactly (element by element)."""

    _default_name = "accuracy"

    def values(self, y_true, y_pred):
        y_true, y_pred = _pairs(y_true, y_pred)
        return y_pred.astype(y_true.dtype) == y_true


_BY_NAME = {
    "mean": Mean,
    "accuracy": Accuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
}


def get(identifier):
    """A metric from its name (a new object) or the object itself."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"unknown metric {identifier!r}; bnlab.keras.metrics has {', '.join(sorted(_BY_NAME))}")
