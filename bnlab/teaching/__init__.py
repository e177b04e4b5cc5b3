"""``bnlab.teaching``: what bnlab adds for teaching, on both faces.

* :mod:`bnlab.teaching.pitfalls` — the warnings bnlab issues when a user walks into a classic BN pitfall
  (their classes and the functions that issue them; re-exported here, so ``bnlab.teaching.PitfallWarning``
  works).
* :mod:`bnlab.teaching.gradcheck` — "write your own backward": central-difference gradient checks of a student's
  NumPy layer pair ``forward(x, ...) -> (out, cache)``, ``backward(dout, cache) -> grads`` (CS231n's
  conventions and names: ``eval_numerical_gradient``, ``rel_error``, ``check_layer``), and a comparison of a
  student's batch or layer norm with bnlab's own float32 kernels (``compare_with_engine``).
"""

from .gradcheck import *  # noqa: F403
from .gradcheck import __all__ as _gradcheck_all
from .pitfalls import *  # noqa: F403
from .pitfalls import __all__ as _pitfalls_all

__all__ = [*_pitfalls_all, *_gradcheck_all]
