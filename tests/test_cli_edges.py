"""Edges of the command line (issue 15): --version, strict JSON, a closed pipe, KEY=VALUE overrides,
--dry-run, shards from a SLURM array's environment, output paths checked before any work.

Nothing here runs a study (``--dry-run`` validates configs only); one subprocess checks the closed
pipe.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffsim import ConfigError
from diffsim.cli import main
from diffsim.cli_util import check_output_path, emit, strict_json
from diffsim.config import parse_overrides
from diffsim.sweep import Shard

REPO = Path(__file__).resolve().parents[1]

TINY = """
study = "speciation"
seeds = [0]
[params]
data.dim = 8
[params.measure]
n_pairs = 64
n_branch = 4
n_steps = 40
record_every = 2
clone_steps = 20
n_bootstrap = 10
[grid]
data.mtilde = [{mtilde}]
[scales.quick]
[scales.paper]
params.measure = {{ n_pairs = 4096 }}
"""

COLLAPSE = """
study = "collapse"
[params]
measure.n_trajectories = 32
[grid]
data.dim = [8, 10]
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(mtilde="1.0, 1.5"))
    return path


def _only(tmp_path, *names):
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


# --------------------------------------------------------------------------------------------
# --version, strict JSON, closed pipe


def test_version_prints_the_package_version(capsys):
    import diffsim

    with pytest.raises(SystemExit) as code:
        main(["--version"])
    assert code.value.code == 0
    assert capsys.readouterr().out.strip() == f"diffsim {diffsim.__version__}"


def test_json_output_is_strict_nan_and_inf_become_null(capsys):
    payload = {"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": {"d": np.float32("nan"), "e": np.arange(2)},
               "f": np.float64(0.5), "g": "nan", "h": True, "p": Path("x/y")}
    emit(payload, "table", as_json=True)
    assert _json(capsys) == {"a": None, "b": [1.0, None, None], "c": {"d": None, "e": [0, 1]}, "f": 0.5,
                             "g": "nan", "h": True, "p": "x/y"}
    assert "NaN" not in strict_json({"x": [math.nan]}) and "Infinity" not in strict_json({"x": math.inf})
    emit(payload, "the human table", as_json=False)
    assert capsys.readouterr().out == "the human table\n"


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``diffsim run ... --dry-run | head -1``: the reader goes away after one line; diffsim ends
    with exit code 141 (128 + SIGPIPE) and nothing on stderr (no traceback)."""
    config = tmp_path / "many.toml"
    config.write_text(TINY.format(mtilde=", ".join(f"{1 + i / 1000:.4f}" for i in range(3000))))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "diffsim.cli", "run", str(config), "--dry-run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # like `head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert first.startswith(b"many (speciation, quick)")
    assert err == "", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.toml"]


# --------------------------------------------------------------------------------------------
# overrides and --dry-run


def test_parse_overrides_reads_toml_values_and_bare_strings():
    got = parse_overrides(["n_steps=400", "sigma=0.5", "data=mixture", 'name="x y"', "dim=[8, 12]", "flag=true"])
    assert got == {"n_steps": 400, "sigma": 0.5, "data": "mixture", "name": "x y", "dim": [8, 12], "flag": True}
    for bad, needle in [("n_steps", "expected KEY=VALUE"), ("=3", "expected KEY=VALUE"), ("a-b=1", "expected KEY=VALUE")]:
        with pytest.raises(ConfigError, match=needle):
            parse_overrides([bad])
    with pytest.raises(ConfigError, match="given twice"):
        parse_overrides(["dim=8", "dim=9"])


def test_dry_run_with_overrides_reports_cells_units_and_writes_nothing(config, tmp_path, capsys):
    assert main(["run", str(config), "--dry-run", "--json"]) == 0
    base = _json(capsys)
    assert (base["cells"], base["units"], base["units_done"], base["seeds"]) == (2, 2, 0, [0])
    assert base["directory"] == str(Path("results") / "tiny" / "quick")

    argv = ["run", str(config), "measure.n_pairs=128", "data.mtilde=[1.0, 2.0, 3.0]", "seeds=[0, 1]", "measure.t_min=0.02",
            "--dry-run", "--json", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    info = _json(capsys)
    assert (info["cells"], info["units"]) == (3, 6)
    assert [c["axes"] for c in info["per_cell"]] == [{"mtilde": v} for v in (1.0, 2.0, 3.0)]
    assert info["config_hash"] != base["config_hash"]
    # a single value fixes an axis (a one-value axis, so the table keeps its column)
    assert main(["run", str(config), "data.mtilde=1.25", "--dry-run", "--json"]) == 0
    assert [c["axes"] for c in _json(capsys)["per_cell"]] == [{"mtilde": 1.25}]
    # the override wins over the scale's params
    assert main(["run", str(config), "--scale", "paper", "measure.n_pairs=100", "--dry-run", "--json"]) == 0
    paper = _json(capsys)
    assert main(["run", str(config), "measure.n_pairs=100", "--dry-run", "--json"]) == 0
    assert _json(capsys)["config_hash"] == paper["config_hash"]
    _only(tmp_path, "tiny.toml")

    assert main(["run", str(config), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "nothing run or written" in text and "2 units" in text and "memory" in text


def test_dry_run_reports_the_memory_estimate_of_the_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(COLLAPSE)
    assert main(["run", "c.toml", "--dry-run", "--json"]) == 0
    info = _json(capsys)
    sizes = [c["memory_bytes"] for c in info["per_cell"]]
    assert all(s > 0 for s in sizes) and sizes[1] > sizes[0]  # more points and dimensions at N = 10
    assert info["memory_bytes_max"] == max(sizes) < info["memory_available_bytes"]
    _only(tmp_path, "c.toml")


@pytest.mark.parametrize("override, needle", [
    ("measure.n_pairs=abc", "override measure.n_pairs: measure.n_pairs='abc' has the wrong type"),
    ("measure.n_pairs=-3", "override measure.n_pairs: measure.n_pairs=-3 is out of range"),
    ("colour=red", "override colour: unknown parameter 'colour'"),
    ("n_pairs=3", "override n_pairs: unknown parameter 'n_pairs': did you mean measure.n_pairs?"),
    ("seeds=[-1]", "override seeds[0]: -1 is out of range"),
    ("data.mtilde=[]", "override data.mtilde: expected a non-empty list"),
    ("study=rem", "override study: 'study' cannot be overridden"),
    ("n_pairs", "override 'n_pairs' is not valid: expected KEY=VALUE"),
])
def test_a_bad_override_is_one_line_exit_2_and_nothing_written(config, tmp_path, capsys, override, needle):
    assert main(["run", str(config), override, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1, err
    _only(tmp_path, "tiny.toml")


# --------------------------------------------------------------------------------------------
# SLURM array shards


@pytest.mark.parametrize("env, expected", [
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard(1, 4)),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MAX": "3"}, Shard(4, 4)),
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "6"}, Shard(1, 2)),
    ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
      "SLURM_ARRAY_TASK_MAX": "2"}, Shard(3, 3)),
])
def test_shard_from_a_slurm_array(env, expected):
    assert Shard.from_environment(env) == expected
    assert Shard.from_option("slurm", env) == expected
    assert Shard.from_option("2/5", env) == Shard(2, 5) and Shard.from_option(None, env) is None


@pytest.mark.parametrize("env, needle", [
    ({}, "needs SLURM_ARRAY_TASK_ID"),
    ({"SLURM_ARRAY_TASK_ID": "1"}, "needs SLURM_ARRAY_TASK_COUNT"),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM_ARRAY_TASK_ID=4 is out of range"),
    ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM_ARRAY_TASK_ID='x' is not valid"),
    ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MAX": "6"}, "without a step"),
])
def test_bad_slurm_environments_are_named(env, needle):
    with pytest.raises(ConfigError, match=needle):
        Shard.from_environment(env)


def test_run_takes_its_shard_from_the_slurm_environment(config, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    assert main(["run", str(config), "--shard", "slurm", "--out", "o", "--dry-run", "--json"]) == 0
    info = _json(capsys)
    assert info["shard"] == "2/2" and info["directory"] == str(Path("o") / "shard-2-of-2") and info["units"] == 1
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    assert main(["run", str(config), "--shard", "slurm", "--out", "o"]) == 2
    assert "SLURM_ARRAY_TASK_ID" in capsys.readouterr().err
    _only(tmp_path, "tiny.toml")


# --------------------------------------------------------------------------------------------
# output paths checked before any work


def test_check_output_path(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    assert check_output_path(tmp_path / "new" / "deep" / "fig.png", "--figure", formats=(".png", ".pdf")).name == "fig.png"
    assert check_output_path(tmp_path / "new" / "deep", "--out", kind="dir") == tmp_path / "new" / "deep"
    assert check_output_path(None, "--figure") is None
    cases = [
        (dict(path=tmp_path / "fig.bmp", option="--figure", formats=(".png", ".pdf")), "--figure=.*suffix '.bmp'"),
        (dict(path=tmp_path / "fig", option="--figure", formats=(".png",)), "has no suffix"),
        (dict(path=tmp_path / "file.txt" / "fig.png", option="--figure", formats=(".png",)), "'.*file.txt' is a file"),
        (dict(path=tmp_path, option="--figure", formats=None), "is a folder"),
        (dict(path=tmp_path / "file.txt", option="--out", kind="dir"), "--out=.* is a file"),
        (dict(path=tmp_path / "file.txt" / "sub", option="--checkpoint-dir", kind="dir"), "--checkpoint-dir=.*is a file"),
        (dict(path="", option="--out", kind="dir"), "not a valid path"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ConfigError, match=needle):
            check_output_path(**kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # nothing created


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: permissions cannot be tested")
def test_check_output_path_refuses_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="no write permission"):
            check_output_path(ro / "out", "--out", kind="dir")
    finally:
        ro.chmod(0o755)


def test_run_merge_and_figures_refuse_unwritable_outputs_before_any_work(config, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    for argv in (["run", str(config), "--out", "file.txt"],
                 ["run", str(config), "--out", "file.txt/sub"],
                 ["merge", str(tmp_path), "--out", "file.txt"],
                 ["figures", "--out", "file.txt/figs"],
                 ["figures", "--gallery", "file.txt"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "--out" in err or "--gallery" in err, err
        assert len(err.strip().splitlines()) == 1, err
    _only(tmp_path, "tiny.toml", "file.txt")


def test_dry_run_estimates_time_from_the_finished_units_of_each_cell(config, tmp_path, monkeypatch, capsys):
    """Seeds of one cell cost the same: a cell with finished units is estimated by their mean wall
    time times its units left; a cell with none has no estimate (never a guess)."""
    from diffsim import sweep
    from diffsim.config import load_experiment

    experiment = load_experiment(config, "quick", overrides={"seeds": [0, 1, 2]})
    parts = {(0, 0): {"wall_s": 2.0}, (0, 1): {"wall_s": 4.0}}  # cell 0: 2 of 3 seeds done, cell 1: none
    monkeypatch.setattr(sweep.results, "read_metadata", lambda d: {"config_hash": experiment.hash})
    monkeypatch.setattr(sweep.results, "read_parts", lambda d, h=None: parts)
    info = sweep.plan(experiment, tmp_path / "o")
    first, second = info["per_cell"]
    assert (first["units_left"], first["seconds_per_unit"], first["seconds_left"]) == (1, 3.0, 3.0)
    assert (second["units_left"], second["seconds_per_unit"], second["seconds_left"]) == (3, None, None)
    assert (info["seconds_left_known"], info["cells_without_estimate"]) == (3.0, [1])
    parts[(1, 0)] = {"wall_s": 10.0}
    assert sweep.plan(experiment, tmp_path / "o")["seconds_left_known"] == 3.0 + 20.0
