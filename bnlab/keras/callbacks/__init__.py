"""bnlab.keras.callbacks: Keras 3's callbacks, one family per module.

base.py (Callback, History, LambdaCallback), monitor.py (the improvement rule), early_stopping.py,
model_checkpoint.py, learning_rate.py (ReduceLROnPlateau, LearningRateScheduler), csv_logger.py,
terminate_on_nan.py.
"""

from bnlab.keras.callbacks.base import Callback, History, LambdaCallback
from bnlab.keras.callbacks.csv_logger import CSVLogger
from bnlab.keras.callbacks.early_stopping import EarlyStopping
from bnlab.keras.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from bnlab.keras.callbacks.model_checkpoint import ModelCheckpoint
from bnlab.keras.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
