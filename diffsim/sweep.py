"""Running a sweep: cells x seeds, per-cell PRNG keys, shards, progress and resume.

The unit of work is a *(cell, seed)* pair, in cell-major order. Its key is

    key = fold_in(PRNGKey(seed), cell_index)

so a unit gives the same numbers whether it runs alone, in a shard or in the whole sweep, and
whatever ran before it in the process. ``--shard I/N`` takes units ``I-1, I-1+N, I-1+2N, ...``
(round robin: shards get similar mixes of cheap and expensive cells). Each finished unit is written
atomically as its own part (see :mod:`diffsim.results`), so a killed run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from diffsim import results
from diffsim._validate import ConfigError
from diffsim.results._lock import _read_lock
from diffsim.results._provenance import _now
from diffsim.config import Experiment
from diffsim.progress import Progress

__all__ = ["Shard", "sweep_units", "cell_key", "run_cell", "run_experiment", "plan"]


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1-based) of ``count`` of a sweep."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """Parse ``"I/N"`` with ``1 <= I <= N``."""
        try:
            i, n = (int(x) for x in str(text).split("/"))
        except ValueError:
            raise ConfigError(f"shard={text!r} is not valid: expected I/N with integers 1 <= I <= N, e.g. 2/8") from None
        if not 1 <= i <= n:
            raise ConfigError(f"shard={text!r} is out of range: expected I/N with 1 <= I <= N")
        return cls(i, n)

    @classmethod
    def from_environment(cls, environ=None) -> "Shard":
        """This task's shard in a SLURM job array: task ids ``MIN..MAX`` (``SLURM_ARRAY_TASK_MIN``,
        0 when unset, so ``--array=0-7`` gives shards 1/8 .. 8/8) and the count from
        ``SLURM_ARRAY_TASK_COUNT``, else ``SLURM_ARRAY_TASK_MAX - MIN + 1``."""
        env = os.environ if environ is None else environ

        def read(name):
            text = env.get(name)
            if text is None or text == "":
                return None
            try:
                return int(text)
            except ValueError:
                raise ConfigError(f"{name}={text!r} is not valid: expected an integer") from None

        task, low = read("SLURM_ARRAY_TASK_ID"), read("SLURM_ARRAY_TASK_MIN")
        count, high = read("SLURM_ARRAY_TASK_COUNT"), read("SLURM_ARRAY_TASK_MAX")
        if task is None:
            raise ConfigError("shard='slurm' needs SLURM_ARRAY_TASK_ID: run it as a task of a job array "
                              "(sbatch --array=0-N-1), or give --shard I/N")
        low = 0 if low is None else low
        if count is None and high is not None:
            count = high - low + 1
        if count is None:
            raise ConfigError("shard='slurm' needs SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MAX: expected a job array")
        if high is not None and high - low + 1 != count:
            raise ConfigError(f"SLURM_ARRAY_TASK_COUNT={count} does not match task ids {low}..{high}: "
                              "expected a contiguous array without a step (--array=0-N-1)")
        if not 0 <= task - low < count:
            raise ConfigError(f"SLURM_ARRAY_TASK_ID={task} is out of range: expected {low}..{low + count - 1}")
        return cls(task - low + 1, count)

    @classmethod
    def from_option(cls, text: str | None, environ=None) -> "Shard | None":
        """``--shard``: None, ``"I/N"`` or ``"slurm"`` (:meth:`from_environment`)."""
        if text is None:
            return None
        if str(text).strip().lower() == "slurm":
            return cls.from_environment(environ)
        return cls.parse(text)

    def select(self, units: list) -> list:
        """This shard's units: every ``count``-th, starting at ``index - 1``."""
        return list(units[self.index - 1 :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def sweep_units(experiment: Experiment) -> list[tuple[int, int]]:
    """All ``(cell, seed)`` units of the sweep, cell-major."""
    return [(cell.index, seed) for cell in experiment.cells for seed in experiment.seeds]


def cell_key(seed: int, cell: int):
    """PRNG key of a unit: ``fold_in(PRNGKey(seed), cell)``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), cell)


def run_cell(experiment: Experiment, cell: int, seed: int, progress=None) -> tuple[list[dict], float]:
    """Run one unit through the study registry; return ``(rows, wall seconds)``. ``progress``, a
    callable taking one text, receives the study's own progress within the cell (per dimension,
    per checkpoint...) where the study reports any."""
    from diffsim.studies import STUDIES

    study = STUDIES[experiment.study]
    config = experiment.cells[cell].config
    if "seed" in {f.name for f in dataclasses.fields(config)}:
        config = dataclasses.replace(config, seed=seed)
    options = {}
    if progress is not None and "progress" in inspect.signature(study.run).parameters:
        options["progress"] = progress
    start = time.perf_counter()
    result = study.run(config, cell_key(seed, cell), **options)
    rows = result.rows()
    return rows, time.perf_counter() - start


def run_experiment(experiment: Experiment, out, *, shard: Shard | None = None, resume: bool = False,
                   stream=None, quiet: bool = False) -> dict:
    """Run every unit of ``experiment`` (or of one ``shard``) not yet in ``out`` and write the table.

    ``out`` receives ``table.csv``, ``metadata.json`` and ``cells/`` (a shard writes them under
    ``out/shard-I-of-N/``). A directory that already holds parts of this config is completed only
    with ``resume=True``; parts of another config are refused. The directory is locked while the run
    writes into it (:func:`diffsim.results.lock_directory`): a second run into it is refused. A
    refused run writes nothing. Returns the metadata written.
    """
    out = Path(out)
    directory = out / results.shard_dirname(shard.index, shard.count) if shard else out
    units = shard.select(sweep_units(experiment)) if shard else sweep_units(experiment)
    config_hash = experiment.hash
    resolved = experiment.resolved()
    what = f"diffsim run {experiment.name} ({experiment.scale})" + (f" shard {shard}" if shard else "")
    with results.lock_directory(directory, what=what, stream=stream) as lock:
        meta = results.read_metadata(directory)
        if meta is not None and meta.get("config_hash") != config_hash:
            from diffsim.config import check_table_schema

            check_table_schema(meta, directory)
            raise ConfigError(
                f"{directory} holds results of another config (hash {meta.get('config_hash')}, this config "
                f"{config_hash}): choose another --out or delete that directory"
            )
        if meta is not None and meta.get("shard") != (str(shard) if shard else None):
            raise ConfigError(
                f"{directory} holds results of shard {meta.get('shard')}, not {shard}: choose another --out"
            )
        parts = results.read_parts(directory, config_hash)
        done = [u for u in units if u in parts]
        if parts and not resume:
            raise ConfigError(
                f"{directory} already holds {len(done)} of {len(units)} cells of this experiment: "
                "pass --resume to complete it (already finished cells are kept), or choose another --out"
            )
        results.remove_stale_temps(directory)
        started = meta["started"] if (meta and resume) else _now()
        env = results.environment()
        shard_text = str(shard) if shard else None
        results.write_metadata(directory, resolved, config_hash, shard=shard_text, units=units, parts=parts, env=env,
                               started=started)

        todo = [u for u in units if u not in parts]
        label = f"{experiment.name}/{experiment.scale}" + (f" shard {shard}" if shard else "")
        progress = Progress(label, len(units), done=len(done), unit="cells", stream=stream, quiet=quiet)
        for cell, seed in todo:
            rows, wall = run_cell(experiment, cell, seed, None if quiet else progress.within(f"cell {cell} seed {seed}"))
            results.write_part(directory, config_hash, cell, seed, experiment.cells[cell].axes, rows, wall)
            lock.refresh()
            axes = ", ".join(f"{k}={v}" for k, v in experiment.cells[cell].axes.items())
            progress.update(f"cell {cell} ({axes}) seed {seed}: {wall:.1f}s")
        return results.finalize(
            directory, resolved, config_hash, shard=shard_text, units=units, env=env, started=started,
            extra={"units_run_last": len(todo)}, summarize=_study(experiment).summarize,
        )


def plan(experiment: Experiment, out, *, shard: Shard | None = None) -> dict:
    """What :func:`run_experiment` would do, computing and writing nothing: the cells and units
    (of the shard), those already finished in ``out``, each cell's memory estimate (the largest
    one its config's ``validate()`` checks; None where the study states none) and its time
    estimate: the mean wall time of the cell's finished units (seeds of one cell cost the same)
    times its units left, None for a cell with no finished unit yet (run one, e.g. one seed with
    ``seeds=[0]`` or one shard, and ask again: a cost model per study would only guess)."""
    from diffsim import _validate

    out = Path(out)
    directory = out / results.shard_dirname(shard.index, shard.count) if shard else out
    units = shard.select(sweep_units(experiment)) if shard else sweep_units(experiment)
    meta = results.read_metadata(directory)
    same = meta is not None and meta.get("config_hash") == experiment.hash
    parts = results.read_parts(directory, experiment.hash) if same else {}
    cells: list[dict[str, Any]] = []
    for cell in experiment.cells:
        with _validate.recorded_memory() as estimates:
            cell.config.validate()
        worst = max(estimates, key=lambda e: e[1]) if estimates else None
        walls = [float(parts[u]["wall_s"]) for u in parts if u[0] == cell.index]
        left = sum(1 for u in units if u[0] == cell.index and u not in parts)
        cells.append({"cell": cell.index, "axes": cell.axes,
                      "memory_bytes": None if worst is None else worst[1],
                      "memory_what": None if worst is None else worst[0],
                      "units_left": left,
                      "seconds_per_unit": sum(walls) / len(walls) if walls else None,
                      "seconds_left": (sum(walls) / len(walls) * left) if walls else (0.0 if not left else None)})
    known = [c["memory_bytes"] for c in cells if c["memory_bytes"] is not None]
    timed = [c["seconds_left"] for c in cells if c["seconds_left"] is not None]
    lock = _read_lock(directory / results.LOCK)
    return {
        "experiment": experiment.name,
        "study": experiment.study,
        "scale": experiment.scale,
        "directory": str(directory),
        "shard": str(shard) if shard else None,
        "config_hash": experiment.hash,
        "cells": len(experiment.cells),
        "seeds": list(experiment.seeds),
        "units": len(units),
        "units_done": sum(u in parts for u in units),
        "other_config_in_directory": meta is not None and not same,
        "locked_by": (lock[0] if lock is not None else None),
        "memory_bytes_max": max(known) if known else None,
        "memory_available_bytes": _validate.available_memory_bytes(),
        "seconds_left_known": sum(timed),
        "cells_without_estimate": [c["cell"] for c in cells if c["seconds_left"] is None],
        "per_cell": cells,
    }


def _study(experiment: Experiment):
    from diffsim.studies import STUDIES

    return STUDIES[experiment.study]
