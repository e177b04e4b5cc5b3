"""The Callback base class, History and LambdaCallback: the hooks fit calls around epochs and batches.

The epoch itself runs in C++; the engine calls back into Python after each batch only when a callback
overrides ``on_train_batch_end`` or ``on_batch_end`` (or a progress bar needs it), so epoch-level callbacks
cost nothing. As in Keras 3, fit runs the user's callbacks first and History last, on the same ``logs``
dict, so what a callback adds at the end of an epoch (``learning_rate``) reaches ``history.history``.
"""


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_end(self, batch, logs=None):
        """Keras's default: a training batch's end is also ``on_batch_end``."""
        self.on_batch_end(batch, logs=logs)

    def _wants_batches(self):
        cls = type(self)
        return (
            cls.on_train_batch_end is not Callback.on_train_batch_end or cls.on_batch_end is not Callback.on_batch_end
        )


class History(Callback):
    """Records the logs of each epoch: ``history.history['val_accuracy'][-1]``, ``history.epoch``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class LambdaCallback(Callback):
    """A callback from plain functions: on_epoch_end=lambda epoch, logs: ..."""

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_end=None,
    ):
        super().__init__()
        for name, fn in (
            ("on_epoch_begin", on_epoch_begin),
            ("on_epoch_end", on_epoch_end),
            ("on_train_begin", on_train_begin),
            ("on_train_end", on_train_end),
        ):
            if fn is not None:
                setattr(self, name, fn)
        self._batch_end = on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        if self._batch_end is not None:
            self._batch_end(batch, logs)

    def _wants_batches(self):
        return self._batch_end is not None
