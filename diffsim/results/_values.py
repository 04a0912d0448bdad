"""Python values for rows and JSON: numbers that may be missing, and numpy/JAX values made plain."""

from __future__ import annotations

import numpy as np

from diffsim.observe import finite_or_none

__all__ = ["finite_or_none", "_plain"]


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
