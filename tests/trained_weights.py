"""Comparing the weights of two training runs that computed in different orders (bnlab against Keras, on any
x86-64 CPU and either GEMM path): what is stable across GEMM kernels is compared tightly, what is not is held
to the bound the optimizer's update rule puts on it.

SGD moves a weight by lr * g per step, so a rounding difference in g stays a rounding difference: every weight is
compared to rtol 1e-3, atol 1e-4. Adam and RMSprop move it by lr times a NORMALISED gradient (m / sqrt(v),
g / sqrt(v)), whose size does not depend on g's: an element whose gradient is at float-noise level gets a step of
about lr whose sign is the noise's, and two GEMM kernels can send it ~2 lr apart per step. Two kinds:
- parameters whose true gradient is exactly 0: the bias of a layer followed by BatchNormalization (BN subtracts
  the batch mean, so d(loss)/d(bias) = sum over the batch of BN's input gradient = 0), and the moving means that
  average those biases. All their elements are noise: only the step bound applies.
- elements of other parameters whose gradient sum over the batch cancels to noise level: a few of them (on an
  Intel CPU, 224 of a 576 x 128 kernel's 73,728 elements came 8.7e-4 apart after 16 Adam steps of lr 1e-3,
  issue 25). Every element stays inside the step bound, and the majority, whose gradients stand far above the
  noise, agrees to the tight tolerance: a wrong gradient or update rule would move that majority.
"""

from __future__ import annotations

import numpy as np

TIGHT = {"rtol": 1e-3, "atol": 1e-4}


def adam_step_bound(lr, steps, beta_1=0.9, beta_2=0.999):
    """The largest total distance Keras's Adam can move one weight in `steps` steps: the sum over t of
    lr sqrt(1 - beta_2^t) / (1 - beta_1^t) |m_t| / sqrt(v_t), where Cauchy-Schwarz on m_t = (1 - beta_1)
    sum_s beta_1^(t-s) g_s against v_t = (1 - beta_2) sum_s beta_2^(t-s) g_s^2 gives
    |m_t| / sqrt(v_t) <= (1 - beta_1) / sqrt(1 - beta_2) * sqrt(sum_{k<t} (beta_1^2 / beta_2)^k)."""
    total = 0.0
    for t in range(1, steps + 1):
        ratio = (1 - beta_1) / np.sqrt(1 - beta_2) * np.sqrt(sum((beta_1**2 / beta_2) ** k for k in range(t)))
        total += lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * ratio
    return total


def rmsprop_step_bound(lr, steps, rho=0.9):
    """RMSprop moves a weight by lr g_t / sqrt(v_t) with v_t >= (1 - rho) g_t^2: at most lr / sqrt(1 - rho)."""
    return steps * lr / np.sqrt(1 - rho)


def step_bound(optimizer, steps, lr=1e-3):
    """How far two runs of `optimizer` (Keras's name, default hyper-parameters) can drift apart in one element:
    each run moves it at most the bound, in either direction."""
    one_run = {"adam": adam_step_bound, "rmsprop": rmsprop_step_bound}[optimizer](lr, steps)
    return 2 * one_run


def biases_before_bn(model):
    """Indices in get_weights() of the biases of layers followed by BatchNormalization, and of the moving means
    of those BatchNormalization layers (which average the biased outputs)."""
    out, i = [], 0
    layers = model.layers
    for layer, after in zip(layers, [*layers[1:], None], strict=True):
        names = [w.name for w in layer.weights]
        if "bias" in names and after is not None and type(after).__name__ == "BatchNormalization":
            out += [i + names.index("bias"), i + len(names) + 2]  # the bias, the next layer's moving_mean
        i += len(names)
    return out


def assert_trained_weights_match(ours, theirs, optimizer, steps):
    """ours, theirs: two models after `steps` update steps of `optimizer` ('sgd', 'adam', 'rmsprop') from the same
    weights on the same batches. See the module docstring for what is compared how."""
    noise = set(biases_before_bn(ours))
    for i, (mine, ref) in enumerate(zip(ours.get_weights(), theirs.get_weights(), strict=True)):
        path = ours.weights[i].path
        if optimizer == "sgd":
            np.testing.assert_allclose(mine, ref, **TIGHT, err_msg=path)
            continue
        diff = np.abs(mine - ref)
        if "moving_variance" not in path:  # a moving variance is no optimizer's step: only the majority rule
            bound = step_bound(optimizer, steps)
            np.testing.assert_array_less(diff, bound, err_msg=f"{path}: beyond {optimizer}'s step bound {bound:.3g}")
        if i in noise:
            continue
        within = diff <= TIGHT["atol"] + TIGHT["rtol"] * np.abs(ref)
        assert within.mean() > 0.5, f"{path}: only {within.mean():.1%} of the elements agree to 1e-4 + 1e-3 |ref|"
