"""The per-cell parts of a results directory, and the table and metadata rebuilt from them."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from diffsim._validate import ConfigError
from diffsim.results._atomic import atomic_write_text
from diffsim.results._layout import _PART, CELLS, PART_FORMAT, SUMMARY, TABLE, unit_name
from diffsim.results._provenance import write_metadata
from diffsim.results._table import summary_csv, table_csv, tidy_rows
from diffsim.results._values import _plain

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
    out: dict[tuple[int, int], dict] = {}
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
