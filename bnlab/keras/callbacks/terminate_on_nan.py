"""TerminateOnNaN: stop fit at the first batch whose running loss is NaN or infinite (Keras 3).

The batch logs carry the epoch's running mean loss, so one non-finite batch loss makes it non-finite from
that batch on. The engine checks ``model.stop_training`` after every batch and ends the epoch there.
"""

import numpy as np

from bnlab.keras.callbacks.base import Callback


class TerminateOnNaN(Callback):
    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
