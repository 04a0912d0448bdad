"""The tidy table: rows of the parts written as one CSV (``table.csv``), read back as a :class:`Table`."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from diffsim._validate import ConfigError

_RESERVED = ("cell", "seed")


def tidy_rows(part: dict, axes: Iterable[str]) -> list[dict]:
    """Rows of one part with ``cell``, ``seed`` and the axis values prepended. A study key equal to
    an axis name (e.g. ``N``) keeps the study's value unless it is missing."""
    base = {"cell": part["cell"], "seed": part["seed"]}
    base.update({a: part["axes"].get(a) for a in axes})
    out = []
    for row in part["rows"]:
        full = dict(base)
        for key, value in row.items():
            key = f"study_{key}" if key in _RESERVED else key
            if key in full and value is None:
                continue
            full[key] = value
        out.append(full)
    return out


def table_csv(parts: Iterable[dict], axes: Iterable[str]) -> tuple[str, list[str], int]:
    """CSV text of the parts in (cell, seed) order; returns ``(text, columns, n_rows)``."""
    axes = list(axes)
    rows = []
    for part in sorted(parts, key=lambda p: (p["cell"], p["seed"])):
        rows.extend(tidy_rows(part, axes))
    columns = list(dict.fromkeys(["cell", "seed", *axes]))
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_field(row.get(c)) for c in columns])
    return buf.getvalue(), columns, len(rows)


def _field(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class Table:
    """A parsed table: ``columns`` and ``rows`` (dicts; missing values are None). Columns whose
    fields all parse as integers are int, as numbers float, otherwise str."""

    columns: tuple[str, ...]
    rows: tuple[dict, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        """Values of ``name``: a float array (None -> NaN) for numeric columns, else an object array."""
        values = [r.get(name) for r in self.rows]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            return np.array([math.nan if v is None else v for v in values], dtype=float)
        return np.array(values, dtype=object)

    def where(self, **equals) -> "Table":
        """Rows whose columns equal the given values (``None`` matches a missing value)."""
        return Table(self.columns, tuple(r for r in self.rows if all(r.get(k) == v for k, v in equals.items())))

    def unique(self, name: str) -> list:
        """Sorted distinct non-missing values of ``name``."""
        return sorted({r.get(name) for r in self.rows if r.get(name) is not None})


def read_table(path) -> Table:
    """Parse a ``table.csv`` written by :func:`table_csv` (no pandas needed)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            columns = next(reader, None)
            raw = [row for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(f"{path} cannot be read as a table: {err}") from None
    if not columns:
        raise ConfigError(f"{path} is empty: expected a header line (the table was cut or never written)")
    for line, row in enumerate(raw, start=2):
        if len(row) != len(columns):
            raise ConfigError(
                f"{path} line {line} has {len(row)} fields, expected {len(columns)}: the table was cut or "
                "edited; rebuild it with `diffsim run CONFIG --resume` (or `diffsim merge`)"
            )
    parsers = []
    for j in range(len(columns)):
        fields = [r[j] for r in raw if r[j] != ""]
        parsers.append(_column_parser(fields))
    rows = tuple(
        {c: (None if r[j] == "" else parsers[j](r[j])) for j, c in enumerate(columns)} for r in raw
    )
    return Table(tuple(columns), rows)


def _column_parser(fields: list[str]):
    for parse in (int, float):
        try:
            for x in fields:
                parse(x)
            return parse
        except ValueError:
            continue
    return str



def summary_csv(rows: list[dict]) -> str:
    """CSV text of summary rows (the analyses over points of a complete sweep)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_field(row.get(c)) for c in columns])
    return buf.getvalue()
