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
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax

from diffsim import results
from diffsim._validate import ConfigError
from diffsim.config import Experiment

__all__ = ["Shard", "sweep_units", "cell_key", "run_cell", "run_experiment", "Progress"]


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


class Progress:
    """A progress line on ``stream``: units done, rate, ETA (redrawn in place on a terminal, one
    line per unit otherwise, e.g. in a batch-job log)."""

    def __init__(self, total: int, done: int, label: str, stream=None):
        self.total, self.done, self.label = total, done, label
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.ran = 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._draw(f"{done} already done" if done else "starting")

    def within(self, cell: int, seed: int):
        """A callback for a study's progress inside one unit: an indented line with the elapsed
        time (on a terminal, the bar is redrawn below it)."""
        start = time.perf_counter()

        def report(what) -> None:
            what = f"N={what} done" if isinstance(what, int) else str(what).strip()
            text = f"    cell {cell} seed {seed}: {what} ({time.perf_counter() - start:.1f}s in this cell)"
            if self.tty:  # overwrite the bar with the line, then draw the bar again below it
                self.stream.write("\r" + text.ljust(shutil.get_terminal_size().columns - 1) + "\n")
                self._draw(self.last)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

        return report

    def update(self, what: str) -> None:
        self.done += 1
        self.ran += 1
        self._draw(what)

    def _draw(self, what: str) -> None:
        self.last = what
        elapsed = time.perf_counter() - self.start
        rate = self.ran / elapsed if self.ran and elapsed > 0 else 0.0
        left = self.total - self.done
        eta = f"{left / rate:6.0f}s" if rate > 0 else "     ?"
        filled = int(20 * self.done / self.total) if self.total else 20
        bar = "#" * filled + "-" * (20 - filled)
        line = (
            f"{self.label} [{bar}] {self.done:>4}/{self.total} cells  {rate:6.2f} cells/s  "
            f"ETA {eta}  elapsed {elapsed:6.1f}s  {what}"
        )
        if self.tty:
            columns = shutil.get_terminal_size().columns - 1
            self.stream.write("\r" + line[:columns].ljust(columns) + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def run_experiment(experiment: Experiment, out, *, shard: Shard | None = None, resume: bool = False,
                   stream=None, quiet: bool = False) -> dict:
    """Run every unit of ``experiment`` (or of one ``shard``) not yet in ``out`` and write the table.

    ``out`` receives ``table.csv``, ``metadata.json`` and ``cells/`` (a shard writes them under
    ``out/shard-I-of-N/``). A directory that already holds parts of this config is completed only
    with ``resume=True``; parts of another config are refused. Returns the metadata written.
    """
    out = Path(out)
    directory = out / results.shard_dirname(shard.index, shard.count) if shard else out
    units = shard.select(sweep_units(experiment)) if shard else sweep_units(experiment)
    config_hash = experiment.hash
    resolved = experiment.resolved()
    meta = results.read_metadata(directory)
    if meta is not None and meta.get("config_hash") != config_hash:
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
    started = meta["started"] if (meta and resume) else results._now()
    env = results.environment()
    shard_text = str(shard) if shard else None
    results.write_metadata(directory, resolved, config_hash, shard=shard_text, units=units, parts=parts, env=env, started=started)

    todo = [u for u in units if u not in parts]
    label = f"{experiment.name}/{experiment.scale}" + (f" shard {shard}" if shard else "")
    progress = None if quiet else Progress(len(units), len(done), label, stream)
    for cell, seed in todo:
        rows, wall = run_cell(experiment, cell, seed, None if progress is None else progress.within(cell, seed))
        results.write_part(directory, config_hash, cell, seed, experiment.cells[cell].axes, rows, wall)
        if progress is not None:
            axes = ", ".join(f"{k}={v}" for k, v in experiment.cells[cell].axes.items())
            progress.update(f"cell {cell} ({axes}) seed {seed}: {wall:.1f}s")
    return results.finalize(
        directory, resolved, config_hash, shard=shard_text, units=units, env=env, started=started,
        extra={"units_run_last": len(todo)}, summarize=_study(experiment).summarize,
    )


def _study(experiment: Experiment):
    from diffsim.studies import STUDIES

    return STUDIES[experiment.study]
