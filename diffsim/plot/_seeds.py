"""Seed averages of result-table rows, shared by the figure modules (no drawing here)."""

from __future__ import annotations

import math

import numpy as np

from diffsim.results import Table

__all__ = ["seed_mean", "as_table", "is_empty"]


def is_empty(value) -> bool:
    """True for a table cell with no value: None, NaN or the empty string."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def as_table(rows) -> Table:
    """``rows`` as a :class:`~diffsim.results.Table` (a Table is returned as is; a list of dicts gets
    the union of its keys as columns, in first-seen order)."""
    if isinstance(rows, Table):
        return rows
    rows = tuple(rows)
    columns = tuple(dict.fromkeys(k for r in rows for k in r))
    return Table(columns, rows)


def _number(v) -> float:
    return math.nan if v is None else float(v)


def seed_mean(rows, by: str = "t", column: str = "value", stderr: str | None = "stderr"):
    """Average ``column`` over the rows sharing each distinct ``by`` (seeds of one point). Returns
    ``(x, mean, err)`` arrays sorted by ``x`` (a missing ``by`` sorts last as NaN). The mean skips
    missing values (NaN where all are missing); ``err`` is ``sqrt(sum stderr^2) / n`` when every row
    has a finite ``stderr`` column (independent seeds), else the spread over seeds ``std / sqrt(n)``,
    NaN for a single row without one."""
    groups: dict = {}
    for row in as_table(rows).rows:
        groups.setdefault(row.get(by), []).append(row)
    xs, means, errs = [], [], []
    for x in sorted(groups, key=lambda v: (v is None, v if v is not None else 0)):
        group = groups[x]
        vals = np.array([_number(r.get(column)) for r in group], dtype=float)
        ses = np.array([_number(r.get(stderr)) if stderr else math.nan for r in group], dtype=float)
        n = len(group)
        if np.all(np.isfinite(ses)):
            err = math.sqrt(float(np.sum(ses**2))) / n
        elif n > 1:
            err = float(np.std(vals, ddof=1) / math.sqrt(n))
        else:
            err = math.nan
        xs.append(math.nan if x is None else x)
        means.append(float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else math.nan)
        errs.append(err)
    return np.array(xs, dtype=float), np.array(means), np.array(errs)
