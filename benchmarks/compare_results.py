"""Compare two folders of experiment results value for value (a refactor must not change a number).

    python benchmarks/compare_results.py OLD NEW [--map old=new ...] [--rtol 0]

``OLD`` and ``NEW`` hold one folder per experiment (``diffsim run experiments/X.toml --out OLD/X``),
each with a ``table.csv`` (and optionally ``summary.csv``). Rows are matched by their non-numeric
columns and their position among equal keys; ``--map`` renames a quantity or column of OLD to its
name in NEW. Prints one line per experiment and table: rows compared, values that differ (beyond
``--rtol``), the largest difference, and the rows or columns found on one side only. Exits 1 when a
value differs or a row is missing, so a script can gate on it.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

KEYS = ("cell", "seed", "quantity", "t", "kind")  # columns that identify a row when present


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read(path: Path, rename: dict[str, str]) -> tuple[list[str], list[dict]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        new = {rename.get(k, k): rename.get(v, v) if k == "quantity" else v for k, v in row.items()}
        out.append(new)
    columns = [rename.get(c, c) for c in (rows[0].keys() if rows else [])]
    return columns, out


def _keyed(rows: list[dict], keys: list[str]) -> dict[tuple, dict]:
    seen: dict[tuple, int] = defaultdict(int)
    out = {}
    for row in rows:
        key = tuple(row.get(k, "") for k in keys)
        out[(*key, seen[key])] = row
        seen[key] += 1
    return out


def compare_tables(old: Path, new: Path, rename: dict[str, str], rtol: float) -> tuple[str, bool]:
    cols_old, rows_old = _read(old, rename)
    cols_new, rows_new = _read(new, rename)
    keys = [k for k in KEYS if k in cols_old and k in cols_new]
    a, b = _keyed(rows_old, keys), _keyed(rows_new, keys)
    common = [c for c in cols_old if c in cols_new and c not in keys]
    differ, worst, where = 0, 0.0, ""
    for key in a.keys() & b.keys():
        for c in common:
            x, y = a[key].get(c, ""), b[key].get(c, "")
            if x == y:
                continue
            fx, fy = _number(x), _number(y)
            if fx is not None and fy is not None and (fx == fy or (math.isnan(fx) and math.isnan(fy))):
                continue
            if fx is not None and fy is not None and abs(fx - fy) <= rtol * max(abs(fx), abs(fy)):
                continue
            differ += 1
            gap = abs(fx - fy) if fx is not None and fy is not None else math.inf
            if gap >= worst:
                worst, where = gap, f"{dict(zip(keys, key))} {c}: {x} -> {y}"
    only_old, only_new = len(a.keys() - b.keys()), len(b.keys() - a.keys())
    cols = sorted(set(cols_old) ^ set(cols_new))
    ok = differ == 0 and only_old == 0 and only_new == 0
    line = (f"{len(a.keys() & b.keys())} rows, {len(common)} columns compared: {differ} values differ"
            + (f" (largest: {where})" if differ else "")
            + (f"; rows only in old {only_old}, only in new {only_new}" if only_old or only_new else "")
            + (f"; columns on one side only: {', '.join(cols)}" if cols else ""))
    return line, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                        help="a quantity or column renamed between the two")
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0: equal values)")
    args = parser.parse_args(argv)
    rename = dict(item.split("=", 1) for item in args.map)
    all_ok = True
    for folder in sorted(p for p in args.old.iterdir() if p.is_dir()):
        for table in ("table.csv", "summary.csv"):
            old, new = folder / table, args.new / folder.name / table
            if not old.is_file():
                continue
            if not new.is_file():
                print(f"{folder.name}/{table}: missing in {args.new}")
                all_ok = False
                continue
            line, ok = compare_tables(old, new, rename, args.rtol)
            all_ok &= ok
            print(f"{folder.name}/{table}: {'same' if ok else 'DIFFERENT'}: {line}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
