"""Seed averages of tidy result rows, shared by the figure modules (no drawing here)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["seed_mean", "is_empty"]


def is_empty(value) -> bool:
    """True for a table cell with no value: None, NaN or the empty string."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def seed_mean(rows, by: str = "t") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average ``value`` over seeds at each distinct ``by`` (e.g. t). Returns ``(x, mean, stderr)``
    sorted by x: one seed keeps its own stderr; several combine as ``sqrt(sum stderr^2) / n``
    (independent seeds), or the spread over seeds ``std / sqrt(n)`` when a stderr is missing.

    Args:
        rows: a :class:`diffsim.results.Table` or a list of row dicts (``value``, ``stderr``, ``by``).
        by: the column that labels the x values.
    """
    rows = getattr(rows, "rows", rows)
    groups: dict = {}
    for row in rows:
        groups.setdefault(row.get(by), []).append(row)
    xs, means, errs = [], [], []
    for x in sorted(groups, key=lambda v: (v is None, v if v is not None else 0)):
        group = groups[x]
        vals = np.array([r["value"] for r in group], dtype=float)
        ses = np.array([math.nan if r.get("stderr") is None else r["stderr"] for r in group], dtype=float)
        n = len(group)
        if np.all(np.isfinite(ses)):
            err = math.sqrt(float(np.sum(ses**2))) / n
        elif n > 1:
            err = float(np.std(vals, ddof=1) / math.sqrt(n))
        else:
            err = math.nan
        xs.append(math.nan if x is None else x)
        means.append(float(np.mean(vals)))
        errs.append(err)
    return np.array(xs, dtype=float), np.array(means), np.array(errs)
