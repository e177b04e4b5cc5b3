"""A ready-made reference network built from bnlab.keras layers: ``cnn_model``, for parity tests.

``cnn_model`` is a small CIFAR-style CNN (tests/test_keras_conv.py checks its summary and training against
Keras 3's, tests/test_cuda_conv.py its GPU run against the CPU):

    Conv2D(32, 3, same) - [BN] - ReLU - MaxPooling2D(2)
    Conv2D(64, 3, same) - [BN] - ReLU - MaxPooling2D(2)
    Flatten - Dense(128) - [BN] - ReLU - Dense(classes, softmax)

It is NOT the network of ``bnlab compare --arch cnn``: the lab builds its own in bnlab.lab.networks.build_model
(widths 16, 32, 64, any normalization, dropout, scaled initial kernels), and that is the one
benchmarks/bench_cnn_epoch.py and benchmarks/bench_norms.py time.

Every ReLU is an ``Activation`` layer of its own (the convolutions and the hidden Dense have no activation)
and every convolution and dense layer keeps its bias, with or without BN, so the ``bn=True`` and ``bn=False``
models differ by the BatchNormalization layers only; BN draws no random numbers (its initial values are
constants), so with the same seed both start from the same convolution and dense weights. Layers are named
explicitly (conv_1, bn_1, relu_1, pool_1, ..., flatten, dense, bn_3, relu_3, output; the model cnn_bn or
cnn_nobn), so that a model lines up layer by layer with its Keras twin.
"""

from bnlab.keras.layers import Activation, BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
from bnlab.keras.models import Sequential

CNN_FILTERS = (32, 64)
CNN_DENSE = 128


def cnn_model(input_shape=(28, 28, 1), classes=10, bn=True, name=None):
    """The small CNN above for per-sample images ``input_shape`` (H, W, C); call after ``set_random_seed``."""
    layers = []
    for i, filters in enumerate(CNN_FILTERS, start=1):
        first = {"input_shape": tuple(input_shape)} if i == 1 else {}
        layers.append(Conv2D(filters, 3, padding="same", name=f"conv_{i}", **first))
        if bn:
            layers.append(BatchNormalization(name=f"bn_{i}"))
        layers += [Activation("relu", name=f"relu_{i}"), MaxPooling2D(2, name=f"pool_{i}")]
    block = len(CNN_FILTERS) + 1
    layers += [Flatten(name="flatten"), Dense(CNN_DENSE, name="dense")]
    if bn:
        layers.append(BatchNormalization(name=f"bn_{block}"))
    layers += [Activation("relu", name=f"relu_{block}"), Dense(classes, activation="softmax", name="output")]
    return Sequential(layers, name=name or f"cnn_{'bn' if bn else 'nobn'}")
