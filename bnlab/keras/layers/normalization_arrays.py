"""What every normalization layer exposes alike: its gamma and beta weights, and the engine's arrays of the
last call (the normalised input, 1 / sqrt(var + epsilon)) and of the last training step (dgamma, dbeta, dx).

It also decides, at build, which of gamma and beta are weights of the layer. A mixin, not a Layer:
BatchNormalization (normalization.py) and the per-sample norms (normalization_family.py) inherit it next to
Layer, and it adds no layer class to LAYER_CLASSES. An array is NumPy (a view of the engine's memory on the
CPU, a copy on a GPU), or None before the layer is built or before the step that fills it.
"""


def weight(name):
    """A read-only property: the layer's weight ``name`` (a Variable), None when it has none by that name."""
    return property(lambda layer: layer._var(name))


def cached_array(name, doc):
    """A read-only property: the array ``name`` of the engine cache the layer's last call filled."""
    return property(lambda layer: layer._engine_array(layer._last_cache, name), doc=doc)


def step_array(name, doc):
    """A read-only property: the array ``name`` the engine keeps from the last training step."""
    return property(lambda layer: layer._engine_array(lambda engine: engine, name), doc=doc)


class NormalizationArrays:
    """Mixed into the normalization layers; ``_last_cache(engine)`` is the engine cache the last call filled."""

    gamma = weight("gamma")
    beta = weight("beta")

    def build(self, input_shape):
        # Which of gamma and beta are weights is decided here, as Keras decides it in build(): center or scale
        # changed later switches the weight's use, never its existence (normalization_settings.py).
        self._has_weight = {"gamma": bool(self.scale), "beta": bool(self.center)}
        super().build(input_shape)

    def _gamma_beta_variables(self):
        """[(name, engine tensor, trainable)] of the gamma and beta the layer was built with."""
        e = self._engine
        return [(n, getattr(e, n), True) for n in ("gamma", "beta") if self._has_weight[n]]

    def _engine_array(self, owner, name):
        """``owner(engine).<name>`` as NumPy, or None (no engine yet, or the array is not defined yet)."""
        if self._engine is None:
            return None
        t = getattr(owner(self._engine), name)
        return t.numpy() if t.defined else None

    def _last_cache(self, engine):
        return engine.cache

    x_hat = cached_array("xhat", "The normalised input of the last call (training step, for BN), shape (batch, ...).")
    dgamma = step_array("dgamma", "d(loss)/d(gamma) of the last training step (the batch mean loss).")
    dbeta = step_array("dbeta", "d(loss)/d(beta) of the last training step.")
    dx = step_array("dx", "d(loss)/d(input) of the last training step, shape (batch, ...).")
