"""Experiment configs, sweeps, results tables, shards, resume and figures (issue 3).

The sweeps here run the real speciation study at a tiny size (N = 8, a few hundred clone pairs); the
cells vary ``mtilde``, ``sigma`` and ``t_min``, which are traced values, so one compilation serves
every cell and the tests stay within their time budget.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from diffsim import ConfigError
from diffsim.cli import main
from diffsim.config import load_experiment, parse_experiment
from diffsim.results import load_results, read_table
from diffsim.sweep import Shard, cell_key, run_cell, sweep_units

REPO = Path(__file__).resolve().parents[1]

TINY = """
study = "speciation"
description = "tiny sweep for the tests"
seeds = [{seeds}]

[params]
data.dim = 8

[params.measure]
n_pairs = 512
n_branch = 8
n_steps = 200
record_every = 2
clone_steps = 60
n_bootstrap = 20

[grid]
data.mtilde = [1.0, 1.25, 1.5]

[zip]
data.sigma = [0.8, 1.0]
measure.t_min = [0.01, 0.02]

[scales.quick]

[scales.paper]
params.measure = {{ n_pairs = 4096 }}
"""
N_UNITS = 3 * 2 * 2  # mtilde x (sigma, t_min) x seeds


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Config files and a compile cache shared by the in-process and subprocess runs."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    root = tmp_path_factory.mktemp("sweep")
    (root / "speciation.toml").write_text(TINY.format(seeds="0, 1"))
    (root / "other_seeds.toml").write_text(TINY.format(seeds="2, 3"))
    saved = (os.environ.get("DIFFSIM_COMPILE_CACHE"), jax.config.jax_compilation_cache_dir,
             jax.config.jax_persistent_cache_min_compile_time_secs)
    os.environ["DIFFSIM_COMPILE_CACHE"] = str(root / "jax-cache")
    yield root
    # `diffsim run` in this process turned the persistent cache on: leave JAX as we found it.
    if saved[0] is None:
        os.environ.pop("DIFFSIM_COMPILE_CACHE", None)
    else:
        os.environ["DIFFSIM_COMPILE_CACHE"] = saved[0]
    jax.config.update("jax_compilation_cache_dir", saved[1])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", saved[2])
    compilation_cache.reset_cache()


@pytest.fixture(scope="module")
def reference(workdir):
    """An uninterrupted run of the tiny sweep (in process)."""
    out = workdir / "reference"
    assert main(["run", str(workdir / "speciation.toml"), "--out", str(out), "--quiet"]) == 0
    return out


def cli(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "diffsim.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ}, **kwargs,
    )


# --------------------------------------------------------------------------------------------
# configs


def test_cells_are_the_grid_product_crossed_with_zipped_axes_and_scales_override():
    raw = {
        "study": "speciation",
        "seeds": [0],
        "params": {"measure": {"n_pairs": 64}},
        "grid": {"data.mtilde": [1.0, 2.0, 3.0], "data": {"dim": [8, 16]}},  # a dotted key or a sub-table
        "zip": [{"data.sigma": [0.5, 1.0], "measure.t_min": [0.01, 0.02]}, {"measure.clone_steps": [10, 20]}],
        "scales": {"quick": {}, "paper": {"seeds": [4, 5], "params": {"measure.n_pairs": 1024},
                                          "grid": {"data.dim": [32]}}},
    }
    quick = parse_experiment(raw, "quick")
    assert len(quick.cells) == 3 * 2 * 2 * 2
    assert quick.axes == ("mtilde", "dim", "sigma", "t_min", "clone_steps")
    # Enumeration order: grid axes in file order, then zip groups; the last factor varies fastest.
    assert [c.axes for c in quick.cells[:3]] == [
        {"mtilde": 1.0, "dim": 8, "sigma": 0.5, "t_min": 0.01, "clone_steps": 10},
        {"mtilde": 1.0, "dim": 8, "sigma": 0.5, "t_min": 0.01, "clone_steps": 20},
        {"mtilde": 1.0, "dim": 8, "sigma": 1.0, "t_min": 0.02, "clone_steps": 10},
    ]
    last = quick.cells[-1].config
    assert (last.data.mtilde, last.data.dim, last.data.sigma, last.measure.t_min, last.measure.clone_steps,
            last.measure.n_pairs) == (3.0, 16, 1.0, 0.02, 20, 64)
    assert [c.index for c in quick.cells] == list(range(24))
    paper = parse_experiment(raw, "paper")
    assert paper.seeds == (4, 5) and len(paper.cells) == 3 * 1 * 2 * 2
    assert sweep_units(paper)[:3] == [(0, 4), (0, 5), (1, 4)] and len(sweep_units(paper)) == 24
    assert {c.config.data.dim for c in paper.cells} == {32}
    assert {c.config.measure.n_pairs for c in paper.cells} == {1024}
    assert quick.hash != paper.hash
    # The hash follows what sets the numbers: same cells and seeds, same hash, whatever the name.
    assert parse_experiment(raw, "quick", name="renamed").hash == quick.hash


def test_shards_partition_the_units_deterministically():
    units = [(c, s) for c in range(7) for s in (0, 1)]
    for n in (1, 2, 3, 5, 14, 20):
        parts = [Shard.parse(f"{i}/{n}").select(units) for i in range(1, n + 1)]
        flat = [u for p in parts for u in p]
        assert sorted(flat) == units and len(flat) == len(units)
        assert parts == [Shard(i, n).select(units) for i in range(1, n + 1)]
    for bad in ("0/3", "4/3", "a/b", "3", "1/0"):
        with pytest.raises(ConfigError, match="shard"):
            Shard.parse(bad)


BAD = """
study = "speciation"
seeds = [0, -1]
colour = "red"

[params.measure]
n_pairs = "many"
n_stepz = 100
n_branch = 1

[grid]
data.mtilde = [1.0, -2.0]
data.dim = [8, 0]

[zip]
data.sigma = [1.0, 2.0]
measure.t_min = [0.01]

[scales.quick]
params.measure = { clone_steps = 1 }
"""


def test_invalid_config_reports_every_error_at_once_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    expected = [
        ("colour", "unknown key"),
        ("seeds[1]", "-1"),
        ("params.measure.n_pairs", "wrong type"),
        ("params.measure.n_stepz", "unknown parameter"),
        ("params.measure.n_branch", "measure.n_branch=1"),
        ("grid.data.mtilde[1]", "data.mtilde=-2.0"),
        ("grid.data.dim[1]", "data.dim=0"),
        ("zip", "equal lengths"),
        ("scales.quick.params.measure.clone_steps", "measure.clone_steps=1"),
    ]
    for path, needle in expected:
        line = next((l for l in err.splitlines() if l.strip().startswith(path + ":")), None)
        assert line is not None and needle in line, f"no error for {path} in:\n{err}"
    assert f"{len(expected)} errors" in err.splitlines()[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]

    # Unknown scale, TOML syntax error, missing file, bad shard: exit 2, nothing written.
    bad.write_text(TINY.format(seeds="0"))
    assert main(["run", str(bad), "--scale", "huge", "--out", str(out)]) == 2
    assert main(["run", str(bad), "--shard", "4/3", "--out", str(out)]) == 2
    bad.write_text("study = \n")
    assert main(["run", str(bad), "--out", str(out)]) == 2
    assert main(["run", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no scale 'huge'" in err and "shard='4/3'" in err and "not valid TOML" in err and "not a file" in err
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


# --------------------------------------------------------------------------------------------
# runs, tables, determinism


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_table_is_tidy_and_same_config_and_seed_give_identical_tables(workdir, reference):
    table = read_table(reference / "table.csv")
    raw = _rows(reference / "table.csv")
    assert raw[0][:6] == ["cell", "seed", "mtilde", "sigma", "t_min", "N"]
    assert {len(r) for r in raw} == {len(raw[0])}  # rectangular: one read_csv call
    meta = json.loads((reference / "metadata.json").read_text())
    assert meta["complete"] and meta["units_done"] == N_UNITS and len(meta["wall_s"]) == N_UNITS
    assert meta["environment"]["jax"] and meta["environment"]["device_kind"] and meta["config_hash"]
    # One row per cell x seed x quantity (x t for curves), none repeated.
    keys = [(r["cell"], r["seed"], r["quantity"], r["t"]) for r in table.rows]
    assert len(keys) == len(set(keys)) == meta["rows"]
    assert {(r["cell"], r["seed"]) for r in table.rows} == {(c, s) for c in range(6) for s in (0, 1)}
    per_unit = {q: len(table.where(cell=0, seed=0, quantity=q)) for q in ("phi", "theory/phi", "t_speciation")}
    assert per_unit == {"phi": 8, "theory/phi": 8, "t_speciation": 1}
    # Axis columns carry the cell's parameters: the theory rows follow them (t_S = 0.5 log Lambda).
    import math

    for cell in range(6):
        r = table.where(cell=cell, seed=0, quantity="theory/t_speciation").rows[0]
        assert r["value"] == pytest.approx(0.5 * math.log(8 * r["mtilde"] ** 2 + r["sigma"] ** 2), rel=1e-6)

    again = workdir / "again"
    assert main(["run", str(workdir / "speciation.toml"), "--out", str(again), "--quiet"]) == 0
    assert (again / "table.csv").read_bytes() == (reference / "table.csv").read_bytes()

    other = workdir / "other"
    assert main(["run", str(workdir / "other_seeds.toml"), "--out", str(other), "--quiet"]) == 0
    phi_ref = table.where(quantity="phi").column("value")
    phi_other = read_table(other / "table.csv").where(quantity="phi").column("value")
    assert phi_ref.shape == phi_other.shape and (phi_ref != phi_other).mean() > 0.5

    # Rerunning into a finished directory needs --resume (which then runs nothing).
    assert main(["run", str(workdir / "speciation.toml"), "--out", str(again), "--quiet"]) == 2
    assert main(["run", str(workdir / "speciation.toml"), "--out", str(again), "--resume", "--quiet"]) == 0
    assert (again / "table.csv").read_bytes() == (reference / "table.csv").read_bytes()
    # A directory holding another config's results is refused.
    assert main(["run", str(workdir / "other_seeds.toml"), "--out", str(again), "--resume", "--quiet"]) == 2


def test_table_reads_with_pandas_in_one_call(reference):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(reference / "table.csv")
    assert len(frame) == len(read_table(reference / "table.csv"))


def test_shards_merged_equal_the_unsharded_table_and_a_cell_alone(workdir, reference, capsys):
    config = str(workdir / "speciation.toml")
    out = workdir / "sharded"
    for i in (1, 2, 3):
        assert main(["run", config, "--out", str(out), "--shard", f"{i}/3", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["shard-1-of-3", "shard-2-of-3", "shard-3-of-3"]
    assert main(["merge", str(out)]) == 0
    assert (out / "table.csv").read_bytes() == (reference / "table.csv").read_bytes()
    assert load_results(out).metadata["complete"]

    # One unit alone, in this process, gives the rows it has in the sweep table (key = fold_in(seed, cell)).
    experiment = load_experiment(config, "quick")
    rows, _ = run_cell(experiment, 4, 1)
    in_table = read_table(reference / "table.csv").where(cell=4, seed=1)
    assert [r["value"] for r in rows] == pytest.approx([r["value"] for r in in_table.rows], rel=0, abs=0)
    import jax

    assert (jax.random.key_data(cell_key(1, 4)) == jax.random.key_data(jax.random.fold_in(jax.random.PRNGKey(1), 4))).all()

    # An incomplete set of shards is refused with what is missing, and nothing is merged.
    partial = workdir / "partial"
    assert main(["run", config, "--out", str(partial), "--shard", "1/3", "--quiet"]) == 0
    assert main(["run", config, "--out", str(partial), "--shard", "3/3", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["merge", str(partial)]) == 2
    err = capsys.readouterr().err
    assert "shard 2/3 not found" in err and "4 of 12 cells missing" in err
    assert not (partial / "table.csv").exists()


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_table(workdir, reference, capsys):
    config = str(workdir / "speciation.toml")
    out = workdir / "killed"
    cells = out / "cells"
    proc = cli("run", config, "--out", str(out))
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if cells.is_dir() and len(list(cells.glob("c*.json"))) >= 2:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = sorted(cells.glob("c*.json"))
    assert 2 <= len(done) < N_UNITS
    for part in done:  # every part on disk is complete
        assert len(json.loads(part.read_text())["rows"]) > 0
    assert not (out / "table.csv").exists()

    assert main(["run", config, "--out", str(out), "--quiet"]) == 2  # refused without --resume
    assert sorted(cells.glob("c*.json")) == done

    capsys.readouterr()
    assert main(["run", config, "--out", str(out), "--resume"]) == 0  # resumed here: parts of two processes
    assert f"{len(done)} already done" in capsys.readouterr().err
    assert (out / "table.csv").read_bytes() == (reference / "table.csv").read_bytes()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["complete"] and meta["units_run_last"] == N_UNITS - len(done)
    assert not list(out.rglob("*.tmp"))


# --------------------------------------------------------------------------------------------
# figures


def test_figures_runs_the_missing_experiment_then_the_script_and_reuses_results(workdir, reference, tmp_path, capsys):
    results_root, figures = tmp_path / "results", tmp_path / "figures"
    args = ["figures", "speciation_phi", "--experiments", str(workdir), "--results", str(results_root),
            "--out", str(figures), "--gallery", str(tmp_path / "gallery"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["experiments_run"] == ["speciation"] and first["failed"] == []
    # The experiment ran with the same config and seeds: the reference table, bit for bit.
    assert (results_root / "speciation" / "quick" / "table.csv").read_bytes() == (reference / "table.csv").read_bytes()
    for path in (figures / "speciation_phi.png", figures / "speciation_phi.pdf", tmp_path / "gallery" / "speciation_phi.png"):
        assert path.stat().st_size > 5000
    assert (figures / "speciation_phi.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (figures / "speciation_phi.pdf").read_bytes()[:5] == b"%PDF-"
    # Complete results of the same config are reused, never recomputed.
    from diffsim.commands.sweep import ensure_experiments

    assert ensure_experiments(["speciation"], "quick", workdir, results_root) == []
    assert main(["figures", "no_such_figure"]) == 2


def test_every_figure_script_names_its_claim_and_experiments():
    from diffsim.commands.sweep import figure_experiments, figure_scripts

    scripts = figure_scripts(REPO / "paper_figures")
    assert {"collapse_vs_n", "excess_entropy", "speciation_phi"} <= set(scripts)
    for name, path in scripts.items():
        doc = path.read_text().split('"""')[1]
        assert "claim" in doc.lower(), name
        for experiment in figure_experiments(path):
            for scale in ("quick", "paper"):
                assert load_experiment(REPO / "experiments" / f"{experiment}.toml", scale).cells


@pytest.mark.slow
def test_figures_quick_from_scratch(tmp_path):
    """`diffsim figures --scale quick` end to end, fresh results and compile cache (minutes on 2 cores)."""
    env = {**os.environ, "DIFFSIM_COMPILE_CACHE": str(tmp_path / "cache")}
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "diffsim.cli", "figures", "--scale", "quick", "--results", str(tmp_path / "results"),
         "--out", str(tmp_path / "figures"), "--json"],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads(proc.stdout)
    from diffsim.commands.sweep import figure_experiments, figure_scripts

    scripts = figure_scripts(REPO / "paper_figures")
    assert sorted(payload["experiments_run"]) == sorted({e for path in scripts.values() for e in figure_experiments(path)})
    for name in scripts:
        for suffix in ("png", "pdf"):
            assert (tmp_path / "figures" / f"{name}.{suffix}").stat().st_size > 10000
    print(f"diffsim figures --scale quick from scratch: {time.time() - start:.0f} s")


def test_long_cells_report_the_studys_own_progress_and_the_same_rows(tmp_path):
    """Within-cell progress: a study that reports (here per query kind) writes indented lines between
    the sweep's cell lines; the rows do not depend on whether progress is shown."""
    import io

    from diffsim.sweep import run_experiment

    raw = {"study": "rem", "seeds": [0], "params": {"data": {"alpha": 0.2, "dim": 10},
                                                       "measure": {"times": [0.3, 0.8], "n_queries": 16}}}
    experiment = parse_experiment(raw, name="rem_progress")
    stream = io.StringIO()
    run_experiment(experiment, tmp_path / "shown", stream=stream)
    run_experiment(experiment, tmp_path / "quiet", quiet=True)
    lines = stream.getvalue().splitlines()
    within = [line for line in lines if line.startswith("    cell 0 seed 0: ")]
    assert [line.split(": ")[1].split(" (")[0] for line in within] == ["N=10 fresh queries", "N=10 train queries"]
    assert lines.index(within[-1]) < next(i for i, line in enumerate(lines) if "1/1 cells" in line)
    assert read_table(tmp_path / "shown" / "table.csv") == read_table(tmp_path / "quiet" / "table.csv")


COLLAPSE_TINY = """
study = "collapse"
seeds = [0]

[params]
data.alpha = 0.4

[params.measure]
n_trajectories = 16
n_steps = 40
record_every = 4
n_bootstrap = 10
estimators = ["condensation", "freezing"]

[grid]
data.dim = [8, 10]
"""


def test_collapse_sweep_summary_holds_the_inverse_n_extrapolation(tmp_path):
    """One cell is one N; the headline number (the 1/N extrapolation over the cells) is in the
    sweep's summary.csv, computed from the table (issue 11)."""
    from diffsim.observe import extrapolate_inverse_n

    config = tmp_path / "c.toml"
    config.write_text(COLLAPSE_TINY)
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    table = list(csv.DictReader(open(out / "table.csv")))
    summary = {r["quantity"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    for name in ("condensation", "freezing"):
        pts = sorted((int(r["N"]), float(r["value"]), float(r["stderr"])) for r in table if r["quantity"] == f"t_collapse/{name}")
        assert [p[0] for p in pts] == [8, 10] and all(np.isfinite(p[1]) for p in pts)
        a, a_err, _ = extrapolate_inverse_n(*zip(*pts))
        row = summary[f"t_collapse/{name}/extrapolated"]
        assert float(row["value"]) == pytest.approx(a, rel=1e-12) and float(row["stderr"]) == pytest.approx(a_err, rel=1e-12)
        assert row["n_dims"] == "2"
