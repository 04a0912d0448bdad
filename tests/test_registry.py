"""One registry (issue 19): a study registers itself once, in its own module, and the commands, the
docs nav, the API entries of its page and ``diffsim figures`` all follow from it."""

from __future__ import annotations

import argparse
import importlib.util
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from diffsim import cli
from diffsim.commands.sweep import figure_experiments, figure_scripts
from diffsim.studies import STUDIES, register_study

ROOT = Path(__file__).resolve().parents[1]


def _leaf_parsers(parser):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
        return
    for child in subs[0].choices.values():
        yield from _leaf_parsers(child)


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_study_is_registered_in_its_own_module_and_nowhere_listed():
    init = (ROOT / "diffsim" / "studies" / "__init__.py").read_text()
    assert len(STUDIES) >= 15
    for name, study in STUDIES.items():
        source = (ROOT / Path(*study.module.split("."))).with_suffix(".py").read_text()
        assert f'@register_study("{name}"' in source, name
        assert f'"{name}"' not in init, f"{name} is listed in studies/__init__.py"
    assert "COMMAND_MODULES" not in (ROOT / "diffsim" / "cli.py").read_text()


def test_every_study_has_a_command():
    commanded = {p.get_default("study_command").config_type for p in _leaf_parsers(cli.build_parser())
                 if p.get_default("study_command")}
    assert [n for n, s in STUDIES.items() if s.config_type not in commanded] == []


def test_every_study_page_is_in_the_docs_nav_with_its_api_entries():
    nav = [path for item in _hooks().study_pages() for path in item.values()]
    for name, study in STUDIES.items():
        assert f"studies/{study.page}.md" in nav, name
        page = (ROOT / "docs" / "studies" / f"{study.page}.md").read_text()
        assert f"::: {study.module}.{study.config_type.__name__}" in page, (name, study.page)
        assert f"::: {study.module}.{study.run.__name__}" in page, (name, study.page)
        assert f'study = "{name}"' in page, (name, study.page)


def test_diffsim_figures_draws_every_study():
    drawn = set()
    for script in figure_scripts(ROOT / "paper_figures").values():
        for experiment in figure_experiments(script):
            drawn.add(tomllib.loads((ROOT / "experiments" / f"{experiment}.toml").read_text())["study"])
    assert sorted(set(STUDIES) - drawn) == []


@dataclass(frozen=True)
class _TinyConfig:
    """A study config made up for this test.

    Attributes:
        scale: a number the study doubles.
        seed: random seed.
    """

    scale: float = 1.5
    seed: int = 0

    def validate(self) -> "_TinyConfig":
        return self


@dataclass(frozen=True)
class _TinyResult:
    config: _TinyConfig

    def rows(self) -> list[dict]:
        return [{"quantity": "double", "value": 2 * self.config.scale}]


def test_a_new_study_gets_a_generated_command(monkeypatch, capsys):
    monkeypatch.setattr("diffsim.studies._registry.STUDIES", dict(STUDIES))
    import diffsim.studies._registry as registry

    @register_study("tiny_made_up", _TinyConfig, description="a study made up for the test")
    def run_tiny(config, key=None, *, progress=None):
        return _TinyResult(config)

    assert registry.STUDIES["tiny_made_up"].run is run_tiny
    monkeypatch.setattr("diffsim.studies.STUDIES", registry.STUDIES)
    assert cli.main(["tiny-made-up", "--scale", "4", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == [{"quantity": "double", "value": 8.0}]
    with pytest.raises(ValueError, match="registered twice"):
        register_study("tiny_made_up", _TinyConfig, description="again")(lambda config, key=None, *, progress=None: None)
