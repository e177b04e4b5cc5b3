"""bnlab.fold_batchnorm: the folded model predicts what the original predicts (seed 002's and 003's networks,
after training), the original is untouched, and BNs that cannot be folded are refused by name."""

import numpy as np
import pytest

import bnlab
from bnlab.keras import layers, models


def _seed002(shape=(32, 32, 3)):  # Dense(relu) -> BN: folds forwards into the next Dense
    return models.Sequential(
        [
            layers.Flatten(input_shape=shape),
            layers.Dense(64, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(32, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(10, activation="softmax"),
        ]
    )


def _seed003(shape=(28, 28)):  # Dense -> BN -> ReLU: folds backwards into the Dense
    return models.Sequential(
        [
            layers.Flatten(input_shape=shape),
            layers.Dense(64),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(32, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.mark.parametrize(
    ("build", "shape"), [(_seed002, (32, 32, 3)), (_seed003, (28, 28))], ids=["seed002", "seed003"]
)
def test_folded_model_predicts_the_same_after_training(build, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 1.0, (256, *shape)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    model = build(shape)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    folded = bnlab.fold_batchnorm(model)
    assert folded.folded_batchnorms == 2
    assert not any(isinstance(la, layers.BatchNormalization) for la in folded.layers)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    for a, b in zip(model.get_weights(), before, strict=True):  # the original is untouched
        np.testing.assert_array_equal(a, b)


def test_folding_uses_the_moving_statistics_and_gamma_beta():
    rng = np.random.default_rng(1)
    model = models.Sequential([layers.Dense(3, input_shape=(4,)), layers.BatchNormalization()])
    w = model.get_weights()
    bn_values = [rng.uniform(0.5, 2, 3), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.1, 3, 3)]
    model.set_weights([w[0], w[1], *[v.astype(np.float32) for v in bn_values]])
    folded = bnlab.fold_batchnorm(model)
    gamma, beta, mean, var = bn_values
    a = gamma / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(folded.layers[0].kernel.numpy(), w[0] * a, rtol=1e-6)
    np.testing.assert_allclose(folded.layers[0].bias.numpy(), (w[1] - mean) * a + beta, rtol=1e-5, atol=1e-6)


def test_unfoldable_batchnorm_is_refused_by_name():
    model = models.Sequential(
        [layers.Dense(3, activation="relu", input_shape=(4,)), layers.BatchNormalization(name="bn_last")]
    )
    with pytest.raises(ValueError, match=r"'bn_last'.*cannot be folded"):
        bnlab.fold_batchnorm(model)
    with pytest.raises(TypeError, match="Sequential"):
        bnlab.fold_batchnorm(object())


def test_a_lab_cnn_with_its_custom_initializer_folds():
    """The lab builds its networks with ScaledInitializer, which has no registered name: folding copies the
    layers' initializer objects instead of rebuilding them from their configs, so every lab model folds."""
    from bnlab.keras import utils
    from bnlab.lab.config import SweepConfig
    from bnlab.lab.networks import build_model

    spec = next(s for s in SweepConfig(arch="cnn", norms=("batch",)).runs() if s.norm == "batch")
    utils.set_random_seed(spec.seed)
    rng = np.random.default_rng(1)
    x = rng.random((128, 28, 28, 1), dtype=np.float32)
    model = build_model(spec, x.shape[1:], 10)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 10, 128), batch_size=32, epochs=1, verbose=0)
    folded = bnlab.fold_batchnorm(model)
    assert folded.folded_batchnorms == sum(isinstance(la, layers.BatchNormalization) for la in model.layers) > 0
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
