"""Results on disk (issue 15): file modes from the umask, the lock on a results directory, tables
checked against their metadata when loaded, summary.csv and pandas frames.

Nothing here runs a study: the parts are written by hand through :mod:`diffsim.results`, so the file
takes about a second.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from diffsim import ConfigError, results
from diffsim.config import parse_experiment

AXES = ["mtilde"]
SEEDS = [0, 1]


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def _resolved(n_cells: int = 2) -> dict:
    return {
        "name": "fake", "study": "speciation", "scale": "quick", "description": "", "source": None,
        "seeds": SEEDS, "params": {}, "axes": AXES,
        "cells": [{"cell": c, "axes": {"mtilde": 1.0 + c}, "config": {"mtilde": 1.0 + c}} for c in range(n_cells)],
    }


def _summarize(rows, by):
    """A toy analysis over points: the mean value per seed."""
    out = []
    for seed in sorted({r["seed"] for r in rows}):
        vals = [r["value"] for r in rows if r["seed"] == seed and r["value"] is not None]
        out.append({"seed": seed, "quantity": "mean", "value": float(np.mean(vals)), "n": len(vals)})
    return out


def _write_results(directory, *, summarize=None, n_cells: int = 2) -> tuple[dict, list]:
    """A complete results directory of ``n_cells`` x 2 seeds, three rows per unit (one NaN value)."""
    resolved = _resolved(n_cells)
    units = [(c, s) for c in range(n_cells) for s in SEEDS]
    for c, s in units:
        rows = [{"N": 8, "quantity": "phi", "t": t, "value": 0.5 + 0.1 * t + c + 0.01 * s, "stderr": 0.01}
                for t in (0.5, 1.0)]
        rows.append({"N": 8, "quantity": "t_speciation", "t": None, "value": float("nan"), "stderr": None})
        results.write_part(directory, "h0", c, s, {"mtilde": 1.0 + c}, rows, wall_s=0.1)
    meta = results.finalize(directory, resolved, "h0", shard=None, units=units, env={"git_commit": None},
                            started="now", summarize=summarize)
    return meta, units


# --------------------------------------------------------------------------------------------
# file modes


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_files_get_the_umask_mode_not_mkstemps_0600(tmp_path, mask, expected):
    from diffsim.nets.checkpoint import save_checkpoint
    from diffsim.plot import save_figure, subplots

    with umask(mask):
        _write_results(tmp_path / "r", summarize=_summarize)
        written = [tmp_path / "r" / name for name in (results.TABLE, results.METADATA, results.SUMMARY)]
        written += list((tmp_path / "r" / results.CELLS).iterdir())
        written.append(save_checkpoint(tmp_path / "ck" / "step_1.npz", {"w": np.zeros(3)}))
        fig, ax = subplots()
        ax.plot([0, 1], [0, 1])
        written.append(save_figure(fig, tmp_path / "fig.png", metadata={"command": "test"}))
    assert len(written) == 3 + 4 + 2
    assert {p.name: oct(_mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    leftovers = [p.name for p in tmp_path.rglob(".*tmp*")]
    assert leftovers == []


# --------------------------------------------------------------------------------------------
# the lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant_lock(directory, **holder):
    directory.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": "earlier", "what": "diffsim run x"}
    record.update(holder)
    (directory / results.LOCK).write_text(json.dumps(record))
    return directory / results.LOCK


def test_a_second_run_into_a_locked_directory_is_refused_naming_the_holder(tmp_path):
    directory = tmp_path / "out"
    with results.lock_directory(directory, what="first run") as lock:
        assert lock.path.is_file() and json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(ConfigError) as err:
            with results.lock_directory(directory):
                pass
        message = str(err.value)
        assert str(directory) in message and f"pid {os.getpid()}" in message and socket.gethostname() in message
        assert "first run" in message and "\n" not in message
        assert lock.path.is_file()  # the refused run did not remove the holder's lock
    assert not (directory / results.LOCK).exists()  # released at the end


def test_run_experiment_into_a_locked_directory_writes_nothing(tmp_path):
    from diffsim.sweep import run_experiment

    raw = {"study": "speciation", "seeds": [0], "params": {"data": {"dim": 8}, "measure": {
        "n_pairs": 64, "n_branch": 4, "n_steps": 40, "record_every": 2, "clone_steps": 20, "n_bootstrap": 10}}}
    experiment = parse_experiment(raw, "quick", name="tiny")
    lock = _plant_lock(tmp_path / "out", pid=os.getpid(), host=socket.gethostname())
    with pytest.raises(ConfigError, match="is in use by pid"):
        run_experiment(experiment, tmp_path / "out", quiet=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [results.LOCK]
    assert lock.is_file()
    # a shard of the same output goes to its own directory, with its own lock: not blocked
    with results.lock_directory(tmp_path / "out" / results.shard_dirname(1, 2)):
        pass


def test_stale_locks_are_taken_over_with_a_message(tmp_path):
    # a dead pid on this host
    directory = tmp_path / "dead"
    _plant_lock(directory, pid=_dead_pid())
    said = io.StringIO()
    with results.lock_directory(directory, stream=said) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert "taking over the stale lock" in said.getvalue() and "is not running" in said.getvalue()

    # another host: its pid cannot be checked; stale only when not refreshed for DIFFSIM_LOCK_STALE_S
    directory = tmp_path / "remote"
    path = _plant_lock(directory, pid=12345, host="elsewhere.example")
    with pytest.raises(ConfigError, match="elsewhere.example"):
        with results.lock_directory(directory):
            pass
    old = time.time() - results.LOCK_STALE_S - 60
    os.utime(path, (old, old))
    said = io.StringIO()
    with results.lock_directory(directory, stream=said):
        pass
    assert "last refreshed" in said.getvalue()


def test_refresh_keeps_a_lock_alive_and_a_refused_run_leaves_no_folder(tmp_path, monkeypatch):
    directory = tmp_path / "a" / "b"
    with pytest.raises(ConfigError, match="refused"):
        with results.lock_directory(directory):
            raise ConfigError("refused before writing")
    assert not (tmp_path / "a").exists()

    monkeypatch.setenv("DIFFSIM_LOCK_STALE_S", "30")
    path = _plant_lock(tmp_path / "c", host="elsewhere.example")
    os.utime(path, (time.time() - 10, time.time() - 10))
    with pytest.raises(ConfigError, match="in use"):
        with results.lock_directory(tmp_path / "c"):
            pass
    with results.lock_directory(tmp_path / "d") as lock:
        os.utime(lock.path, (0, 0))
        lock.refresh()
        assert time.time() - lock.path.stat().st_mtime < 5


# --------------------------------------------------------------------------------------------
# tables checked against the metadata


def test_complete_results_load_with_summary_and_frames(tmp_path):
    pd = pytest.importorskip("pandas")
    meta, units = _write_results(tmp_path / "r", summarize=_summarize)
    loaded = results.load_results(tmp_path / "r")
    assert len(loaded.table) == meta["rows"] == 3 * len(units)
    assert loaded.summary is not None and loaded.summary.unique("quantity") == ["mean"]
    frame = loaded.frame()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (len(loaded.table), len(loaded.table.columns))
    assert list(frame.columns) == list(loaded.table.columns)
    assert frame["value"].isna().sum() == len(units)  # the NaN values, and nothing else, are missing
    assert frame["t"].isna().sum() == len(units)  # empty fields are missing values
    np.testing.assert_array_equal(frame["value"].to_numpy(), loaded.table.column("value"))
    summary = loaded.summary_frame()
    assert list(summary["seed"]) == SEEDS and list(summary["n"]) == [6, 6]

    # without an analysis over points there is no summary
    _write_results(tmp_path / "plain")
    plain = results.load_results(tmp_path / "plain")
    assert plain.summary is None and plain.summary_frame() is None


def _damage(path, how: str) -> None:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    if how == "cut mid-row":
        path.write_text(text[: len(text) - len(lines[-1]) // 2])
    elif how == "last row cut":
        path.write_text("".join(lines[:-1]))
    elif how == "edited value":
        path.write_text(text.replace("0.55", "0.56", 1))
    elif how == "empty":
        path.write_text("")


@pytest.mark.parametrize("how", ["cut mid-row", "last row cut", "edited value", "empty"])
def test_a_cut_or_edited_table_is_an_error_naming_the_file(tmp_path, how):
    _write_results(tmp_path / "r", summarize=_summarize)
    _damage(tmp_path / "r" / results.TABLE, how)
    with pytest.raises(ConfigError) as err:
        results.load_results(tmp_path / "r")
    assert str(tmp_path / "r" / results.TABLE) in str(err.value) and "--resume" in str(err.value)


def test_missing_cells_are_an_error_even_without_a_recorded_digest(tmp_path):
    directory = tmp_path / "r"
    _write_results(directory)
    meta = json.loads((directory / results.METADATA).read_text())
    del meta["table_sha256"]  # a results directory written before digests were recorded
    lines = (directory / results.TABLE).read_text().splitlines(keepends=True)
    kept = [l for l in lines if not l.startswith("1,1,")]  # drop every row of cell 1 seed 1
    meta["rows"] = len(kept) - 1  # and a consistent row count: the cell check must still catch it
    (directory / results.METADATA).write_text(json.dumps(meta))
    (directory / results.TABLE).write_text("".join(kept))
    with pytest.raises(ConfigError, match=r"no rows for 1 finished cells \(c00001_s1\)"):
        results.load_results(directory)

    # a row count that disagrees is an error too
    meta["rows"] = len(kept) + 3
    (directory / results.METADATA).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="rows"):
        results.load_results(directory)


def test_a_missing_summary_listed_in_the_metadata_is_an_error(tmp_path):
    _write_results(tmp_path / "r", summarize=_summarize)
    (tmp_path / "r" / results.SUMMARY).unlink()
    with pytest.raises(ConfigError, match="summary.csv is missing"):
        results.load_results(tmp_path / "r")
    _write_results(tmp_path / "s", summarize=_summarize)
    _damage(tmp_path / "s" / results.SUMMARY, "last row cut")
    with pytest.raises(ConfigError, match="summary.csv does not match"):
        results.load_results(tmp_path / "s")


def test_read_table_refuses_rows_with_the_wrong_number_of_fields(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(ConfigError, match="line 3 has 2 fields, expected 3"):
        results.read_table(path)


def test_results_of_another_table_layout_read_as_another_config(monkeypatch):
    """The table schema is part of the config hash: results written before a rename of the table's
    quantities are never completed or drawn as if they were current."""
    from diffsim import config
    from diffsim.studies.rem import RemConfig

    before = config.config_hash("rem", [0], [RemConfig()])
    monkeypatch.setattr(config, "TABLE_SCHEMA", config.TABLE_SCHEMA - 1)
    assert config.config_hash("rem", [0], [RemConfig()]) != before


@pytest.mark.parametrize("old", [1, 2])
def test_results_of_an_older_table_schema_are_refused_naming_it(tmp_path, monkeypatch, old):
    """Results written before a rename of the table's quantities (schema 1: before the schema was
    part of the hash) are refused when read or resumed, the message naming the schema and the
    diffsim that wrote them; current results pass."""
    from diffsim import config
    from diffsim.commands.sweep import ensure_experiments
    from diffsim.sweep import run_experiment

    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "old.toml").write_text('study = "rem"\nseeds = [0]\n')
    experiment = config.load_experiment(tmp_path / "experiments" / "old.toml")
    with monkeypatch.context() as m:
        m.setattr(config, "TABLE_SCHEMA", old)
        old_hash = experiment.hash
    units, directory = [(0, 0)], tmp_path / "results" / "old" / "quick"
    results.write_part(directory, old_hash, 0, 0, {}, [{"quantity": "q", "value": 1.0}], wall_s=0.1)
    results.finalize(directory, experiment.resolved(), old_hash, shard=None, units=units,
                     env={"diffsim": "0.1.0", "git_commit": "0123456789abcdef"}, started="now")
    meta = results.load_results(directory).metadata
    assert config.table_schema(meta) == old
    message = (f"{directory} was written with table schema {old} (diffsim 0.1.0, commit 01234567); "
               f"this diffsim reads schema {config.TABLE_SCHEMA}")
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.check_table_schema(meta, directory)
    with pytest.raises(ConfigError, match=re.escape(message)):  # diffsim run --resume
        run_experiment(experiment, directory, resume=True, quiet=True)
    with pytest.raises(ConfigError, match=re.escape(message)):  # diffsim figures
        ensure_experiments(["old"], "quick", tmp_path / "experiments", tmp_path / "results", quiet=True)

    results.write_part(tmp_path / "new", experiment.hash, 0, 0, {}, [{"quantity": "q", "value": 1.0}], wall_s=0.1)
    results.finalize(tmp_path / "new", experiment.resolved(), experiment.hash, shard=None, units=units,
                     env={"git_commit": None}, started="now")
    meta = results.load_results(tmp_path / "new").metadata
    assert config.table_schema(meta) == config.TABLE_SCHEMA
    config.check_table_schema(meta, tmp_path / "new")  # no error
    # metadata whose hash no schema gives (written by hand, or by a newer diffsim) is not judged
    assert config.table_schema({**meta, "config_hash": "0" * 16}) is None
