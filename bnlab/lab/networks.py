"""The lab's networks: a run's spec turned into a Keras-style model (MLP or small CNN), with its
normalization, dropout and initial-weight scale.

MLP: ``Flatten``, then per hidden width a block ``Dense(h)``, the normalization and ``Activation("relu")``
in the order of ``bn_position`` ("before": Dense -> norm -> ReLU; "after": Dense -> ReLU -> norm; the
``none`` model leaves the norm out), then ``Dense(classes, softmax)``.

CNN (``--arch cnn``, widths (c1, c2, d)): two blocks ``Conv2D(c, 3, padding="same")`` -> norm -> ReLU ->
``MaxPooling2D(2)``, then ``Flatten``, one Dense block of width d and the softmax output: conv-BN-ReLU
blocks, pooling and a dense head, the classic CIFAR-style network, on 28x28x1 or 32x32x3 images.

The normalizations (``spec.norm``): ``batch`` Keras's BatchNormalization (momentum 0.99, epsilon 1e-3);
``layer`` LayerNormalization(axis=-1, epsilon=1e-3) (per sample, over the features/channels); ``group``
GroupNormalization(groups=G, axis=-1) (per sample, over groups of G channels and the spatial axes);
``renorm`` BatchNormalization(renorm=True) with the clipping rmax=3, rmin=1/3, dmax=5 (Ioffe 2017, Keras
2's semantics); ``ghost`` BatchNormalization(virtual_batch_size=k) (statistics over sub-batches of k).

Dropout (``spec.dropout`` > 0) goes into every hidden block: ``before`` — right before the normalization
(where the norm is, for the ``none`` model), so the normalization sees dropout's noise in training and
not in inference (the "variance shift" of Li et al. 2019); ``after`` — at the block's end, after the
activation. Init scale s: every kernel starts as s times Keras's default draw (glorot_uniform): the same
random numbers, scaled, so runs differing only in s start from proportional weights.

With the same seed, every model of a cell draws the same kernels: normalization layers draw nothing
(their initial values are constants), dropout layers draw their seeds in the same order in every model.
"""

import inspect

from bnlab.keras import Sequential, initializers, layers
from bnlab.lab.config import CNN_ARCH, NORM_NAMES, RENORM_CLIPPING, RENORM_MOMENTUM, LabError

NORM_PREFIX = {"batch": "bn", "layer": "ln", "group": "gn", "renorm": "brn", "ghost": "gbn"}
# What each normalization needs from bnlab.keras.layers, and how to make one.
_NORM_NEEDS = {
    "batch": "BatchNormalization",
    "layer": "LayerNormalization",
    "group": "GroupNormalization",
    "renorm": "BatchNormalization(renorm=True, ...)",
    "ghost": "BatchNormalization(virtual_batch_size=k)",
}
_CNN_NEEDS = ("Conv2D", "MaxPooling2D")


class ScaledInitializer(initializers.Initializer):
    """``factor`` times the draws of ``base``: same random numbers, scaled."""

    def __init__(self, base, factor):
        self.base, self.factor = initializers.get(base), float(factor)

    def sample(self, shape, rng):
        return self.factor * self.base.sample(shape, rng)


def make_norm(spec, name):
    """The normalization layer of ``spec.norm`` (not for "none")."""
    if spec.norm == "batch":
        return layers.BatchNormalization(name=name)
    if spec.norm == "layer":
        return layers.LayerNormalization(axis=-1, epsilon=1e-3, name=name)
    if spec.norm == "group":
        return layers.GroupNormalization(groups=spec.groups, axis=-1, name=name)
    if spec.norm == "renorm":
        return layers.BatchNormalization(
            renorm=True, renorm_clipping=dict(RENORM_CLIPPING), renorm_momentum=RENORM_MOMENTUM, name=name
        )
    if spec.norm == "ghost":
        return layers.BatchNormalization(virtual_batch_size=spec.virtual_batch_size, name=name)
    raise ValueError(f"no layer for norm {spec.norm!r}")


def norm_available(norm):
    """Whether this build of bnlab has the layer ``norm`` needs."""
    if norm == "none":
        return True
    if norm in ("layer", "group"):
        return hasattr(layers, _NORM_NEEDS[norm])
    if norm in ("renorm", "ghost"):
        # read from the signature: building a probe layer would move Keras's layer-name counter, and the user's
        # next BatchNormalization would be named batch_normalization_1
        arg = {"renorm": "renorm", "ghost": "virtual_batch_size"}[norm]
        return arg in inspect.signature(layers.BatchNormalization).parameters
    return True


def check_available(config):
    """Raise LabError when this bnlab lacks a layer the sweep needs (a norm, or the CNN's layers)."""
    for norm in config.norms:
        if not norm_available(norm):
            raise LabError(
                f"--norm {norm} ({NORM_NAMES[norm]}) needs {_NORM_NEEDS[norm]} in bnlab.keras.layers, which this "
                "build of bnlab does not have: leave it out of --norm"
            )
    if config.arch == CNN_ARCH:
        missing = [n for n in _CNN_NEEDS if not hasattr(layers, n)]
        if missing:
            raise LabError(
                f"--arch cnn needs {', '.join(missing)} in bnlab.keras.layers, which this build of bnlab does not "
                "have: choose an MLP (--arch seed003)"
            )


def _block(spec, main, norm_name, dropout_name, relu_name):
    """One hidden block in the order of bn_position and dropout_position (see the module docstring)."""
    norm = [make_norm(spec, norm_name)] if spec.norm != "none" else []
    relu = layers.Activation("relu", name=relu_name)
    dropout = [layers.Dropout(spec.dropout, name=dropout_name)] if spec.dropout else []
    early, late = (dropout, []) if spec.dropout_position == "before" else ([], dropout)
    if spec.bn_position == "before":
        return [main, *early, *norm, relu, *late]
    return [main, relu, *early, *norm, *late]


def build_model(spec, input_shape, classes):
    """The spec's network; call after set_random_seed."""
    kernel = ScaledInitializer("glorot_uniform", spec.init_scale)
    prefix = NORM_PREFIX.get(spec.norm, "norm")
    stack = []
    dense_widths = spec.hidden
    if spec.arch == CNN_ARCH:
        channels, dense_widths = spec.hidden[:-1], spec.hidden[-1:]
        for i, c in enumerate(channels, start=1):
            shape = {"input_shape": tuple(input_shape)} if i == 1 else {}
            conv = layers.Conv2D(c, 3, padding="same", kernel_initializer=kernel, name=f"conv_{i}", **shape)
            stack += _block(spec, conv, f"{prefix}_conv{i}", f"dropout_conv{i}", f"relu_conv{i}")
            stack.append(layers.MaxPooling2D(2, name=f"pool_{i}"))
        stack.append(layers.Flatten(name="flatten"))
    else:
        stack.append(layers.Flatten(input_shape=input_shape, name="flatten"))
    for i, width in enumerate(dense_widths, start=1):
        dense = layers.Dense(width, kernel_initializer=kernel, name=f"dense_{i}")
        stack += _block(spec, dense, f"{prefix}_{i}", f"dropout_{i}", f"relu_{i}")
    stack.append(layers.Dense(classes, activation="softmax", kernel_initializer=kernel, name="output"))
    return Sequential(stack, name=f"{spec.arch}_{spec.norm}")


def layer_kind(layer):
    """The record's name for a layer that holds weights or normalizes, or None."""
    if isinstance(layer, layers.Dense):
        return "dense"
    if isinstance(layer, layers.BatchNormalization):
        return "batchnorm"
    for kind, cls in (("layernorm", "LayerNormalization"), ("groupnorm", "GroupNormalization"), ("conv", "Conv2D")):
        if hasattr(layers, cls) and isinstance(layer, getattr(layers, cls)):
            return kind
    return None


def describe_layers(model):
    """[{"name", "kind", "units"}] of the layers that hold weights or normalize (units: features/channels)."""
    out = []
    for layer in model.layers:
        kind = layer_kind(layer)
        if kind is None:
            continue
        if kind == "dense" and layer is model.layers[-1]:
            kind = "output"
        out.append({"name": layer.name, "kind": kind, "units": int(layer.output_shape[-1])})
    return out
