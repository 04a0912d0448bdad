"""Reading a results directory back: :func:`load_results`, checked against its metadata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from diffsim._validate import ConfigError
from diffsim.results._layout import METADATA, SUMMARY, TABLE, unit_name
from diffsim.results._provenance import read_metadata
from diffsim.results._table import Table, read_table

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
