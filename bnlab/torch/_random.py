"""Random numbers for ``bnlab.torch``: ``Generator``, the default generator and ``manual_seed``.

Every random draw of the package goes through a :class:`Generator` (a seeded NumPy ``Generator``): weight
initialization (``nn.Linear``), ``randn``/``rand``, the seeds of the engine's dropout masks and the
DataLoader's shuffles. ``torch.manual_seed(s)`` reseeds the default generator, so a script that seeds
first is reproducible run after run. The numbers differ from PyTorch's (another algorithm); the
distributions are the same. Like PyTorch, the default generator starts from a fixed seed
(67280421310721), so unseeded runs are reproducible too.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Generator", "default_generator", "initial_seed", "manual_seed", "seed"]

DEFAULT_SEED = 67280421310721


class Generator:
    """A random stream: ``Generator().manual_seed(0)``; pass it as ``generator=`` to ``randn``,
    ``DataLoader`` and friends."""

    def __init__(self, device="cpu") -> None:
        self.device = device
        self._seed = DEFAULT_SEED
        self.rng = np.random.default_rng(DEFAULT_SEED)

    def manual_seed(self, seed) -> Generator:
        """Restart the stream from ``seed`` (an int); returns the generator, as PyTorch does."""
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise TypeError(f"manual_seed expected an int, got {seed!r}") from None
        self._seed = seed
        self.rng = np.random.default_rng(seed & 0xFFFFFFFFFFFFFFFF)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF)._seed

    def initial_seed(self) -> int:
        return self._seed

    def draw_seed(self) -> int:
        """A 63-bit seed for a derived stream (a dropout mask, one epoch's shuffle)."""
        return int(self.rng.integers(0, 2**63 - 1))

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state) -> None:
        self.rng.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed the default generator (``torch.manual_seed(0)``); returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def rng_of(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (the default one when None)."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a bnlab.torch.Generator, got {type(generator).__name__}")
    return generator.rng
