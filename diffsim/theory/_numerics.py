"""Numerics shared by the closed forms of :mod:`diffsim.theory` (private).

Elementwise bisection of monotone residuals, broadcasting of validated float64 arrays, and the range
checks of the two arguments every formula takes (time ``t`` and load ``alpha``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from diffsim.theory.spectrum import _check_range

__all__: list[str] = []



def _bisect(residual: Callable[[np.ndarray], np.ndarray], lo, hi, *, tol: float, max_iter: int = 400):
    """Elementwise root of a monotone ``residual`` on ``[lo, hi]`` by bisection, to ``hi - lo <= tol``.

    ``residual`` maps an array shaped like ``lo`` (``lo``, ``hi`` broadcast) to an array of the same
    shape; where ``residual(lo)`` and ``residual(hi)`` have the same sign the result converges to the
    endpoint nearer to the sign change of the monotone function (callers mask or check those entries).
    """
    lo, hi = (np.array(a, dtype=np.float64) for a in np.broadcast_arrays(lo, hi))
    sign_lo = np.sign(residual(lo))
    for _ in range(max_iter):
        if np.all(hi - lo <= tol):
            break
        mid = 0.5 * (lo + hi)
        same = np.sign(residual(mid)) == sign_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def _broadcast(*arrays) -> tuple[np.ndarray, ...]:
    """Broadcast validated float arrays to one shape (copies, writable)."""
    return tuple(np.array(a, dtype=np.float64) for a in np.broadcast_arrays(*arrays))


def _check_time(t) -> np.ndarray:
    return _check_range("t", t, low=0.0, high=np.inf, high_closed=True)


def _check_load(alpha) -> np.ndarray:
    return _check_range("alpha", alpha, low=0.0, high=np.inf)
