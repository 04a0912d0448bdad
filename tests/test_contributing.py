"""docs/contributing.md's walk-through of adding a study, followed as written: its code blocks make a
measurement and a registered study, which then has a command and runs as an experiment."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

import diffsim.studies
import diffsim.studies._registry as registry
from diffsim import cli
from diffsim.results import read_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "contributing.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


@pytest.fixture
def walked_through(monkeypatch):
    studies = dict(registry.STUDIES)
    monkeypatch.setattr(registry, "STUDIES", studies)
    monkeypatch.setattr(diffsim.studies, "STUDIES", studies)
    module = types.ModuleType("nn_ratio_walkthrough")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in _blocks("python"):  # the measurement's file, then the study's
        exec(compile(block, str(PAGE), "exec"), module.__dict__)
    return module


def test_the_walkthrough_study_is_registered_with_a_command(walked_through, capsys):
    assert "nn_ratio" in registry.STUDIES
    assert cli.main(["nn-ratio", "--data.dim", "8", "--measure.n-bootstrap", "20", "--json", "--quiet"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["quantity"] == "nn_ratio" and row["P"] == 55
    assert 0 < row["value"] < 1 and 0 < row["stderr"] < 0.1  # neighbours are closer than independent points


def test_the_walkthrough_experiment_runs(walked_through, tmp_path, capsys):
    (toml,) = _blocks("toml")
    path = tmp_path / "nn_ratio.toml"
    path.write_text(toml)
    assert cli.main(["run", str(path), "--scale", "quick", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    table = read_table(tmp_path / "out" / "table.csv")
    assert sorted({(int(r["dim"]), int(r["seed"])) for r in table.rows}) == [(6, 0), (6, 1), (8, 0), (8, 1)]
