"""The examples a researcher starts from (``examples/``) run and print what they promise; each is
executed here with ``--quick`` (a smaller size of the same code path)."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = {
    "collapse_of_your_data.py": ("theory t_C", "condensation:", "clones:", "entropy:"),
    "hidden_manifold_point.py": ("HMM, phi = tanh", "measured condensation", "t_collapse_linear_hmm"),
    "denoiser_vs_empirical_score.py": ("|s_net - s_emp|^2", "memorized fraction"),
    "sweep_to_pandas.py": ("t_collapse/condensation/extrapolated",),
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name, capsys, monkeypatch):
    if name == "sweep_to_pandas.py":
        pytest.importorskip("pandas")
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    for needle in EXPECTED[name]:
        assert needle in out, (name, needle, out)
    assert "nan" not in out.lower().replace("nonlinearity", ""), out
