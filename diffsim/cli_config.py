"""The study commands' options, generated from the study config dataclasses.

A study config (one frozen dataclass per study, one config = one point, built from shared parts:
:mod:`diffsim.specs`) is the single source of a command's options: every settable value becomes a
dotted option named by its path (``--data.dim``, ``--measure.n-trajectories``, ``--train.steps``)
with the field's type, its default, its help text (the ``Attributes:`` section of the part's
docstring, which the API reference renders too) and, for ``Literal`` fields, its choices. A command
names the paths it loops over (``vary``: the option takes a comma-separated list and the command
runs one config per value, or per combination when several paths vary) with the lists' defaults.
Nothing else is written by hand, so the options cannot drift from the configs: a field added to a
part is a new option of every command whose config holds that part. The same paths are TOML keys
(``[params.data] dim = 20``) and overrides (``data.dim=20``).

We generate argparse options ourselves rather than use tyro: argparse's usage errors are already
one line with exit code 2 (:class:`~diffsim.cli_util.OneLineParser`), the commands keep their
``--option value`` form with comma lists, and the range checks stay in each config's ``validate()``
(one message naming the parameter and its range, the same from the CLI, TOML and Python).
"""

from __future__ import annotations

import argparse
import itertools
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from diffsim import specs
from diffsim._validate import ConfigError
from diffsim.progress import Progress

__all__ = ["StudyCommand", "add_study_parser", "configs_from_args", "run_points", "field_docs", "option_name", "reference"]



def field_docs(config_type: type) -> dict[str, str]:
    """Field name -> help text, from the ``Attributes:`` section of the class docstring."""
    return specs.doc_entries(config_type.__doc__)


@dataclass(frozen=True)
class StudyCommand:
    """How a command exposes a study config.

    Attributes:
        name: the command's name (``diffsim NAME``).
        config_type: the study's config dataclass.
        help: one line for ``diffsim --help``.
        vary: paths the command loops over, with the command's default list of values
            (``{"data.dim": (16, 20, 24, 28)}``); the option takes a comma-separated list.
        hidden: paths not offered on this command (set by the command itself).
        increasing: varied paths whose values must be given in increasing order (the sweeps over
            N and P that tables and extrapolations read in order).
    """

    name: str
    config_type: type
    help: str
    vary: dict = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    increasing: tuple[str, ...] = ("data.dim", "data.n_train", "dim", "n_train")

    def leaves(self) -> list[specs.Leaf]:
        """The settable values of the config offered as options (all but ``hidden``)."""
        return [leaf for leaf in specs.leaves(self.config_type) if leaf.path not in self.hidden]


def option_name(path: str) -> str:
    """``measure.n_trajectories`` -> ``--measure.n-trajectories``."""
    return "--" + path.replace("_", "-")


def _optional(hint) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return True, args[0]
    return False, hint


def _scalar_parser(hint, option: str):
    """A string -> value converter for a scalar annotation, with a one-line error naming the option."""
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        kind = type(choices[0])
        return kind, choices
    names = {int: "an integer", float: "a number", str: "a string"}
    if hint not in names:
        raise TypeError(f"{option}: no command-line form for the annotation {hint!r}")

    def convert(text: str):
        try:
            return hint(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {names[hint]}") from None

    convert.__name__ = hint.__name__
    return convert, None


def _list_parser(item, option: str, *, length: int | None = None):
    convert, choices = _scalar_parser(item, option)

    def parse(text: str) -> tuple:
        items = [x.strip() for x in str(text).split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} is empty: expected a comma-separated list")
        if length is not None and len(items) != length:
            raise argparse.ArgumentTypeError(f"{text!r} has {len(items)} values: expected {length}, comma-separated")
        values = []
        for x in items:
            value = convert(x)
            if choices is not None and value not in choices:
                raise argparse.ArgumentTypeError(f"{x!r} is not one of {', '.join(map(str, choices))}")
            values.append(value)
        return tuple(values)

    return parse, choices


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple):
        if len(value) > 8 and all(isinstance(v, (int, float)) for v in value):
            return f"{len(value)} values from {_shown(min(value))} to {_shown(max(value))}"
        return ",".join(_shown(v) for v in value) if value else "()"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _add_field(parser, command: StudyCommand, leaf: specs.Leaf) -> None:
    option = option_name(leaf.path)
    default, doc = leaf.default, leaf.doc
    optional, hint = _optional(leaf.hint)
    kwargs: dict[str, Any] = {"dest": leaf.path}
    varied = leaf.path in command.vary
    if varied:
        default = tuple(command.vary[leaf.path])
        kwargs["type"], choices = _list_parser(hint, option)
        kwargs["metavar"] = leaf.name.upper() + "[,...]"
        doc = (doc.rstrip(".") + "; " if doc else "") + "comma-separated: one run per value"
    elif hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        choices = None
    elif typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            kwargs["type"], choices = _list_parser(args[0], option)
        elif args and all(a == args[0] for a in args):
            kwargs["type"], choices = _list_parser(args[0], option, length=len(args))
        else:
            raise TypeError(f"{option}: no command-line form for the annotation {hint!r}")
        kwargs["metavar"] = "V[,...]" if not choices else "{" + ",".join(map(str, choices)) + "}[,...]"
    else:
        convert, choices = _scalar_parser(hint, option)
        if optional:
            def or_none(text: str, convert=convert):
                return None if text.strip().lower() == "none" else convert(text)

            or_none.__name__ = getattr(convert, "__name__", "value")
            kwargs["type"] = or_none
        else:
            kwargs["type"] = convert
        if choices is not None:
            kwargs["choices"] = choices
            kwargs["metavar"] = "{" + ",".join(map(str, choices)) + "}"
    text = doc or leaf.name.replace("_", " ")
    if choices is not None and "choices" not in kwargs:
        text += f" (from {', '.join(map(str, choices))})"
    if optional and not varied:
        text += "; 'none' for none"
    kwargs["help"] = f"{text} [default: {_shown(default)}]".replace("%", "%%")
    kwargs["default"] = default
    parser.add_argument(option, **kwargs)


def add_study_parser(sub, command: StudyCommand, *, description: str | None = None) -> argparse.ArgumentParser:
    """Add ``command`` to the subparsers ``sub``, with one option per config field (in the config's
    order, under "study options"). Returns the parser, for the command's own options (``--figure``)."""
    parser = sub.add_parser(command.name, help=command.help, description=description or command.help)
    _COMMANDED.add(command.config_type)
    group = parser.add_argument_group(f"study options (the fields of {command.config_type.__name__}, by path)")
    for leaf in command.leaves():
        _add_field(group, command, leaf)
    parser.set_defaults(study_command=command)
    return parser


_COMMANDED: set[type] = set()  # the config types that have a command (add_study_parser)


def add_generated_commands(sub) -> None:
    """A command for every registered study that no command module declares: ``diffsim <name>``
    (underscores as dashes) with its config's options, running one point (or one per value of
    ``--seed``) and printing its rows as a table, or ``{"config", "rows"}`` with ``--json``."""
    from diffsim.cli_util import add_output_flags
    from diffsim.studies import STUDIES

    for study in STUDIES.values():
        if study.config_type in _COMMANDED:
            continue
        command = StudyCommand(study.name.replace("_", "-"), study.config_type, study.description)
        parser = add_study_parser(sub, command)
        add_output_flags(parser)
        parser.set_defaults(handler=_generated_handler(study.run))


def _generated_handler(run):
    def handler(args: argparse.Namespace) -> int:
        from diffsim.cli_util import emit
        from diffsim.specs import config_json

        results = run_points(args, run)
        rows = [row for r in results for row in r.rows()]
        payload = {"config": [config_json(r.config) for r in results], "rows": rows}
        columns = list(dict.fromkeys(k for row in rows for k in row))
        lines = ["\t".join(columns)] + ["\t".join(_shown(row.get(c)) for c in columns) for row in rows]
        emit(payload, "\n".join(lines), args.json)
        return 0

    return handler


def configs_from_args(args: argparse.Namespace, **fixed) -> list:
    """The validated configs of a parsed study command: one per combination of the varied fields'
    values (the first varied field outermost), every one validated before any runs. ``fixed``
    overrides fields (a command's own consequence of another option)."""
    command: StudyCommand = args.study_command
    values = {leaf.path: getattr(args, leaf.path) for leaf in command.leaves()}
    values.update(fixed)
    varied = [name for name in command.vary if name not in fixed]
    configs = []
    for combination in itertools.product(*(values[name] for name in varied)):
        point = {**values, **dict(zip(varied, combination))}
        configs.append(specs.build(command.config_type, point).validate())
    for name in varied:  # after each value's own range check
        shown = f"{name}={','.join(map(str, values[name]))}"
        if len(set(values[name])) != len(values[name]):
            raise ConfigError(f"{shown} repeats a value: give each value once")
        if name in command.increasing and list(values[name]) != sorted(values[name]):
            raise ConfigError(f"{shown} is out of order: expected increasing values")
    return configs


def point_label(command: StudyCommand, config) -> str:
    """``dim=20, alpha=0.1``: the varied values of one point (by their paths' last segment)."""
    return ", ".join(f"{name.rpartition('.')[2]}={specs.get_path(config, name)}" for name in command.vary) or command.name


def run_points(args: argparse.Namespace, run, *, configs=None, **fixed) -> list:
    """Validate every point of a parsed study command (:func:`configs_from_args`), then run
    ``run(config, progress=callback)`` on each, with the one progress display on stderr (nothing
    with ``--quiet``). Returns the results in order."""
    command: StudyCommand = args.study_command
    configs = configs_from_args(args, **fixed) if configs is None else configs
    display = Progress(command.name, len(configs), quiet=getattr(args, "quiet", False))
    results = []
    for config in configs:
        label = point_label(command, config)
        results.append(run(config, progress=None if display.quiet else display.within(label)))
        display.update(label)
    return results


def reference(parser: argparse.ArgumentParser) -> str:
    """The command-line reference in Markdown (``docs/cli.md``): every command with its options,
    their defaults and help, as ``--help`` shows them (same source: the configs)."""
    lines = ["# Command-line reference", "",
             "Generated from the study configs by `python -m diffsim.cli_config > docs/cli.md` (the suite checks",
             "it is current). Study options are the config fields by their dotted paths: the same paths in TOML",
             "experiments (`[params.data] dim = 20`, `[grid] data.dim = [...]`), in `diffsim run CONFIG",
             "data.dim=20` overrides and in Python (`specs.replace_path(config, \"data.dim\", 20)`). A varied",
             "option (`--data.dim 16,20,24`) runs one point per value.", ""]

    def walk(p, path):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if subs:
            for name, child in subs[0].choices.items():
                walk(child, (*path, name))
            return
        lines.extend([f"## `diffsim {' '.join(path)}`", "", (p.description or "").strip(), ""])
        lines.extend(["| option | default | meaning |", "|---|---|---|"])
        for action in p._actions:
            if not action.option_strings or action.dest == "help":
                continue
            names = ", ".join(f"`{s}`" for s in action.option_strings)
            text = (action.help or "").replace("%%", "%").replace("|", "\\|")
            default = ""
            if "[default: " in text:
                text, _, default = text.rpartition(" [default: ")
                default = f"`{default[:-1]}`"
            lines.append(f"| {names} | {default} | {text} |")
        positional = [a for a in p._actions if not a.option_strings and a.dest != "help"]
        for action in positional:
            lines.append(f"| `{action.metavar or action.dest}` (positional) | | {(action.help or '').replace('|', '/')} |")
        lines.append("")

    walk(parser, ())
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m diffsim.cli_config > docs/cli.md`
    from diffsim.cli import build_parser

    print(reference(build_parser()), end="")
