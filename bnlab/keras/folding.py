"""``bnlab.fold_batchnorm(model)``: fold every inference-mode BatchNormalization into the layer before it.

In inference a BatchNormalization is a fixed affine map per feature c,
    y_c = a_c * (z_c - moving_mean_c) + beta_c,    a_c = gamma_c / sqrt(moving_variance_c + epsilon),
so when z = x @ W + b comes from a Dense with no activation, the pair is one Dense:
    W'[:, c] = W[:, c] * a_c,    b'_c = (b_c - moving_mean_c) * a_c + beta_c.
The fold is per output channel on the LAST axis of the kernel, so any layer with a ``kernel`` whose last axis
is its output channel, a ``use_bias`` and an ``activation`` folds the same way (a channels-last Conv2D, kernel
(kh, kw, in, out), once bnlab has one): the layer is recognised by those attributes, not by its class.

A BN after a Dense WITH an activation (Dense(..., activation='relu') then BN, seed 002's order) cannot fold
backwards (the activation sits between the two affine maps); it folds forwards into the Dense after it
(see fold_batchnorm). A BN that can do neither raises ValueError naming it.

The result predicts what the original predicts in inference mode (to float32 rounding) with one layer fewer
per fold; the original model is not modified. It is for deployment: training the folded model trains a
different network (no batch statistics).
"""

import numpy as np

from bnlab.keras.layers.normalization import BatchNormalization


def _foldable_producer(layer):
    """Whether ``layer`` is a linear map with a per-output-channel kernel (Dense; channels-last Conv2D)."""
    return (
        hasattr(layer, "kernel")
        and hasattr(layer, "use_bias")
        and hasattr(layer, "activation")
        and getattr(layer, "data_format", "channels_last") == "channels_last"
    )


def _is_linear(layer):
    from bnlab.keras import activations

    return layer.activation is None or activations.name_of(layer.activation) == "linear"


def _bn_scale_shift(bn):
    """(a, beta, mean) in float64: the BN's inference map is y = a * (z - mean) + beta."""
    var = np.asarray(bn.moving_variance.numpy(), np.float64)
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else np.ones_like(var)
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else np.zeros_like(var)
    return gamma / np.sqrt(var + bn.epsilon), beta, np.asarray(bn.moving_mean.numpy(), np.float64)


def _clone(layer, **overrides):
    """A new layer of the same configuration. Initializers are passed as the layer's own objects, not their
    serialized configs: a custom initializer (a user's Initializer subclass, the lab's ScaledInitializer) has no
    registered name to be rebuilt from, and the clone's weights are overwritten anyway."""
    config = layer.get_config()
    for key in config:
        if key.endswith("_initializer") and getattr(layer, key, None) is not None:
            config[key] = getattr(layer, key)
    return type(layer).from_config({**config, **overrides})


def _fold_plan(layers):
    """[(layer, how)] with how None (copy), "into_previous" (a BN folded into the layer before it) or
    "into_next" (a BN folded into the Dense after it)."""
    plan = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, BatchNormalization):
            plan.append((layer, None))
            continue
        prev = layers[i - 1] if i > 0 else None
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if len(layer._input_shape) != 2 and layer.axis not in (-1, len(layer._input_shape) - 1):
            raise ValueError(
                f"fold_batchnorm: {layer.name!r} normalises axis {layer.axis}, not the last (channel) axis"
            )
        if prev is not None and _foldable_producer(prev) and _is_linear(prev) and plan[-1][1] is None:
            plan.append((layer, "into_previous"))
        elif nxt is not None and _foldable_producer(nxt) and len(nxt.kernel.shape) == 2:
            plan.append((layer, "into_next"))  # a Dense after: its input features are the BN's outputs
        else:
            before = f"after {prev.name!r} (which has an activation)" if prev is not None else "first in the model"
            raise ValueError(
                f"fold_batchnorm: {layer.name!r} comes {before} and is not followed by a Dense, so it cannot be "
                f"folded; fold only a BatchNormalization directly after a linear Dense (activation=None) or "
                f"directly before a Dense"
            )
    return plan


def fold_batchnorm(model):
    """A new Sequential model equal in inference to ``model``, with every BatchNormalization folded away.

    A BN directly after a linear Dense folds into that Dense's output channels (above). A BN after an
    activated Dense (Dense(..., activation='relu') then BN, as in seed 002) folds instead into the Dense AFTER
    it, on its input side: z = a * (h - mean) + beta feeds z @ W2 + b2, so W2' = a[:, None] * W2 and
    b2' = b2 + (beta - a * mean) @ W2 (exact for a Dense; a Conv2D's zero padding would break it, so that
    direction is for Dense only). Any other BN raises ValueError naming it. ``model`` is not modified; the
    result has ``folded_batchnorms``, the number of BNs removed.
    """
    from bnlab.keras.models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"fold_batchnorm expects a bnlab.keras Sequential model, got {type(model).__name__}")
    model._build_if_possible()
    if not model.built:
        raise ValueError("fold_batchnorm: the model is not built yet (give it an input shape or fit it first)")
    new_layers, weights, pending = [], [], None  # pending: (a, shift) of a BN waiting for the Dense after it
    for layer, how in _fold_plan(model.layers):
        if how == "into_previous":
            a, beta, mean = _bn_scale_shift(layer)
            kernel, bias = weights[-1][0].astype(np.float64), weights[-1][1].astype(np.float64)
            weights[-1] = [(kernel * a).astype(np.float32), ((bias - mean) * a + beta).astype(np.float32)]
            continue
        if how == "into_next":
            a, beta, mean = _bn_scale_shift(layer)
            pending = (a, beta - a * mean)
            continue
        if _foldable_producer(layer) and (pending is not None or layer.use_bias is False):
            kernel = np.asarray(layer.kernel.numpy(), np.float64)
            bias = np.asarray(layer.bias.numpy(), np.float64) if layer.use_bias else np.zeros(kernel.shape[-1])
            if pending is not None:
                a, shift = pending
                kernel, bias = a[:, None] * kernel, bias + shift @ kernel
                pending = None
            new_layers.append(_clone(layer, use_bias=True))  # a fold may need the bias the layer lacked
            weights.append([kernel.astype(np.float32), bias.astype(np.float32)])
            continue
        new_layers.append(_clone(layer))
        weights.append(layer.get_weights())
    out = Sequential(name=f"{model.name}_folded")
    for layer in new_layers:
        out.add(layer)
    out.build(model.input_shape)
    for layer, w in zip(new_layers, weights, strict=True):
        layer.set_weights(w)
    out.folded_batchnorms = len(model.layers) - len(new_layers)
    return out
