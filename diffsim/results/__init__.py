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

The package holds one module per concern, each importing only those before it: ``_values``
(:func:`finite_or_none`, plain values), ``_layout`` (the file names), ``_atomic`` (atomic writes),
``_provenance`` (environment, git state, ``metadata.json``), ``_lock`` (the directory lock),
``_table`` (the CSV table), ``_parts`` (per-cell parts and :func:`finalize`), ``_load``
(:func:`load_results`) and ``_merge`` (shards).

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

from diffsim.results._atomic import atomic_file, atomic_write_text, remove_stale_temps, umask_mode
from diffsim.results._layout import (
    CELLS,
    LOCK,
    METADATA,
    PART_FORMAT,
    RESULTS_FORMAT,
    SUMMARY,
    TABLE,
    shard_dirname,
    unit_name,
)
from diffsim.results._load import Results, load_results
from diffsim.results._lock import LOCK_STALE_S, DirectoryLock, lock_directory, lock_stale_after
from diffsim.results._merge import merge_results
from diffsim.results._parts import finalize, read_parts, write_part
from diffsim.results._provenance import environment, read_metadata, write_metadata
from diffsim.results._table import Table, read_table, summary_csv, table_csv, tidy_rows
from diffsim.results._values import finite_or_none

__all__ = [
    "TABLE",
    "METADATA",
    "CELLS",
    "SUMMARY",
    "LOCK",
    "RESULTS_FORMAT",
    "PART_FORMAT",
    "finite_or_none",
    "umask_mode",
    "atomic_file",
    "atomic_write_text",
    "remove_stale_temps",
    "environment",
    "read_metadata",
    "write_metadata",
    "LOCK_STALE_S",
    "lock_stale_after",
    "DirectoryLock",
    "lock_directory",
    "tidy_rows",
    "table_csv",
    "Table",
    "read_table",
    "summary_csv",
    "unit_name",
    "write_part",
    "read_parts",
    "finalize",
    "Results",
    "load_results",
    "shard_dirname",
    "merge_results",
]
