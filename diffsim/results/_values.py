"""Python values for rows and JSON: numbers that may be missing, and numpy/JAX values made plain."""

from __future__ import annotations

import math

import numpy as np


def finite_or_none(value) -> float | None:
    """``value`` as a Python float, or None when it is None, NaN or infinite: the form a missing
    number takes in rows and strict JSON (numpy and JAX scalars are converted by ``float``)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value):
    """numpy/JAX scalars and arrays -> Python, tuples -> lists (JSON-ready, exact floats)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        return _plain(np.asarray(value).tolist())
    return value
