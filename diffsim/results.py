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
with ``repr`` (shortest round-trip form), so values survive the table exactly. Files get the mode
the umask gives a new file (``0o644`` or ``0o664`` usually), so the group can read the results.

A run or a merge holds ``.diffsim-lock.json`` in the directory it writes (:func:`lock_directory`):
a second run into the same directory is refused, naming the holder. ``metadata.json`` records the
row count, columns and sha256 of ``table.csv``; :func:`load_results` checks the table against them,
so a table with a cut row or missing cells is an error rather than a figure with missing points.

Names of quantities
-------------------
One scheme for the values of the ``quantity`` column of long tables, the column names of wide
tables, ``summary.csv`` and the keys of the ``--json`` payloads that carry quantities:

* A measured quantity has one snake_case name: ``t_collapse``, ``excess_entropy``, ``phi``,
  ``mean_y2``, ``basin_radius``. The paper's symbols keep their capitals (``W``, ``C``, ``D1``).
  Its standard error is ``<name>_stderr``. One concept, one name: the memorized fraction (1/3 rule)
  is ``memorized_fraction`` in every study, ``memorized_fraction_<qualifier>`` where a study has two
  references (``_few`` / ``_own``: against two training sets) or a reference score (``_exact``);
  every collapse time is ``t_collapse``; the score error to the true score is ``score_error_true``
  (to the empirical score ``score_error_empirical``).
* Its closed-form prediction is ``theory/<name>``, the same name as the measured quantity it
  predicts, so stripping ``theory/`` pairs them (``excess_entropy`` and ``theory/excess_entropy``).
  A variant of the theory is ``theory/<name>_<variant>``: ``_spectrum`` is the closed form at the
  exact finite-N spectrum of the draw (the bare name being the ``N -> inf`` value, e.g.
  ``theory/t_collapse`` and ``theory/t_collapse_spectrum``); others name the model
  (``theory/t_collapse_linear_hmm``, ``theory/t_collapse_isotropic``). A closed form with no measured
  counterpart is still ``theory/<name>`` (``theory/t_dilute``, ``theory/sigma_c``).
* An estimator of a quantity is ``<name>/<estimator>`` (``t_collapse/clones``, ``t_g/sw``); an
  analysis of it appends a qualifier (``t_collapse/clones/extrapolated``, the ``1/N -> 0`` fit).
* A ``theory`` object nested in a JSON payload (``{"theory": {"t_collapse": ...}}``) and the
  payloads of ``diffsim theory`` are closed forms by their place and keep bare names. The geometry
  long table keeps a ``theory`` column beside ``value``: the prediction of each row at its ``sigma``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from diffsim._version import SOURCE_ROOT, __version__
from diffsim._validate import ConfigError

__all__ = [
    "TABLE",
    "METADATA",
    "CELLS",
    "Table",
    "Results",
    "atomic_write_text",
    "atomic_file",
    "lock_directory",
    "LOCK",
    "unit_name",
    "write_part",
    "read_parts",
    "tidy_rows",
    "table_csv",
    "read_table",
    "environment",
    "finalize",
    "load_results",
    "SUMMARY",
    "shard_dirname",
    "merge_results",
]

TABLE = "table.csv"
SUMMARY = "summary.csv"
METADATA = "metadata.json"
CELLS = "cells"
LOCK = ".diffsim-lock.json"
RESULTS_FORMAT = "diffsim-results/1"
PART_FORMAT = "diffsim-cell/1"
_PART = re.compile(r"^c(\d+)_s(\d+)\.json$")
_SHARD_DIR = re.compile(r"^shard-(\d+)-of-(\d+)$")


# --------------------------------------------------------------------------------------------
# atomic files and per-cell parts


def umask_mode(base: int = 0o666) -> int:
    """The mode a new file gets under the current umask (``open()`` does the same)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextlib.contextmanager
def atomic_file(path):
    """Yield a temp path beside ``path`` (same suffix, so writers that choose a format by suffix
    work); on success give it the umask's mode and ``os.replace`` it onto ``path``, on error delete
    it. Readers, and a run killed mid-write, see the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, umask_mode())  # mkstemp makes 0600: give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`), fsynced before the rename."""
    path = Path(path)
    with atomic_file(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
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
    """Delete temp files left by writes that a kill interrupted (``.<name>.<random>.tmp<suffix>``).
    Call it only while holding the directory's lock (another run's temp files are in flight)."""
    for folder in (Path(directory), Path(directory) / CELLS):
        if folder.is_dir():
            for path in folder.glob(".*.tmp*"):
                path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# the lock on a results directory

LOCK_STALE_S = 48 * 3600.0  # a lock not refreshed for this long (DIFFSIM_LOCK_STALE_S) is stale


def lock_stale_after() -> float:
    """Seconds after its last refresh at which a lock counts as stale (``DIFFSIM_LOCK_STALE_S``)."""
    text = os.environ.get("DIFFSIM_LOCK_STALE_S")
    try:
        return float(text) if text else LOCK_STALE_S
    except ValueError:
        raise ConfigError(f"DIFFSIM_LOCK_STALE_S={text!r} is not valid: expected a number of seconds") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _lock_stale(holder: dict | None, age_s: float) -> str | None:
    """Why the lock described by ``holder`` (refreshed ``age_s`` ago) is stale, or None if held."""
    if holder is None:
        return "its lock file is unreadable" if age_s > 60 else None  # a lock being written: not stale yet
    if holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1))):
        return f"process {holder.get('pid')} on this host ({holder.get('host')}) is not running"
    limit = lock_stale_after()
    if age_s > limit:
        return f"it was last refreshed {age_s / 3600:.1f} h ago (stale after {limit / 3600:.3g} h, DIFFSIM_LOCK_STALE_S)"
    return None


def _read_lock(path: Path) -> tuple[dict | None, float] | None:
    """``(holder, seconds since refresh)`` of the lock at ``path``, or None when there is none."""
    try:
        age = time.time() - path.stat().st_mtime
        holder = json.loads(path.read_text())
        return (holder if isinstance(holder, dict) else None), age
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None, age


class DirectoryLock:
    """The lock held on a results directory (see :func:`lock_directory`)."""

    def __init__(self, directory: Path, path: Path, created: list[Path]):
        self.directory, self.path, self.created = directory, path, created

    def refresh(self) -> None:
        """Mark the lock as alive (its mtime is the heartbeat that keeps it from going stale)."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def release(self, *, remove_empty_dir: bool = False) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        if remove_empty_dir:
            for folder in self.created:  # deepest first; rmdir only removes empty folders
                with contextlib.suppress(OSError):
                    folder.rmdir()


@contextlib.contextmanager
def lock_directory(directory, *, what: str = "a run", stream=None):
    """Hold ``directory/.diffsim-lock.json`` while writing results into ``directory``.

    The lock holds the holder's pid, host, start time and command line. A second holder is refused
    with a ConfigError naming the directory and the holder. A lock is *stale*, and taken over with a
    message on ``stream`` (stderr), when its pid is not running on this host, or when it has not
    been refreshed (:meth:`DirectoryLock.refresh`, after every finished cell) for
    ``DIFFSIM_LOCK_STALE_S`` seconds (48 h by default: a lock from another host, whose pid cannot be
    checked). Creation is ``O_CREAT | O_EXCL``, atomic on local filesystems and NFSv3+. If the body
    raises ConfigError before writing anything, the directory is removed again when this call
    created it (a refused run leaves nothing behind)."""
    directory = Path(directory)
    stream = sys.stderr if stream is None else stream
    created = [d for d in (directory, *directory.parents) if not d.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now(), "what": what,
              "command": " ".join(sys.argv)}
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, umask_mode())
        except FileExistsError:
            found = _read_lock(path)
            if found is None:
                continue  # released meanwhile: try again
            holder, age = found
            why = _lock_stale(holder, age)
            if why is None:
                who = (f"pid {holder.get('pid')} on host {holder.get('host')}, {holder.get('what', 'a run')} "
                       f"started {holder.get('started')}" if holder else "a process whose lock is being written")
                raise ConfigError(
                    f"{directory} is in use by {who} (lock {path}): wait for it to finish, or choose another "
                    f"--out; if that process is gone, delete {path}"
                ) from None
            # take the stale lock over: move it aside, and check that what we moved is what we judged
            aside = path.with_name(f"{LOCK}.stale-{os.getpid()}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            moved = _read_lock(aside)
            if moved is not None and moved[0] != holder:  # another process took it over first: put it back
                with contextlib.suppress(OSError):
                    os.link(aside, path)
                aside.unlink(missing_ok=True)
                raise ConfigError(f"{directory} is in use: another process took over its stale lock at the same time")
            aside.unlink(missing_ok=True)
            print(f"diffsim: taking over the stale lock of {directory}: {why}", file=stream, flush=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record) + "\n")
        break
    else:
        raise ConfigError(f"{directory} is in use: could not take its lock {path}")
    lock = DirectoryLock(directory, path, created)
    try:
        yield lock
    except ConfigError:
        lock.release(remove_empty_dir=True)
        raise
    except BaseException:
        lock.release()
        raise
    lock.release()


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


# --------------------------------------------------------------------------------------------
# metadata


def environment() -> dict:
    """Versions (diffsim, jax, jaxlib, numpy, Python), git commit, device kind, host."""
    import importlib.metadata as md

    import jax

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    devices = jax.devices()
    commit, dirty = _git_state(SOURCE_ROOT)
    return {
        "diffsim": __version__,
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
    info = {"table": TABLE, "columns": columns, "rows": n_rows, "table_sha256": _sha256(text),
            "wall_s_total": sum(p["wall_s"] for p in kept)}
    if summarize is not None and len(kept) == len(wanted):
        rows = [r for part in sorted(kept, key=lambda p: (p["cell"], p["seed"])) for r in tidy_rows(part, resolved["axes"])]
        by = ("seed", *(a for a in resolved["axes"] if a != "dim"))
        try:
            summary = summary_csv(summarize(rows, by))
        except Exception as err:  # an analysis bug must not lose a finished sweep: the table stands
            print(f"diffsim: warning: summary.csv not written ({type(err).__name__}: {err})", file=sys.stderr)
            info["summary_error"] = f"{type(err).__name__}: {err}"
        else:
            atomic_write_text(Path(directory) / SUMMARY, summary)
            info["summary"] = SUMMARY
            info["summary_sha256"] = _sha256(summary)
    info.update(extra or {})
    return write_metadata(directory, resolved, config_hash, shard=shard, units=units, parts=parts, env=env,
                          started=started, extra=info)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --------------------------------------------------------------------------------------------
# reading results


@dataclass(frozen=True)
class Results:
    """A results directory: its ``table``, its ``metadata`` and, for a complete sweep whose study
    has an analysis over points, its ``summary`` (``summary.csv``; None otherwise)."""

    directory: Path
    table: Table
    metadata: dict
    summary: Table | None = None

    def cell_config(self, cell: int) -> dict:
        """The full study config of ``cell`` (a dict, defaults included)."""
        return self.metadata["config"]["cells"][cell]["config"]

    @property
    def params(self) -> dict:
        """The fixed parameters of the experiment (after scale resolution)."""
        return self.metadata["config"]["params"]

    def frame(self):
        """``table.csv`` as a pandas DataFrame (one row per cell x seed x quantity (x t); missing
        values NaN). Needs pandas (``pip install 'diffsim-memorization[pandas]'``)."""
        return _read_frame(self.directory / TABLE)

    def summary_frame(self):
        """``summary.csv`` as a pandas DataFrame (the analyses over points), or None if the
        directory has no summary."""
        return None if self.summary is None else _read_frame(self.directory / SUMMARY)


def _read_frame(path: Path):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "Results.frame() needs pandas: pip install pandas (or the package's 'pandas' extra)"
        ) from None
    # empty field = missing; "nan" is how repr writes a NaN; other strings (e.g. "NA") stay strings
    return pd.read_csv(path, keep_default_na=False, na_values=["", "nan"])


def load_results(directory, *, require_complete: bool = True) -> Results:
    """Read ``table.csv``, ``metadata.json`` and ``summary.csv`` (where written) from
    ``directory``, checking the table against the metadata: its sha256 (when recorded), its row
    count and columns, and that every finished cell has rows. A cut or damaged table raises
    ConfigError. ``load_results(path).frame()`` gives the table as a pandas DataFrame."""
    directory = Path(directory)
    meta = read_metadata(directory)
    if meta is None or not (directory / TABLE).is_file():
        raise ConfigError(f"{directory} holds no results (no {TABLE} and {METADATA}): run the experiment first")
    if require_complete and not meta.get("complete"):
        raise ConfigError(
            f"{directory} is incomplete ({meta.get('units_done')} of {meta.get('units_expected')} cells): "
            "complete it with `diffsim run CONFIG --resume` or `diffsim merge`"
        )
    table = _checked_table(directory, TABLE, meta.get("table_sha256"))
    rebuild = "rebuild it with `diffsim run CONFIG --resume` (or `diffsim merge`)"
    if "rows" in meta and len(table) != meta["rows"]:
        raise ConfigError(f"{directory / TABLE} has {len(table)} rows, {METADATA} says {meta['rows']}: "
                          f"the table was cut or edited; {rebuild}")
    if "columns" in meta and list(table.columns) != list(meta["columns"]):
        raise ConfigError(f"{directory / TABLE} has columns {list(table.columns)}, {METADATA} says "
                          f"{meta['columns']}: {rebuild}")
    if "cell" in table.columns and "seed" in table.columns:
        present = {unit_name(r["cell"], r["seed"]) for r in table.rows if r["cell"] is not None and r["seed"] is not None}
        expected = set(meta.get("wall_s", {}))
        missing = sorted(expected - present)
        if missing:
            shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
            raise ConfigError(f"{directory / TABLE} has no rows for {len(missing)} finished cells ({shown}): {rebuild}")
        extra = sorted(present - expected)
        if expected and extra:
            raise ConfigError(f"{directory / TABLE} has rows for cells {', '.join(extra[:10])} that "
                              f"{METADATA} does not list: {rebuild}")
    summary = None
    if meta.get("summary"):
        if not (directory / SUMMARY).is_file():
            raise ConfigError(f"{directory / SUMMARY} is missing but {METADATA} lists it: {rebuild}")
        summary = _checked_table(directory, SUMMARY, meta.get("summary_sha256"))
    return Results(directory, table, meta, summary)


def _checked_table(directory: Path, name: str, digest: str | None) -> Table:
    path = directory / name
    if digest is not None:
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise ConfigError(f"{path} cannot be read: {err}") from None
        if actual != digest:
            raise ConfigError(
                f"{path} does not match {METADATA} (sha256 {actual[:12]}..., recorded {digest[:12]}...): it was "
                "cut or edited after the run; rebuild it with `diffsim run CONFIG --resume` (or `diffsim merge`)"
            )
    return read_table(path)


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
        if meta is None and (src / METADATA).is_file():
            raise ConfigError(f"{src / METADATA} cannot be read (not valid JSON): "
                              "a damaged results directory, nothing to merge from it")
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
    with lock_directory(out, what="diffsim merge"):
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
