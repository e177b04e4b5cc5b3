"""The global random state behind bnlab.keras: weight initializers, shuffling and dropout seeds.

``bnlab.keras.utils.set_random_seed(s)`` resets it, after which a CPU run is bit-for-bit reproducible:
initial weights come from a NumPy generator seeded with ``s``, and each fit draws its shuffle seed, and each
Dropout layer its mask seed, from the same generator (the engine's generator is counter-based, so the
masks and permutations are pure functions of those seeds).
"""

import numpy as np

_rng = np.random.default_rng()


def seed(value):
    """Reseed the global generator (see ``utils.set_random_seed``)."""
    global _rng
    _rng = np.random.default_rng(value)


def generator():
    """The global NumPy generator."""
    return _rng


def draw_seed():
    """A fresh 63-bit seed for an engine stream (shuffling, dropout)."""
    return int(_rng.integers(0, 2**63 - 1))
