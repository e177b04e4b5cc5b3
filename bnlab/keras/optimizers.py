"""Keras's optimizers over the engine's in-place update kernels, with Keras 3's defaults and update rules.

SGD(learning_rate=0.01, momentum=0.0, nesterov=False):
    v = momentum * v - lr * g;  w += v   (nesterov: w += momentum * v - lr * g)
Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
    w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)
    (epsilon meets the UNCORRECTED sqrt(v); PyTorch adds its eps=1e-8 to the corrected one)
RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    v = rho v + (1 - rho) g^2;  w -= lr * g / sqrt(v + epsilon)

State is kept per parameter, so one optimizer object may serve two models (tf.keras 2 allowed it and
seed 003 relies on it; Keras 3 raises a ValueError instead). Each model then trains as with its own
fresh optimizer: moments and the bias-correction step count t are the parameter's own.
"""

import warnings

import numpy as np

from bnlab import _core
from bnlab.keras.config_args import from_identifier, init_kwargs
from bnlab.keras.layers.base import Variable


class Optimizer:
    """Base class; ``learning_rate`` can be read and changed between epochs."""

    def __init__(self, learning_rate, name, **hyperparameters):
        lr = float(learning_rate)
        if not lr >= 0:
            raise ValueError(f"learning_rate must be >= 0, got {learning_rate!r}")
        self.name = name
        vars(self).update(hyperparameters)  # momentum=..., beta_1=...: read by _create and get_config
        self._engine = self._create(lr)

    def _create(self, lr):
        raise NotImplementedError

    @property
    def learning_rate(self):
        return self._engine.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not float(value) >= 0:
            raise ValueError(f"learning_rate must be >= 0, got {value!r}")
        self._engine.learning_rate = float(value)

    lr = learning_rate

    @property
    def iterations(self):
        """Update steps taken so far (over every model this optimizer serves)."""
        return self._engine.iterations

    def apply_gradients(self, grads_and_vars):
        """One update of each variable from its gradient: ``opt.apply_gradients(zip(grads, model.trainable_variables))``
        in a custom (GradientTape) loop. The update rule is this optimizer's (see the module docstring); each
        variable keeps its own slots and step count, so ``iterations`` counts calls. Pairs whose gradient is None
        are skipped with Keras's warning. Returns ``iterations``."""
        values, grads, missing = [], [], []
        for k, pair in enumerate(grads_and_vars):
            try:
                grad, var = pair
            except (TypeError, ValueError):
                raise TypeError(f"apply_gradients: grads_and_vars[{k}] must be a (gradient, variable) pair") from None
            if grad is None:
                missing.append(getattr(var, "path", getattr(var, "name", f"variable {k}")))
                continue
            value = _engine_tensor(var, f"grads_and_vars[{k}] variable", variable=True)
            g = _engine_tensor(grad, f"grads_and_vars[{k}] gradient", device=value.device)
            if tuple(g.shape) != tuple(value.shape):
                raise ValueError(
                    f"apply_gradients: grads_and_vars[{k}]: the gradient has shape {tuple(g.shape)}, the variable "
                    f"{tuple(value.shape)}"
                )
            values.append(value)
            grads.append(g)
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                "`model.compile()`, did you forget to provide a `loss` argument?",
                UserWarning,
                stacklevel=2,
            )
        self._engine.apply(values, grads)
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Keras 3's ``apply(grads, trainable_variables)``: ``apply_gradients(zip(grads, trainable_variables))``."""
        if trainable_variables is None:
            raise ValueError("apply: trainable_variables is required (bnlab's optimizers are not built on variables)")
        grads, trainable_variables = list(grads), list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"apply: {len(grads)} gradients for {len(trainable_variables)} variables")
        return self.apply_gradients(zip(grads, trainable_variables, strict=True))

    _hyperparameters = ()  # the attributes get_config records besides name and learning_rate

    def get_config(self):
        """Keras 3's config keys, so that ``Adam.from_config(opt.get_config())`` (bnlab's or Keras's) rebuilds it."""
        config = {"name": self.name, "learning_rate": self.learning_rate}
        return config | {k: getattr(self, k) for k in self._hyperparameters}

    @classmethod
    def from_config(cls, config):
        """The optimizer a config describes; Keras 3's options bnlab lacks (clipnorm, EMA...) must be off."""
        kwargs = init_kwargs(cls, config, f"optimizer {cls.__name__}")
        if isinstance(kwargs.get("learning_rate"), dict):
            raise ValueError(f"optimizer {cls.__name__}: learning-rate schedules are not supported by bnlab")
        return cls(**kwargs)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate:g}>"


class SGD(Optimizer):
    _hyperparameters = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        _no_extra(kwargs, "SGD")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        super().__init__(learning_rate, name, momentum=float(momentum), nesterov=bool(nesterov))

    def _create(self, lr):
        # Keras's velocity v equals -lr * buf of the engine's unified rule (dampening 0).
        return _core.SGD(lr, self.momentum, self.nesterov, 0.0, 0.0)


class Adam(Optimizer):
    _hyperparameters = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="adam", **kwargs
    ):
        _no_extra(kwargs, "Adam")
        for arg, v in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= float(v) < 1.0:
                raise ValueError(f"{arg} must be in [0, 1), got {v!r}")
        betas = {"beta_1": float(beta_1), "beta_2": float(beta_2)}
        super().__init__(learning_rate, name, **betas, epsilon=float(epsilon), amsgrad=bool(amsgrad))

    def _create(self, lr):
        return _core.Adam(lr, self.beta_1, self.beta_2, self.epsilon, bool(self.amsgrad), True, 0.0)


class RMSprop(Optimizer):
    _hyperparameters = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="rmsprop", **kwargs
    ):
        _no_extra(kwargs, "RMSprop")
        averages = {"rho": float(rho), "momentum": float(momentum)}
        super().__init__(learning_rate, name, **averages, epsilon=float(epsilon), centered=bool(centered))

    def _create(self, lr):
        return _core.RMSprop(lr, self.rho, self.momentum, self.epsilon, bool(self.centered))


def _engine_tensor(obj, argname, variable=False, device=None):
    """The engine tensor behind ``obj``: a Keras Variable's own; an object of bnlab's TF core (a float32
    ``tf.Variable``, from ``add_weight`` or not) through its ``_engine_tensor()``; NumPy data (gradients only)
    copied to ``device``. A variable must share its memory, so that the update reaches it."""
    if isinstance(obj, Variable):
        return obj._tensor
    own = getattr(obj, "_engine_tensor", None)
    if own is not None:
        t = own()
        if t is not None:
            return t
        if variable:
            raise TypeError(
                f"apply_gradients: {argname} must be a float32 variable (an optimizer updates floats), got dtype "
                f"{getattr(getattr(obj, 'dtype', None), 'name', getattr(obj, 'dtype', '?'))}"
            )
    if variable:
        raise TypeError(f"apply_gradients: {argname} must be a Keras or tf.Variable, got {type(obj).__name__}")
    array = np.asarray(obj)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"apply_gradients: {argname} must be numeric, got dtype {array.dtype}")
    t = _core.Tensor.from_numpy(np.array(array, dtype=np.float32, order="C"))  # 0-d stays 0-d
    return t if device is None or device == _core.Device.CPU else t.to(device)


def _no_extra(kwargs, cls):
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments passed to {cls}: {kwargs}")


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    """An optimizer from a name ('adam', 'sgd', 'rmsprop') or an instance."""
    return from_identifier(identifier, Optimizer, _BY_NAME, "optimizer")
