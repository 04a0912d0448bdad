import json
import math
import subprocess
import sys

import pytest

from diffsim.cli import main
from diffsim.theory.collapse import collapse_time_isotropic


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "diffsim.cli", *args], capture_output=True, text=True, timeout=600)


def test_theory_collapse_json(capsys):
    assert main(["theory", "collapse", "--data", "gaussian", "--alpha", "0.2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["t_collapse"] == pytest.approx(0.5 * math.log(1 + 1 / (math.exp(0.4) - 1)), rel=1e-12)


def test_theory_collapse_from_dim_and_n_train_for_mixture(capsys):
    assert main(["theory", "collapse", "--data", "mixture", "--dim", "40", "--n-train", "2981", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["t_collapse"] == pytest.approx(float(collapse_time_isotropic(math.log(2981) / 40)), rel=1e-12)
    assert out["t_speciation"] == pytest.approx(0.5 * math.log(41.0), rel=1e-12)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["theory", "collapse", "--data", "cifar", "--alpha", "0.2"], "data='cifar'"),
        (["theory", "collapse", "--data", "gaussian", "--alpha", "-0.2"], "alpha=-0.2"),
        (["theory", "collapse", "--data", "gaussian", "--alpha", "nan"], "alpha=nan"),
        (["theory", "collapse", "--data", "gaussian", "--dim", "10", "--n-train", "1"], "n-train=1"),
        (["theory", "collapse", "--data", "gaussian"], "alpha is missing"),
        (["collapse", "--data.dim", "20,0"], "dim=0"),
        (["collapse", "--data.alpha", "0.2", "--data.dim", "20", "--measure.n-trajectories", "1"], "n_trajectories=1"),
        (["collapse", "--data.alpha", "2.0", "--data.dim", "400"], "GiB"),
        (["collapse", "--data.dim", "2,x"], "--data.dim"),
        (["speciation", "--data", "gaussian"], "--data"),  # the mixture is its only data: no such option
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_command_has_help():
    for args in (["--help"], ["theory", "collapse", "--help"], ["collapse", "--help"], ["speciation", "--help"]):
        proc = run_cli(*args)
        assert proc.returncode == 0 and "usage" in proc.stdout


def test_collapse_command_json_keys_and_figure(tmp_path):
    fig = tmp_path / "c.png"
    proc = run_cli(
        "collapse", "--data.model", "mixture", "--data.alpha", "0.3", "--data.dim", "8,10",
        "--measure.n-trajectories", "16", "--measure.n-steps", "40", "--figure", str(fig), "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"theory", "rows", "extrapolated"}
    assert "t_collapse" in out["theory"]
    assert [r["N"] for r in out["rows"]] == [8, 10]
    for row in out["rows"]:
        assert row["P"] == round(math.exp(0.3 * row["N"]))
        assert set(row["estimates"]) == {"condensation", "freezing", "clones", "entropy"}
        assert all(set(v) == {"value", "stderr"} for v in row["estimates"].values())
    assert set(out["extrapolated"]) == {"condensation", "freezing", "clones", "entropy"}
    assert fig.stat().st_size > 10_000
