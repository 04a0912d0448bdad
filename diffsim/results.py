"""Results of an experiment on disk: one tidy CSV table, a metadata JSON, and the per-cell parts.

Layout of a results directory (``results/<experiment>/<scale>/`` by default)::

    table.csv        one row per cell x seed x quantity (x t for curves): columns cell, seed, the
                     sweep axes, then the study's row keys (N, P, quantity, t, value, stderr, ...).
                     Empty field = missing value. ``pandas.read_csv(path)`` reads it in one call.
    metadata.json    the resolved config and its hash, diffsim/jax/jaxlib versions, git commit,
                     device kind, wall time per cell, completeness.
    cells/           one JSON part per (cell, seed): the source of truth while a run is in flight.
    shard-I-of-N/    the same layout for each shard of a sharded run (``diffsim run --shard I/N``).

Every file is written atomically (temp file in the same directory, then ``os.replace``), one cell at
a time, so a run killed at any moment loses at most the cells in flight, and a resumed run or a
merge rebuilds ``table.csv`` from the parts with no duplicated or missing rows. Floats are written
with ``repr`` (shortest round-trip form), so values survive the table exactly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import re
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from diffsim._validate import ConfigError

__all__ = [
    "TABLE",
    "METADATA",
    "CELLS",
    "Table",
    "Results",
    "atomic_write_text",
    "unit_name",
    "write_part",
    "read_parts",
    "tidy_rows",
    "table_csv",
    "read_table",
    "environment",
    "finalize",
    "load_results",
    "shard_dirname",
    "merge_results",
]

TABLE = "table.csv"
SUMMARY = "summary.csv"
METADATA = "metadata.json"
CELLS = "cells"
RESULTS_FORMAT = "diffsim-results/1"
PART_FORMAT = "diffsim-cell/1"
_PART = re.compile(r"^c(\d+)_s(\d+)\.json$")
_SHARD_DIR = re.compile(r"^shard-(\d+)-of-(\d+)$")


# --------------------------------------------------------------------------------------------
# atomic files and per-cell parts


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temp file in the same directory and ``os.replace``:
    readers (and a run killed mid-write) see the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def unit_name(cell: int, seed: int) -> str:
    """File stem of the part for ``(cell, seed)``: ``c00012_s3``."""
    return f"c{cell:05d}_s{seed}"


def write_part(directory, config_hash: str, cell: int, seed: int, axes: dict, rows: list[dict], wall_s: float) -> Path:
    """Write the rows of one (cell, seed) as ``cells/<unit_name>.json`` atomically."""
    record = {
        "format": PART_FORMAT,
        "config_hash": config_hash,
        "cell": int(cell),
        "seed": int(seed),
        "axes": _plain(axes),
        "wall_s": float(wall_s),
        "rows": [_plain(row) for row in rows],
    }
    return atomic_write_text(Path(directory) / CELLS / f"{unit_name(cell, seed)}.json", json.dumps(record) + "\n")


def read_parts(directory, config_hash: str | None = None) -> dict[tuple[int, int], dict]:
    """``{(cell, seed): part}`` for every complete part under ``directory/cells`` (temp files of an
    interrupted write are ignored). Parts of another config (hash mismatch) raise ConfigError."""
    cells = Path(directory) / CELLS
    out = {}
    if not cells.is_dir():
        return out
    for path in sorted(cells.iterdir()):
        if not _PART.match(path.name):
            continue
        try:
            part = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # unreadable: treated as missing, rerun on resume
        if part.get("format") != PART_FORMAT:
            continue
        if config_hash is not None and part.get("config_hash") != config_hash:
            raise ConfigError(
                f"{path} comes from another config (hash {part.get('config_hash')}, expected {config_hash}): "
                "use another --out directory or delete the old results"
            )
        out[(part["cell"], part["seed"])] = part
    return out


def remove_stale_temps(directory) -> None:
    """Delete temp files left by writes that a kill interrupted (``.<name>.<random>.tmp``)."""
    for folder in (Path(directory), Path(directory) / CELLS):
        if folder.is_dir():
            for path in folder.glob(".*.tmp"):
                path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# the tidy table

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
    with open(path, newline="") as f:
        reader = csv.reader(f)
        columns = next(reader)
        raw = [row for row in reader]
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


# --------------------------------------------------------------------------------------------
# metadata


def environment() -> dict:
    """Versions (diffsim, jax, jaxlib, numpy, Python), git commit, device kind, host."""
    import importlib.metadata as md

    import jax

    import diffsim

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    devices = jax.devices()
    commit, dirty = _git_state(Path(diffsim.__file__).resolve().parents[1])
    return {
        "diffsim": diffsim.__version__,
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "x64": bool(jax.config.jax_enable_x64),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def _git_state(root: Path) -> tuple[str | None, bool | None]:
    """``(HEAD commit, tracked files modified?)`` of the checkout holding diffsim (read-only git
    calls; None when not a git checkout)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, env=env)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, env=env,
        )
        return head.stdout.strip(), (bool(status.stdout.strip()) if status.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


def read_metadata(directory) -> dict | None:
    path = Path(directory) / METADATA
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_metadata(directory, resolved: dict, config_hash: str, *, shard: str | None, units: list[tuple[int, int]],
                   parts: dict, env: dict, started: str, extra: dict | None = None) -> dict:
    """Write ``metadata.json`` (atomically) describing ``directory`` and the parts it holds."""
    expected = [unit_name(c, s) for c, s in units]
    done = [unit_name(c, s) for c, s in units if (c, s) in parts]
    meta = {
        "format": RESULTS_FORMAT,
        "experiment": resolved["name"],
        "study": resolved["study"],
        "scale": resolved["scale"],
        "description": resolved.get("description", ""),
        "config_hash": config_hash,
        "shard": shard,
        "units_expected": len(expected),
        "units_done": len(done),
        "complete": len(done) == len(expected),
        "started": started,
        "updated": _now(),
        "environment": env,
        "wall_s": {unit_name(c, s): parts[(c, s)]["wall_s"] for c, s in units if (c, s) in parts},
        "config": resolved,
    }
    meta.update(extra or {})
    atomic_write_text(Path(directory) / METADATA, json.dumps(meta, indent=1) + "\n")
    return meta


def summary_csv(rows: list[dict]) -> str:
    """CSV text of summary rows (the analyses over points of a complete sweep)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_field(row.get(c)) for c in columns])
    return buf.getvalue()


def finalize(directory, resolved: dict, config_hash: str, *, shard: str | None, units: list[tuple[int, int]],
             env: dict, started: str, extra: dict | None = None, summarize=None) -> dict:
    """Rebuild ``table.csv`` from the parts of ``units`` found in ``directory`` and write the
    metadata (``complete`` says whether every unit is there). When every unit is there and the study
    has an analysis over points, ``summarize(rows, by)`` (``by``: the seed and every axis but
    ``dim``) gives the rows of ``summary.csv`` (1/N extrapolations, fits)."""
    parts = read_parts(directory, config_hash)
    wanted = set(units)
    kept = [p for key, p in parts.items() if key in wanted]
    text, columns, n_rows = table_csv(kept, resolved["axes"])
    atomic_write_text(Path(directory) / TABLE, text)
    info = {"table": TABLE, "columns": columns, "rows": n_rows, "wall_s_total": sum(p["wall_s"] for p in kept)}
    if summarize is not None and len(kept) == len(wanted):
        rows = [r for part in sorted(kept, key=lambda p: (p["cell"], p["seed"])) for r in tidy_rows(part, resolved["axes"])]
        by = ("seed", *(a for a in resolved["axes"] if a != "dim"))
        atomic_write_text(Path(directory) / SUMMARY, summary_csv(summarize(rows, by)))
        info["summary"] = SUMMARY
    info.update(extra or {})
    return write_metadata(directory, resolved, config_hash, shard=shard, units=units, parts=parts, env=env,
                          started=started, extra=info)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --------------------------------------------------------------------------------------------
# reading results


@dataclass(frozen=True)
class Results:
    """A results directory: its ``table`` and ``metadata``."""

    directory: Path
    table: Table
    metadata: dict

    def cell_config(self, cell: int) -> dict:
        """The full study config of ``cell`` (a dict, defaults included)."""
        return self.metadata["config"]["cells"][cell]["config"]

    @property
    def params(self) -> dict:
        """The fixed parameters of the experiment (after scale resolution)."""
        return self.metadata["config"]["params"]


def load_results(directory, *, require_complete: bool = True) -> Results:
    """Read ``table.csv`` and ``metadata.json`` from ``directory``."""
    directory = Path(directory)
    meta = read_metadata(directory)
    if meta is None or not (directory / TABLE).is_file():
        raise ConfigError(f"{directory} holds no results (no {TABLE} and {METADATA}): run the experiment first")
    if require_complete and not meta.get("complete"):
        raise ConfigError(
            f"{directory} is incomplete ({meta.get('units_done')} of {meta.get('units_expected')} cells): "
            "complete it with `diffsim run CONFIG --resume` or `diffsim merge`"
        )
    return Results(directory, read_table(directory / TABLE), meta)


# --------------------------------------------------------------------------------------------
# shards and merge


def shard_dirname(index: int, count: int) -> str:
    return f"shard-{index}-of-{count}"


def _expand_sources(sources: Iterable) -> list[Path]:
    found = []
    for src in sources:
        src = Path(src)
        if not src.is_dir():
            raise ConfigError(f"{src} is not a directory: expected a shard directory or a folder of shard-I-of-N directories")
        meta = read_metadata(src)
        if meta is not None and meta.get("shard"):
            found.append(src)
            continue
        subs = sorted(p for p in src.iterdir() if p.is_dir() and _SHARD_DIR.match(p.name))
        if not subs:
            raise ConfigError(f"{src} holds no shard-I-of-N directories: nothing to merge")
        found.extend(subs)
    return list(dict.fromkeys(p.resolve() for p in found))


def merge_results(sources: Iterable, out, *, summarize=None) -> dict:
    """Join the shard parts found in ``sources`` (shard directories, or folders holding
    ``shard-I-of-N`` directories) into a complete results directory ``out``.

    Checks that every shard comes from the same config (hash), that shards ``1..N`` are all present
    and that every (cell, seed) of the sweep appears exactly once (identical duplicates allowed);
    otherwise raises ConfigError naming what is missing and writes nothing.
    """
    shard_dirs = _expand_sources(sources)
    metas = []
    for d in shard_dirs:
        meta = read_metadata(d)
        if meta is None or not meta.get("shard"):
            raise ConfigError(f"{d} has no shard metadata ({METADATA}): was it written by `diffsim run --shard`?")
        metas.append(meta)
    hashes = {m["config_hash"] for m in metas}
    if len(hashes) > 1:
        listing = ", ".join(f"{d.name}: {m['config_hash']}" for d, m in zip(shard_dirs, metas))
        raise ConfigError(f"shards come from different configs ({listing}): merge only parts of one experiment")
    config_hash = hashes.pop()
    counts = {int(m["shard"].split("/")[1]) for m in metas}
    if len(counts) > 1:
        raise ConfigError(f"shards split the sweep differently ({sorted(counts)} parts): merge parts of one split")
    count = counts.pop()
    resolved = metas[0]["config"]
    problems = []
    present = {int(m["shard"].split("/")[0]) for m in metas}
    for i in range(1, count + 1):
        if i not in present:
            problems.append(f"shard {i}/{count} not found")
    all_units = [(c["cell"], s) for c in resolved["cells"] for s in resolved["seeds"]]
    parts: dict[tuple[int, int], dict] = {}
    for d, meta in zip(shard_dirs, metas):
        found = read_parts(d, config_hash)
        if not meta.get("complete") or meta.get("units_done", 0) < meta.get("units_expected", 0) or len(found) < meta["units_expected"]:
            problems.append(
                f"{d.name} holds {len(found)} of {meta['units_expected']} cells: finish it with "
                f"`diffsim run CONFIG --shard {meta['shard']} --resume --out {d.parent}`"
            )
        for key, part in found.items():
            if key in parts and parts[key]["rows"] != part["rows"]:
                problems.append(f"cell {key[0]} seed {key[1]} appears in two shards with different rows")
            parts[key] = part
    missing = [u for u in all_units if u not in parts]
    if missing:
        shown = ", ".join(f"cell {c} seed {s}" for c, s in missing[:10])
        problems.append(f"{len(missing)} of {len(all_units)} cells missing ({shown}{', ...' if len(missing) > 10 else ''})")
    if problems:
        raise ConfigError("cannot merge, the shards are incomplete:\n  " + "\n  ".join(dict.fromkeys(problems)))

    out = Path(out)
    existing = read_metadata(out)
    if existing is not None and existing.get("config_hash") != config_hash:
        raise ConfigError(f"{out} holds results of another config (hash {existing.get('config_hash')}): merge elsewhere")
    remove_stale_temps(out)
    for (cell, seed) in all_units:
        part = parts[(cell, seed)]
        write_part(out, config_hash, cell, seed, part["axes"], part["rows"], part["wall_s"])
    shard_envs = [{"shard": m["shard"], **m["environment"], "started": m["started"], "updated": m["updated"]} for m in metas]
    return finalize(
        out, resolved, config_hash, shard=None, units=all_units, env=metas[0]["environment"],
        started=min(m["started"] for m in metas), extra={"merged_from": shard_envs}, summarize=summarize,
    )
