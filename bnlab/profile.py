"""The engine's phase timers, read from Python: where an epoch's time goes, kernel by kernel.

The C++ engine times its CPU kernels when profiling is on (``BNLAB_PROFILE=1`` in the environment before
``import bnlab``, or :func:`enable`): each GEMM by phase (``gemm.forward``: ``out = x W``, ``gemm.dinput``:
``dx = dout W^T``, ``gemm.dweight``: ``dW (+)= x^T dout``) and shape, batch norm, activations, the loss, the
optimizer update and the gather of batches. Off, a timer costs one branch; on, two clock reads and a lookup in
a fixed table (no allocation). Times are wall-clock on the calling thread, so a GEMM's time includes its
OpenBLAS threads.

    import bnlab.profile as prof
    prof.enable(); prof.reset()
    model.fit(x, y, epochs=1)
    for row in prof.read(): print(row["phase"], row["seconds"], row["gflops"])

A GEMM's shape is row-major ``C(m, n) = op(A)(m, k) op(B)(k, n)`` with ``trans_a``/``trans_b`` 'N' or 'T', as
``cblas_sgemm(CblasRowMajor, ...)`` receives it; ``gflops`` is ``2 m n k calls / seconds / 1e9``.
``train_step`` is the whole step; its time minus the kernels' is the engine's own overhead.
"""

from __future__ import annotations

from . import _core

__all__ = ["disable", "enable", "enabled", "read", "reset"]


def enable() -> None:
    """Start timing the engine's kernels (process-wide)."""
    _core.profile_set_enabled(True)


def disable() -> None:
    """Stop timing; the accumulated entries stay until :func:`reset`."""
    _core.profile_set_enabled(False)


def enabled() -> bool:
    """Whether the kernels are being timed."""
    return _core.profile_enabled()


def reset() -> None:
    """Forget every accumulated entry."""
    _core.profile_reset()


def read() -> list[dict]:
    """The accumulated entries, largest time first: phase, m, n, k, trans_a, trans_b, calls, seconds, flops,
    bytes, plus ``gflops`` (flops / seconds) and ``gbytes_s`` (bytes / seconds) where those are counted."""
    rows = []
    for e in _core.profile_snapshot():
        s = e["seconds"]
        e["gflops"] = e["flops"] / s / 1e9 if e["flops"] and s > 0 else None
        e["gbytes_s"] = e["bytes"] / s / 1e9 if e["bytes"] and s > 0 else None
        rows.append(e)
    rows.sort(key=lambda e: -e["seconds"])
    return rows
