"""The one point where bnlab's TensorFlow core (``bnlab.tf``) runs Keras objects on its tensors.

TensorFlow's Keras is built on TensorFlow's tensors; in bnlab the Keras face is older than the TF core and must
not import it (the arrows point down: ``bnlab.tf`` sits above ``bnlab.keras``, as it calls Keras models inside
a ``GradientTape``). So the TF core registers a handler here when it loads, and a model, a layer or a loss
called with a TF tensor, or while a GradientTape records, hands the call to it: the handler runs the engine's
layers one by one and tapes each call, so that ``tape.gradient`` reaches the layers' weights. Without the TF
core loaded, ``handler`` stays None and every call takes the NumPy path.

The handler provides ``takes(*values)`` (whether the call is the TF core's: a TF tensor among the values, or a
tape recording), ``recording()``, ``call_model(model, x, training)``, ``call_layer(layer, x, training)`` and
``call_loss(loss, y_true, y_pred)``, and for the Keras objects that compute in TF ops (layers and models
written in Python, metrics): ``python_layers`` (bnlab/tf/_python_layers.py), ``keras_fit`` (the fit loop of a
model holding one, bnlab/tf/_keras_fit.py) and ``constant(value)``.

``tf_core()`` is the only place bnlab.keras names the TF core: such an object needs TF tensors, so its first use
loads bnlab.tf by module name, whose import registers the handler; no other module of bnlab.keras imports it.
"""

import importlib

handler = None


def tf_core():
    """The handler of the TF core, loading the TF core first when no handler is registered yet."""
    if handler is None:
        importlib.import_module("bnlab.tf")  # its __init__ registers the handler
    return handler


def takes(*values) -> bool:
    """Whether this call goes to the TF core (it is loaded and claims one of ``values`` or records)."""
    return handler is not None and handler.takes(*values)


def recording() -> bool:
    """Whether a GradientTape of the TF core records now."""
    return handler is not None and handler.recording()
