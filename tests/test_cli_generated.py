"""The study commands are generated from the study configs (diffsim.cli_config): every field is
an option, defaults and choices come from the config, nothing is written twice; one progress
display with --quiet on every command."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import io
import typing
from pathlib import Path

import pytest

from diffsim import cli, specs
from diffsim.cli_config import StudyCommand, configs_from_args, option_name
from diffsim.progress import Progress
from diffsim.studies import STUDIES

ROOT = Path(__file__).resolve().parents[1]


def _leaves(parser, path=()):
    """``(command path, parser)`` of every leaf command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaves(child, (*path, name))


PARSER = cli.build_parser()
LEAVES = dict(_leaves(PARSER))
STUDY_COMMANDS = {path: p.get_default("study_command") for path, p in LEAVES.items() if p.get_default("study_command")}


def _options(parser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def test_every_registered_study_has_a_generated_command():
    covered = {c.config_type for c in STUDY_COMMANDS.values()}
    missing = [name for name, s in STUDIES.items() if s.config_type not in covered]
    assert not missing, f"studies without a command: {missing}"


@pytest.mark.parametrize("path", sorted(STUDY_COMMANDS), ids=" ".join)
def test_every_config_field_is_an_option_with_its_default_and_help(path):
    command: StudyCommand = STUDY_COMMANDS[path]
    options = _options(LEAVES[path])
    for leaf in specs.leaves(command.config_type):
        if leaf.path in command.hidden:
            continue
        action = options.get(option_name(leaf.path))
        assert action is not None, f"{' '.join(path)}: field {leaf.path} has no option {option_name(leaf.path)}"
        assert action.dest == leaf.path
        assert "[default: " in action.help, action.help
        if leaf.path in command.vary:
            assert action.default == tuple(command.vary[leaf.path])
        else:
            assert action.default == leaf.default, (leaf.path, action.default, leaf.default)
        hint = leaf.hint
        if typing.get_origin(hint) is tuple:  # tuple[Literal[...], ...]: the items' choices
            hint = typing.get_args(hint)[0]
        if typing.get_origin(hint) is typing.Literal:
            choices = typing.get_args(hint)
            if action.choices is not None:
                assert tuple(action.choices) == choices
            else:  # a list option checks each item itself and names the choices in its help
                assert all(str(c) in action.help for c in choices), action.help


@pytest.mark.parametrize("path", sorted(STUDY_COMMANDS), ids=" ".join)
def test_a_command_with_no_options_runs_the_config_defaults(path):
    """One source of defaults: parsing only the varied fields, each set to the config's own
    default, gives exactly the config's default point (bar fields the command derives itself)."""
    command: StudyCommand = STUDY_COMMANDS[path]
    default = command.config_type()
    argv = list(path)
    for name in command.vary:
        argv += [option_name(name), str(specs.get_path(default, name))]
    args = cli.parse_args(PARSER, argv)
    built = specs.build(command.config_type, {
        leaf.path: getattr(args, leaf.path) if leaf.path not in command.vary else specs.get_path(default, leaf.path)
        for leaf in specs.leaves(command.config_type) if leaf.path not in command.hidden})
    assert built == default
    if not command.hidden:
        assert configs_from_args(args) == [default.validate()]


def test_options_parse_every_kind_of_field():
    args = cli.parse_args(PARSER, [
        "traps", "--data.dim", "20,30", "--measure.times", "0.5,0.9", "--no-measure.basin", "--measure.attraction",
        "--data.model", "hmm", "--data.nonlinearity", "tanh", "--data.alpha", "0.15", "--measure.n-bisect", "7",
        "--measure.tol", "1e-4",
    ])
    configs = configs_from_args(args)
    assert [c.data.dim for c in configs] == [20, 30]
    c, m = configs[0], configs[0].measure
    assert (m.times, m.basin, m.attraction, m.traps, c.data.model, c.data.nonlinearity, c.data.alpha, m.n_bisect,
            m.tol) == ((0.5, 0.9), False, True, True, "hmm", "tanh", 0.15, 7, 1e-4)
    args = cli.parse_args(PARSER, ["collapse", "--measure.clone-window", "0.5,1.5", "--measure.estimators", "clones,entropy",
                                   "--data.dim", "12"])
    (c,) = configs_from_args(args)
    assert c.measure.clone_window == (0.5, 1.5) and c.measure.estimators == ("clones", "entropy")
    args = cli.parse_args(PARSER, ["denoiser", "--measure.checkpoint-dir", "none"])
    assert configs_from_args(args)[0].measure.checkpoint_dir is None


def test_varied_fields_make_one_point_per_combination_in_order():
    args = cli.parse_args(PARSER, ["hmm-collapse", "--data.alpha", "0.1,0.12", "--data.nonlinearity", "linear,tanh",
                                   "--data.dim", "30,40"])
    configs = configs_from_args(args)
    assert [(c.data.alpha, c.data.nonlinearity, c.data.dim) for c in configs] == [
        (a, m, n) for a in (0.1, 0.12) for m in ("linear", "tanh") for n in (30, 40)]


@pytest.mark.parametrize("argv, needle", [
    (["collapse", "--measure.clone-window", "0.5"], "--measure.clone-window"),  # a pair needs two values
    (["collapse", "--measure.estimators", "clones,foo"], "foo"),
    (["traps", "--data.model", "cifar"], "data.model"),
    (["traps", "--data", "hmm"], "--data"),  # a part is no option: its fields are
    (["collapse", "--measure.n-steps", "1.5"], "--measure.n-steps"),
    (["collapse", "--data.dim", "20,16"], "out of order"),
])
def test_generated_options_refuse_bad_values_in_one_line(argv, needle, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and needle in err[0], err


def test_no_command_hand_writes_an_option_that_a_config_field_generates():
    """The commands add only their own options (--figure, ...), never a config field's."""
    generated = {option_name(leaf.path) for s in STUDIES.values() for leaf in specs.leaves(s.config_type)}
    own = {"--figure", "--out", "--scale", "--shard", "--resume", "--dry-run", "--results", "--gallery",
           "--experiments", "--scripts", "--rerun-stale", "--json", "--quiet", "--version"}
    for path in sorted((ROOT / "diffsim" / "commands").glob("*.py")):
        if path.name == "core.py":  # `theory collapse` is a closed form, not a study: its options are its own
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("--")]
                assert not set(names) & (generated - own), f"{path.name}:{node.lineno} hand-writes {names}"


def test_every_command_has_quiet():
    missing = [" ".join(path) for path, p in LEAVES.items() if "--quiet" not in _options(p)]
    assert not missing, missing


def test_quiet_silences_the_progress_display(capsys):
    """Every study command runs its points through ``run_points``, whose display ``--quiet`` silences."""
    from diffsim.cli_config import run_points

    def fake_run(config, progress=None):
        if progress is not None:
            progress("inside")
        return config.data.dim

    args = cli.parse_args(PARSER, ["rem", "--data.dim", "12,16"])
    assert run_points(args, fake_run) == [12, 16]
    loud = capsys.readouterr().err
    assert "dim=12: inside" in loud and "rem [" in loud and "2/2 points" in loud
    args = cli.parse_args(PARSER, ["rem", "--data.dim", "12,16", "--quiet"])
    assert run_points(args, fake_run) == [12, 16]
    assert capsys.readouterr().err == ""
    for path in sorted((ROOT / "diffsim" / "commands").glob("*.py")):
        source = path.read_text()
        if "add_study_parser" in source:
            handlers = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name.startswith("_")
                        and n.args.args and n.args.args[0].arg == "args" and "run_points" not in ast.unparse(n)
                        and not n.name.startswith("_theory")
                        and "emit(" in ast.unparse(n)]
            assert not handlers, f"{path.name}: {[h.name for h in handlers]} run without run_points"


def test_progress_counts_units_and_notes_inside_them():
    stream = io.StringIO()
    display = Progress("demo", 2, stream=stream)
    display.within("N=8")("half way")
    display.update("N=8")
    display.update("N=12")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("    N=8: half way")
    assert "1/2 points" in lines[1] and "N=8" in lines[1]
    assert "2/2 points" in lines[2] and "ETA      0s" in lines[2]
    quiet = io.StringIO()
    silent = Progress("demo", 2, stream=quiet, quiet=True)
    silent.within("x")("y")
    silent.update("z")
    assert quiet.getvalue() == "" and silent.done == 1


def test_the_command_line_reference_page_is_current():
    """docs/cli.md is generated from the same configs as --help (regenerate:
    ``python -m diffsim.cli_config > docs/cli.md``)."""
    from diffsim.cli_config import reference

    assert (ROOT / "docs" / "cli.md").read_text() == reference(PARSER), (
        "docs/cli.md is stale: run `python -m diffsim.cli_config > docs/cli.md`")
