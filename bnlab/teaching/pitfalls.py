"""Teaching warnings: the one home of the pitfalls bnlab explains when a user walks into them, in both faces.

Each pitfall is a function that issues its warning; bnlab.keras and bnlab.torch call them where the pitfall
happens. A message says what the user did, what it does to the numbers, and what to do instead. The classes:

    PitfallWarning                      any of them (ignore this one to silence them all)
    ├── BatchNormPitfallWarning         batch normalization that runs, but not as the user expects
    │   └── BatchNormTrainingModeWarning    (bnlab.torch) a BN layer in training mode under no_grad()
    ├── LossPitfallWarning              a loss whose arguments contradict the model's output
    │   └── BatchNormTrainingFlagWarning    (TF core) ``training=`` wrong for what a custom loop does
    └── SettingReadAtBuildWarning       a layer setting changed after build that the layer reads only at build

The pitfalls:

* ``warn_bn_inference_mode_in_tape`` (``tf.GradientTape``): gradients taken through a BN model that was called
  without ``training=True`` inside the tape, the classic custom-loop mistake. The layer then normalizes with its
  MOVING statistics (x_hat = (x - moving_mean) / sqrt(moving_variance + eps)) and never updates them: they stay
  at their initial 0 and 1, so training proceeds as if BN were a fixed affine map, and evaluation later uses
  statistics that never saw the data.
* ``warn_bn_training_mode_outside_tape`` (Keras model call): a BN model called with ``training=True`` where no
  gradient is taken (evaluation, prediction). Each batch is normalized with its OWN mean and variance, so a
  sample's output depends on the others in its batch, and the moving statistics are updated from the test data
  (moving = momentum * moving + (1 - momentum) * batch).

* ``warn_single_sample_batch`` (Keras ``fit``): a batch of one sample through BatchNormalization. The batch
  mean is the sample itself and the batch variance is 0, so x_hat = (x - mean) / sqrt(0 + eps) = 0 and
  the layer outputs y = gamma * 0 + beta = beta whatever the input; no gradient reaches the layers below.
* ``warn_logits_after_softmax`` (Keras ``fit``): ``from_logits=True`` on a model that ends in a softmax.
  The loss applies a second softmax to probabilities in [0, 1], which squeezes them towards uniform
  (softmax([1, 0, 0]) = [0.58, 0.21, 0.21]): the loss stays high and its gradients are small.
* ``warn_train_mode_under_no_grad`` (PyTorch ``forward``): a BatchNorm layer in training mode inside
  ``torch.no_grad()``, the classic "forgot model.eval()". no_grad() only stops gradient tracking; the
  layer still normalizes each batch with the batch's own mean and variance and updates its running
  statistics from it, so test results depend on the test batch and the learned statistics drift.
* ``warn_setting_read_at_build`` (Keras layers): ``center`` or ``scale`` of a LayerNormalization set after it
  was built. Keras 3's LayerNormalization creates gamma and beta (or None) in ``build`` and its ``call`` uses
  those, so the change does nothing to the layer's numbers; only a layer built from the new config would differ.
"""

import warnings

__all__ = [
    "BatchNormPitfallWarning",
    "BatchNormTrainingFlagWarning",
    "BatchNormTrainingModeWarning",
    "LossPitfallWarning",
    "PitfallWarning",
    "SettingReadAtBuildWarning",
    "warn_bn_inference_mode_in_tape",
    "warn_bn_training_mode_outside_tape",
    "warn_logits_after_softmax",
    "warn_setting_read_at_build",
    "warn_single_sample_batch",
    "warn_train_mode_under_no_grad",
]


class PitfallWarning(UserWarning):
    """Code that runs, but not the way the user probably expects; bnlab says what happens and what to do."""


class BatchNormPitfallWarning(PitfallWarning):
    """A BN configuration that trains, but not the way the user probably expects."""


class BatchNormTrainingModeWarning(BatchNormPitfallWarning):
    """A BatchNorm layer ran in training mode inside ``torch.no_grad()`` (usually: evaluation without
    ``model.eval()``)."""


class LossPitfallWarning(PitfallWarning):
    """A loss configured against the model's output (e.g. ``from_logits=True`` after a softmax)."""


class BatchNormTrainingFlagWarning(BatchNormPitfallWarning):
    """A custom (GradientTape) loop passes the wrong ``training=`` to a model with BatchNormalization."""


class SettingReadAtBuildWarning(PitfallWarning):
    """A layer setting changed after the layer was built, which the layer (as in Keras) reads only at build."""


def warn_single_sample_batch(last_batch_only=False, stacklevel=1):
    """BatchNormalization is about to see a batch of ONE sample (every batch, or only the last one of an
    epoch). ``stacklevel`` counts from the caller, as ``warnings.warn``'s does."""
    where = " (the last batch of each epoch has one sample)" if last_batch_only else ""
    warnings.warn(
        f"BatchNormalization sees a batch of ONE sample{where}: the batch mean is that sample and the batch "
        "variance is 0, so x_hat = (x - mean) / sqrt(0 + epsilon) = 0 and the output is just beta, whatever "
        "the input; no gradient reaches the layers below from that batch. Use batch_size >= 8 or so"
        + (", or drop the last sample" if last_batch_only else ""),
        BatchNormPitfallWarning,
        stacklevel=stacklevel + 1,
    )


def warn_logits_after_softmax(loss_name, stacklevel=1):
    """A loss with ``from_logits=True`` follows a softmax output layer."""
    warnings.warn(
        f"{loss_name} received from_logits=True, but the model's last layer applies a softmax, so its "
        "outputs are probabilities, not logits. The loss applies a second softmax to them: values in [0, 1] "
        "come out squeezed towards uniform (softmax([1, 0, 0]) = [0.58, 0.21, 0.21]), so the loss stays high "
        "and the gradients are small. Use from_logits=False, or drop the softmax and keep from_logits=True.",
        LossPitfallWarning,
        stacklevel=stacklevel + 1,
    )


def warn_train_mode_under_no_grad(layer, stacklevel=1):
    """A BatchNorm layer (``layer`` names it, e.g. "BatchNorm1d(64)") runs in training mode inside
    ``torch.no_grad()``."""
    warnings.warn(
        f"{layer} ran in TRAINING mode inside torch.no_grad(). no_grad() only stops gradient tracking; it does "
        "not switch the layer to evaluation. So, exactly as PyTorch does, this batch was normalized with its "
        "OWN mean and variance, y = (x - batch_mean) / sqrt(batch_var + eps) * weight + bias, and "
        "running_mean/running_var were updated from it (running = (1 - momentum) * running + momentum * "
        "batch): the result depends on which samples share the batch, and the learned statistics drift "
        "towards the test data. To evaluate with the running statistics learned in training, call "
        "model.eval() before testing (and model.train() before training again). This warning is shown "
        "once per layer.",
        BatchNormTrainingModeWarning,
        stacklevel=stacklevel + 1,
    )


def warn_setting_read_at_build(kind, name, setting, weight, value, stacklevel=1):
    """``setting`` (center or scale, which decides whether ``weight`` applies) of the built layer ``name``
    (a ``kind``) was set to ``value``."""
    warnings.warn(
        f"{kind} {name!r}: {setting}={value} after the layer was built changes nothing in its output. As in "
        f"Keras 3, {kind} decides in build() whether it has a {weight} weight, and every call uses what build "
        f"made. The new value only goes into get_config(), so a model rebuilt from it (or reloaded) differs. "
        f"To train {'with' if value else 'without'} {weight}, build a new layer with {setting}={value}.",
        SettingReadAtBuildWarning,
        stacklevel=stacklevel + 1,
    )


def warn_bn_inference_mode_in_tape(model, stacklevel=1):
    """``tape.gradient`` differentiates through ``model`` (its name, e.g. "model 'sequential'"), which has
    BatchNormalization and was called inside the tape without ``training=True``."""
    warnings.warn(
        f"GradientTape.gradient: {model} has BatchNormalization and was called inside the tape WITHOUT "
        "training=True. Keras then runs BN in inference mode: y = gamma * (x - moving_mean) / "
        "sqrt(moving_variance + epsilon) + beta, with the MOVING statistics, which this step does not update. "
        "They stay at their initial values (mean 0, variance 1), so the network trains without batch "
        "normalization and evaluation later uses statistics that never saw the data. In a custom training "
        "loop call model(x, training=True) inside the tape, and model(x, training=False) to evaluate.",
        BatchNormTrainingFlagWarning,
        stacklevel=stacklevel + 1,
    )


def warn_bn_training_mode_outside_tape(model, stacklevel=1):
    """``model`` (with BatchNormalization) was called with ``training=True`` where no GradientTape records."""
    warnings.warn(
        f"{model} has BatchNormalization and was called with training=True outside any recording "
        "GradientTape, so no gradient is taken: this looks like evaluation in TRAINING mode. Each batch is "
        "normalized with its OWN mean and variance, so a sample's prediction depends on the other samples of "
        "its batch, and the moving statistics were updated from this data (moving = momentum * moving + "
        "(1 - momentum) * batch). To evaluate, call model(x, training=False) (or model.predict / "
        "model.evaluate), which uses the moving statistics learned in training.",
        BatchNormTrainingFlagWarning,
        stacklevel=stacklevel + 1,
    )
