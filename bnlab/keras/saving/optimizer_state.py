"""An optimizer's state as Keras 3 stores it: ``optimizer/vars/0..`` of the weights file.

    0: iteration (int64, updates applied)   1: learning_rate (float32)   2..: slots, per optimizer:
    SGD(momentum > 0)  [momentum_p for p]                  Keras's velocity m = -lr * buf (see below)
    Adam               [momentum_p, velocity_p for p] + [velocity_hat_p for p] if amsgrad
    RMSprop            [velocity_p for p] + [momentum_p for p] if momentum > 0 + [average_gradient_p for p] if centered
where p runs over the model's trainable weights in order. The engine keeps the same quantities per parameter
in slots a, b, c (optimizer.cpp); only SGD's differs: the engine's buffer follows PyTorch's rule
buf = momentum * buf + g, w -= lr * buf, whose Keras form is m = momentum * m - lr * g, w += m, so m = -lr * buf
(exact while the learning rate stays constant, which is how both frameworks define the state).

Keras counts one ``iteration`` per optimizer; the engine counts updates per parameter (one optimizer may
serve two models), so the file gets the count of this model's parameters and loading gives it to each.
"""

import numpy as np

from bnlab.keras import optimizers


def _slot_groups(optimizer):
    """Keras's slot variables as groups; within a group each parameter's slots come together."""
    if isinstance(optimizer, optimizers.SGD):
        return [("a",)] if optimizer.momentum != 0 else []
    if isinstance(optimizer, optimizers.Adam):
        return [("a", "b")] + ([("c",)] if optimizer.amsgrad else [])
    if isinstance(optimizer, optimizers.RMSprop):
        return [("a",)] + ([("c",)] if optimizer.momentum > 0 else []) + ([("b",)] if optimizer.centered else [])
    raise TypeError(f"cannot save the state of optimizer {type(optimizer).__name__}")


def _keras_scale(optimizer):
    """Keras value = scale * engine slot (only SGD's momentum differs, see the module docstring)."""
    return -optimizer.learning_rate if isinstance(optimizer, optimizers.SGD) else 1.0


def _layout(optimizer, params):
    return [(p, slot) for group in _slot_groups(optimizer) for p in params for slot in group]


def keras_variables(optimizer, params):
    """The optimizer's variables in Keras's order, for the model whose trainable engine tensors are ``params``."""
    engine = optimizer._engine
    states = {id(p): engine.slots(p) for p in params}
    steps = [s[3] for s in states.values() if s is not None]
    out = [np.asarray(max(steps, default=0), dtype=np.int64), np.asarray(optimizer.learning_rate, dtype=np.float32)]
    scale = _keras_scale(optimizer)
    for p, slot in _layout(optimizer, params):
        state = states[id(p)]
        value = np.zeros(p.shape, np.float32) if state is None else state["abc".index(slot)].numpy() * scale
        out.append(np.asarray(value, dtype=np.float32))
    return out


def check(optimizer, params, values, where):
    """Refuse saved values (arrays or HDF5 datasets) that do not fit this optimizer and model, before anything
    is changed."""
    layout = _layout(optimizer, params)
    if len(values) != 2 + len(layout):
        raise ValueError(
            f"{where}: the saved optimizer has {len(values)} variables, but the model's "
            f"{type(optimizer).__name__} needs {2 + len(layout)}"
        )
    if np.shape(values[0]) != () or np.shape(values[1]) != () or int(values[0][()]) < 0:
        raise ValueError(f"{where}: the optimizer's iteration and learning_rate must be scalars, iteration >= 0")
    for i, ((p, _), value) in enumerate(zip(layout, values[2:], strict=True)):
        if tuple(np.shape(value)) != tuple(p.shape):
            raise ValueError(
                f"{where}: optimizer/vars/{i + 2} has shape {np.shape(value)}, its weight {tuple(p.shape)}"
            )


def restore(optimizer, params, values):
    """Write Keras-ordered ``values`` (passed by check) into the optimizer's engine state."""
    iteration = int(values[0])
    optimizer.learning_rate = float(values[1])
    optimizer._engine.iterations = iteration
    if iteration == 0:  # a fresh optimizer: nothing to restore (Keras's zeros are its initial state)
        return
    scale = _keras_scale(optimizer)
    slots = {id(p): optimizer._engine.restore_slots(p, iteration) for p in params}
    for (p, slot), value in zip(_layout(optimizer, params), values[2:], strict=True):
        # SGD at lr = 0 stored m = 0 whatever its buffer held: the buffer restarts from zero.
        engine_value = np.asarray(value, dtype=np.float32) / scale if scale != 0 else np.zeros_like(value)
        slots[id(p)]["abc".index(slot)].copy_from(np.ascontiguousarray(engine_value, dtype=np.float32))
