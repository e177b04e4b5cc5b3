"""The settings of the normalization layers that are read at every call, as Keras 3 reads them.

Keras 3 keeps a layer's settings as plain attributes and reads them in ``call``: ``bn.momentum = 0.0``
between two fits makes the next step's moving mean that batch's mean. bnlab's layers run in the engine, so
each live setting here is a property that checks a new value (a ValueError names the setting) and hands it to
the built engine layer at once; the next step, in this fit or the next, uses it.

Which settings are live, as in Keras 3:
    BatchNormalization   momentum, epsilon, center, scale, renorm_momentum, renorm_clipping (also changed in
                         place: ``bn.renorm_clipping["rmax"] = 2.0``)
    GroupNormalization   epsilon, center, scale
    LayerNormalization   epsilon; center and scale are read only when the layer is built (Keras 3's
                         LayerNormalization builds gamma and beta, or None, and its call uses those), so a
                         change after build warns and does nothing until a new layer is built.
center or scale turned off after build: gamma (beta) stays a weight of the layer, but is neither applied nor
trained (Keras's optimizer skips a weight that gets no gradient). Turned on after a build without it: a
ValueError, since the layer has no such weight (Keras fails there too, with an AttributeError).
"""

import math
import numbers

from bnlab import teaching


def unit_interval(value, name):
    """value as a float in [0, 1], or a ValueError naming the setting."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def positive_finite(value, name):
    """value as a finite float > 0 (NaN fails too: it would turn every output into NaN), or a ValueError."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 < float(value) < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def live(name, check, doc):
    """A setting the engine reads at every step: ``check(value, name)`` validates a new value, and a built
    layer's engine gets it at once."""

    def get(layer):
        return getattr(layer, f"_{name}")

    def put(layer, value):
        setattr(layer, f"_{name}", check(value, name))
        if layer._engine is not None and hasattr(layer._engine, name):
            setattr(layer._engine, name, getattr(layer, f"_{name}"))

    return property(get, put, doc=doc)


_WEIGHT_OF = {"center": "beta", "scale": "gamma"}


def live_flag(name, doc, read_at_build=False):
    """``center`` or ``scale``: whether beta (gamma) is applied. Live (the engine gets it at once) unless
    ``read_at_build``, which is LayerNormalization's rule in Keras 3: there a change after build warns and
    is kept only for the next build (and the config)."""
    weight = _WEIGHT_OF[name]

    def get(layer):
        return getattr(layer, f"_{name}")

    def put(layer, value):
        value = bool(value)
        if layer._engine is not None:
            if read_at_build:
                if value != getattr(layer, f"_{name}"):
                    teaching.warn_setting_read_at_build(
                        type(layer).__name__, layer.name, name, weight, value, stacklevel=2
                    )
            elif value and not layer._has_weight[weight]:
                raise ValueError(
                    f"{name}=True: the layer {layer.name!r} was built with {name}=False, so it has no {weight} "
                    f"weight to apply; build a new {type(layer).__name__}({name}=True) instead"
                )
            else:
                setattr(layer._engine, name, value)
        setattr(layer, f"_{name}", value)

    return property(get, put, doc=doc)


class LiveClipping(dict):
    """BatchNormalization's renorm_clipping as the layer holds it: a dict whose changes in place are checked
    (``check``) and reach the engine at once (``push``), as Keras 3 reads the dict at every call."""

    def __init__(self, values, check, push):
        super().__init__(values)
        self._check, self._push = check, push

    def _replace(self, new):
        checked = self._check(new)  # raises before anything changes
        super().clear()
        super().update(checked)
        self._push()

    def __setitem__(self, key, value):
        self._replace({**self, key: value})

    def __delitem__(self, key):
        new = dict(self)
        del new[key]
        self._replace(new)

    def update(self, *args, **kwargs):
        new = dict(self)
        new.update(*args, **kwargs)
        self._replace(new)

    def pop(self, key, *default):
        new = dict(self)
        value = new.pop(key, *default)
        self._replace(new)
        return value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        self._replace({})

    def popitem(self):
        raise TypeError("renorm_clipping: use del clipping[key] or assign a new dict")

    def __ior__(self, other):
        self.update(other)
        return self
