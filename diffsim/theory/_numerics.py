"""Numerics shared by the closed forms of :mod:`diffsim.theory` (private).

Elementwise bisection of monotone residuals, broadcasting of validated float64 arrays, and the range
checks of the two arguments every formula takes (time ``t`` and load ``alpha``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from diffsim._validate import ConfigError


def _check_range(
    name: str,
    value: ArrayLike,
    *,
    low: float = -np.inf,
    high: float = np.inf,
    low_closed: bool = False,
    high_closed: bool = False,
) -> np.ndarray:
    """Return ``value`` as a float64 array after checking every entry lies in the given interval.

    Raises :class:`~diffsim._validate.ConfigError` (a ``ValueError``) naming the parameter, the first
    offending value and the allowed range, e.g. ``alpha_d=1.5 is out of range: expected 0 < alpha_d <= 1``.
    NaN is always rejected; infinities only where a closed infinite bound allows them.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a real number or array of real numbers") from None
    above = arr >= low if low_closed else arr > low
    below = arr <= high if high_closed else arr < high
    ok = above & below
    if not np.all(ok):
        bad = float(arr[~ok].flat[0]) if arr.ndim else arr.item()
        where = "" if arr.ndim == 0 else " (first offending entry)"
        lo_op, hi_op = ("<=" if low_closed else "<"), ("<=" if high_closed else "<")
        allowed = f"{low:g} {lo_op} {name} {hi_op} {high:g}"
        raise ConfigError(f"{name}={bad!r}{where} is out of range: expected {allowed}")
    return arr


__all__: list[str] = []



def _bisect(
    residual: Callable[[np.ndarray], np.ndarray], lo: ArrayLike, hi: ArrayLike, *, tol: float, max_iter: int = 400
) -> np.ndarray:
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


def _broadcast(*arrays: ArrayLike) -> tuple[np.ndarray, ...]:
    """Broadcast validated float arrays to one shape (copies, writable)."""
    return tuple(np.array(a, dtype=np.float64) for a in np.broadcast_arrays(*arrays))


def _check_time(t: ArrayLike) -> np.ndarray:
    return _check_range("t", t, low=0.0, high=np.inf, high_closed=True)


def _check_load(alpha: ArrayLike) -> np.ndarray:
    return _check_range("alpha", alpha, low=0.0, high=np.inf)
